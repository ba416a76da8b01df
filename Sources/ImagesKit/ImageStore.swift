import Foundation

/// What a store keeps about an image beyond its public record: its content's facts.
public struct StoredImage: Hashable, Sendable, Codable {
    /// The public record.
    public var image: Image
    /// The content's facts; `nil` until content is committed.
    public var content: ImageContent?
    /// When a `pending_upload` image's upload window closes.
    public var uploadDeadline: Date?
    /// The region the image's first copy goes to.
    public var homeRegion: String
    /// The format a `pending_upload` image will be kept in, by name, once its file arrives.
    public var uploadFormat: String?
    /// The uncompressed bytes a running manual capture holds against the account's storage
    /// quota until its content is committed; every process sharing the store counts them.
    public var claimedByteCount: UInt64?
    /// Whether a delete or expiry has begun removing the image; recovery finishes a removal a
    /// crash cut off.
    public var isBeingRemoved: Bool

    /// Creates a stored record.
    public init(
        image: Image, homeRegion: String, content: ImageContent? = nil, uploadDeadline: Date? = nil,
        uploadFormat: String? = nil, claimedByteCount: UInt64? = nil, isBeingRemoved: Bool = false
    ) {
        self.image = image
        self.homeRegion = homeRegion
        self.content = content
        self.uploadDeadline = uploadDeadline
        self.uploadFormat = uploadFormat
        self.claimedByteCount = claimedByteCount
        self.isBeingRemoved = isBeingRemoved
    }

    enum CodingKeys: String, CodingKey {
        case image, content
        case uploadDeadline = "upload_deadline"
        case homeRegion = "home_region"
        case uploadFormat = "upload_format"
        case claimedByteCount = "claimed_bytes"
        case isBeingRemoved = "removing"
    }

    /// Decodes a stored record.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        image = try container.decode(Image.self, forKey: .image)
        content = try container.decodeIfPresent(ImageContent.self, forKey: .content)
        homeRegion = try container.decode(String.self, forKey: .homeRegion)
        uploadDeadline = try container.decodeIfPresent(String.self, forKey: .uploadDeadline)
            .flatMap(APITimestamp.parse)
        uploadFormat = try container.decodeIfPresent(String.self, forKey: .uploadFormat)
        claimedByteCount = try container.decodeIfPresent(UInt64.self, forKey: .claimedByteCount)
        isBeingRemoved = try container.decodeIfPresent(Bool.self, forKey: .isBeingRemoved) ?? false
    }

    /// Encodes a stored record.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(image, forKey: .image)
        try container.encodeIfPresent(content, forKey: .content)
        try container.encode(homeRegion, forKey: .homeRegion)
        try container.encodeIfPresent(uploadDeadline.map(APITimestamp.format), forKey: .uploadDeadline)
        try container.encodeIfPresent(uploadFormat, forKey: .uploadFormat)
        try container.encodeIfPresent(claimedByteCount, forKey: .claimedByteCount)
        if isBeingRemoved { try container.encode(true, forKey: .isBeingRemoved) }
    }
}

extension StoredImage {
    /// Says how the record disagrees with itself, or with the id it was kept under: such a
    /// record was edited or copied over in the store and must not be trusted.
    ///
    /// - Parameter id: The id the record was kept under.
    /// - Returns: The disagreement in a few words, or `nil` for a consistent record.
    public func inconsistency(as id: ImageID) -> String? {
        guard image.id == id else { return "it holds the record of \(image.id)" }
        guard image.size >= 0 else { return "it holds a size of \(image.size) MB" }
        if let content, let seal = content.seal, seal != content.expectedSeal(for: id) {
            return "its content's facts no longer match their seal"
        }
        guard image.status == .available, let content else { return nil }
        guard image.size == Image.megabytes(content.uncompressedByteCount) else {
            return "its size \(image.size) MB disagrees with its content's \(content.uncompressedByteCount) bytes"
        }
        if let index = content.chunkIndex,
            let reason = index.mismatch(
                compressedByteCount: content.compressedByteCount, uncompressedByteCount: content.uncompressedByteCount)
        {
            return "its chunk index does not fit its content: \(reason)"
        }
        return nil
    }
}

