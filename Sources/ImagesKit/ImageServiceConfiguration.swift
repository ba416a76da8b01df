import Foundation

/// The limits one account's images are held to; the defaults are the product's, and an
/// application raises them per account by giving that account's service other values.
///
/// Recovery images count toward none of them.
public struct ImageLimits: Hashable, Sendable {
    /// The most uncompressed bytes one image may hold (6 GB).
    public var imageBytes: UInt64
    /// The most compressed bytes one upload file may hold (5 GiB).
    public var uploadBytes: UInt64
    /// The most manual images the account may keep, including those being made (25).
    public var manualImageCount: Int
    /// The most uncompressed bytes the account's manual images may hold, each copy in a
    /// region counted (150 GB).
    public var manualImageBytes: UInt64

    /// Creates limits, by default the product's.
    public init(
        imageBytes: UInt64 = 6_000_000_000, uploadBytes: UInt64 = 5 << 30, manualImageCount: Int = 25,
        manualImageBytes: UInt64 = 150_000_000_000
    ) {
        self.imageBytes = imageBytes
        self.uploadBytes = uploadBytes
        self.manualImageCount = manualImageCount
        self.manualImageBytes = manualImageBytes
    }
}

/// When a deleted server's disks are kept as recovery images, and for how long.
public struct RecoveryPolicy: Hashable, Sendable {
    /// The shortest time a server must have been active for its disks to be kept (12 hours).
    public var minimumActiveTime: TimeInterval
    /// The longest a recovery image is kept (7 days).
    public var maximumRetention: TimeInterval

    /// Creates a policy, by default the product's.
    public init(minimumActiveTime: TimeInterval = 12 * 3600, maximumRetention: TimeInterval = 7 * 24 * 3600) {
        self.minimumActiveTime = minimumActiveTime
        self.maximumRetention = maximumRetention
    }
}

/// How the service works: the account, its limits, compression level, scratch space, tools.
public struct ImageServiceConfiguration: Sendable {
    /// The account whose images the service keeps; usage records and invoices carry it.
    public var account = "default"
    /// The limits enforced on captures, uploads and replications.
    public var limits = ImageLimits()
    /// When deleted servers leave recovery images.
    public var recovery = RecoveryPolicy()
    /// The compression level captures (and uploads or exports compressed again) use, 1 to 9.
    public var compressionLevel = 6
    /// The formats uploads are accepted in, by name; gzip, as the product requires. Adding
    /// `xz` accepts `.img.xz` uploads when the service has an xz codec.
    public var uploadFormats: Set<String> = ["gzip"]
    /// How long a `pending_upload` image waits for its file.
    public var uploadWindow: TimeInterval = 24 * 3600
    /// Where captures stage their working copy of a filesystem.
    public var scratchDirectory: String = NSTemporaryDirectory()
    /// The e2fsprogs tools used to check, shrink and grow filesystems.
    public var e2fsprogs = E2fsprogs()
    /// The size of the pieces data moves in, in bytes.
    public var chunkSize = 1 << 20

    /// Creates the default configuration.
    public init() {}
}