/// The facts of an image's stored content.
public struct ImageContent: Hashable, Sendable, Codable {
    /// The compressed format the content is kept in, such as `gzip`.
    public var format: String
    /// The SHA-256 of the uncompressed image, in hexadecimal.
    public var sha256: String
    /// The uncompressed image's size in bytes.
    public var uncompressedByteCount: UInt64
    /// The stored, compressed size in bytes.
    public var compressedByteCount: UInt64
    /// What the image holds, such as `ext4`, or a description of other content.
    public var filesystem: String
    /// Whether the image holds an ext3 or ext4 filesystem that deploys can grow.
    public var isExtFilesystem: Bool
    /// The SHA-256 of the stored, compressed bytes, checked before a deploy erases a disk.
    public var storedSHA256: String?
    /// A SHA-256 over the other facts and the image's id, set when the content is committed, so
    /// that facts edited in the store are caught before a byte is read; `nil` in records made
    /// before facts were sealed.
    public var seal: String?
    /// Where the stream's independent chunks start, when it was written in chunks that decode
    /// on their own (see ``ChunkIndex``); `nil` for streams written in one piece, such as uploads.
    public var chunkIndex: ChunkIndex?

    /// Creates the content facts.
    public init(
        format: String, sha256: String, uncompressedByteCount: UInt64, compressedByteCount: UInt64,
        filesystem: String, isExtFilesystem: Bool, storedSHA256: String? = nil, chunkIndex: ChunkIndex? = nil
    ) {
        self.format = format
        self.sha256 = sha256
        self.uncompressedByteCount = uncompressedByteCount
        self.compressedByteCount = compressedByteCount
        self.filesystem = filesystem
        self.isExtFilesystem = isExtFilesystem
        self.storedSHA256 = storedSHA256
        self.chunkIndex = chunkIndex
    }

    enum CodingKeys: String, CodingKey {
        case format, sha256, filesystem
        case storedSHA256 = "stored_sha256"
        case uncompressedByteCount = "uncompressed_bytes"
        case compressedByteCount = "compressed_bytes"
        case isExtFilesystem = "is_ext_filesystem"
        case seal
        case chunkIndex = "chunk_index"
    }

    /// The seal these facts carry when nothing changed them since they were sealed for `id`.
    public func expectedSeal(for id: ImageID) -> String {
        let fields = [
            id.description, format, sha256, String(uncompressedByteCount), String(compressedByteCount), filesystem,
            isExtFilesystem ? "ext" : "other", storedSHA256 ?? "",
        ]
        let indexed = chunkIndex.map { fields + [Self.summary(of: $0)] } ?? fields
        let text = indexed.map { "\($0.utf8.count):\($0)" }.joined(separator: "\n")
        return SHA256Digest.hex(of: Array(text.utf8))
    }

    /// The index's numbers as one line of text, for the seal.
    private static func summary(of index: ChunkIndex) -> String {
        let sizes = index.compressedByteCounts.map(String.init).joined(separator: ",")
        return "chunks \(index.chunkByteCount) \(index.headerByteCount) \(index.trailerByteCount) \(sizes)"
    }

    /// These facts with their seal for image `id`.
    public func sealed(for id: ImageID) -> ImageContent {
        var sealed = self
        sealed.seal = expectedSeal(for: id)
        return sealed
    }
}

/// Keeps image records, their content and their events.
///
/// Content is written as a stream and becomes visible only when committed whole, together with
/// its record; it is read back as a stream from an offset. Every implementation passes the
/// shared contract suite in `ImagesKitStoreContract`.
public protocol ImageStore: Sendable {
    /// The region this store's copies live in, used when a request names none.
    var defaultRegion: String { get }

    /// Reserves the next image number; numbers are never handed out twice.
    ///
    /// - Returns: A positive number no image has had.
    /// - Throws: ``ImagesKitError`` with `store_failure`.
    func reserveImageNumber() async throws -> Int

    /// Creates or replaces a record without content.
    ///
    /// - Parameter record: The record to keep.
    /// - Throws: ``ImagesKitError`` with `store_failure`.
    func save(_ record: StoredImage) async throws

    /// Returns the record with the given id, or `nil`.
    ///
    /// - Throws: ``ImagesKitError`` with `store_failure`.
    func record(_ id: ImageID) async throws -> StoredImage?

    /// Returns every record, ordered by id.
    ///
    /// - Throws: ``ImagesKitError`` with `store_failure`.
    func records() async throws -> [StoredImage]

    /// Removes a record and its content; removing what is absent does nothing.
    ///
    /// - Throws: ``ImagesKitError`` with `store_failure`.
    func remove(_ id: ImageID) async throws

    /// Starts writing content for an image; nothing is visible until the writer commits.
    ///
    /// - Parameter id: The image the content belongs to.
    /// - Returns: A writer owned by the caller's task.
    /// - Throws: ``ImagesKitError`` with `store_failure`.
    func beginContent(for id: ImageID) async throws -> any ImageContentWriter

    /// Opens committed content for reading from `offset`.
    ///
    /// - Throws: ``ImagesKitError`` with `image_not_found` when no content is committed.
    func openContent(for id: ImageID, at offset: UInt64) async throws -> any ImageContentReader

    /// Appends an event to the store's log.
    ///
    /// - Throws: ``ImagesKitError`` with `store_failure`.
    func append(_ event: ImageEvent) async throws

    /// Returns every event, oldest first.
    ///
    /// - Throws: ``ImagesKitError`` with `store_failure`.
    func events() async throws -> [ImageEvent]

    /// Claims an image for one operation against every other process sharing the store, so two
    /// processes never capture, upload, change, replicate or remove the same image at once.
    ///
    /// A store that only one process uses needs no claims: the default grants every one.
    /// - Parameter id: The image.
    /// - Returns: The claim, to release when the operation ends; `nil` when another process
    ///   holds the image.
    /// - Throws: ``ImagesKitError`` with `store_failure`.
    func claim(_ id: ImageID) async throws -> (any ImageClaim)?

    /// Waits for and holds the store's admission lock, so that quota checks and the saves they
    /// allow happen one at a time across every process sharing the store.
    ///
    /// A store that only one process uses needs no such lock: the default grants it at once.
    /// - Returns: The lock, to release once the checked record is saved.
    /// - Throws: ``ImagesKitError`` with `store_failure`.
    func holdAdmission() async throws -> any ImageClaim
}

/// An image held for one operation; see ``ImageStore/claim(_:)``.
public protocol ImageClaim: AnyObject, Sendable {
    /// Lets other processes claim the image again; safe to call more than once.
    func release()

    /// Lets other processes claim the image again and returns once they can, so that a process
    /// about to exit leaves no claim behind; safe to call more than once.
    func finish() async
}

extension ImageClaim {
    /// Releases the claim: for claims whose release takes effect at once.
    public func finish() async {
        release()
    }
}

/// Runs `body` while holding `claim`, then finishes the claim, whether `body` succeeded or not.
func holding<Result>(_ claim: any ImageClaim, _ body: () async throws -> Result) async throws -> Result {
    let result: Result
    do {
        result = try await body()
    } catch {
        await claim.finish()
        throw error
    }
    await claim.finish()
    return result
}

extension ImageStore {
    /// Grants every claim: for stores that only one process uses.
    public func claim(_ id: ImageID) throws -> (any ImageClaim)? {
        UnsharedClaim()
    }

    /// Grants the admission lock at once: for stores that only one process uses.
    public func holdAdmission() async throws -> any ImageClaim {
        UnsharedClaim()
    }
}

/// The claim of a store no other process uses: holds nothing.
final class UnsharedClaim: ImageClaim {
    func release() {}
}

/// Writes one image's content; owned by one task.
public protocol ImageContentWriter: AnyObject {
    /// Bytes written so far.
    var byteCount: UInt64 { get }

    /// Appends bytes to the content.
    ///
    /// - Throws: ``ImagesKitError`` with `store_failure` (for example when the disk is full).
    func write(_ bytes: [UInt8]) async throws

    /// Makes the content and `record` visible together.
    ///
    /// - Parameter record: The record to keep with the content.
    /// - Throws: ``ImagesKitError`` with `store_failure`; nothing is visible after a failure.
    func commit(_ record: StoredImage) async throws

    /// Discards what was written; safe to call more than once and after a failed commit.
    func abort() async
}

/// Reads one image's committed content; owned by one task.
public protocol ImageContentReader: AnyObject {
    /// The content's total size in bytes.
    var byteCount: UInt64 { get }

    /// Reads the next bytes; an empty array means the end.
    ///
    /// - Parameter maxLength: The most bytes to return.
    /// - Throws: ``ImagesKitError`` with `store_failure`.
    func read(maxLength: Int) async throws -> [UInt8]

    /// Releases the reader; safe to call more than once.
    func close() async
}
