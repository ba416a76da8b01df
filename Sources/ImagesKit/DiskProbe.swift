/// What the start of a disk, or of an uploaded raw image, holds.
public enum DiskContent: Sendable, Equatable {
    /// An ext2, ext3 or ext4 filesystem whose superblock is valid.
    case ext(ExtFilesystem)
    /// A partition table, named for messages: `an MBR partition table`, `a GPT partition table`.
    case partitionTable(String)
    /// Another filesystem or volume format, named for messages: `xfs`, `btrfs`, `swap space`,
    /// `an LVM physical volume`, `a LUKS volume`, `vfat`, `iso9660`.
    case otherFilesystem(String)
    /// Compressed data, an archive or a virtual-machine image container, named for messages:
    /// `gzip-compressed data`, `a qcow2 image`, `a VMDK image`.
    case compressed(String)
    /// Nothing ImagesKit recognises, including a disk whose start is all zeros.
    case unknown
}

/// Tells what a disk holds and finds the ext3/ext4 filesystem a capture can copy.
public enum DiskProbe {
    /// How many bytes from the start of a disk the probe looks at: enough to reach the btrfs
    /// superblock at 64 KiB.
    public static let prefixByteCount = 0x11000

    /// Identifies what the start of `disk` holds.
    ///
    /// An ext superblock whose fields are out of range is not reported as ext; other signatures
    /// are looked for instead.
    ///
    /// - Parameter disk: The disk to look at; at most ``prefixByteCount`` bytes are read.
    /// - Returns: What the disk holds.
    /// - Throws: ``ImagesKitError`` with `io_failure` when the disk can't be read.
    public static func identify(_ disk: some DiskSource) throws -> DiskContent {
        try probe(disk).content
    }

    /// Identifies what a stream holds from its first bytes, as for an upload.
    ///
    /// - Parameter prefix: The stream's first bytes: ``prefixByteCount`` when the stream is that
    ///   long, and at least 64 KiB to tell most formats apart.
    /// - Returns: What the bytes hold; an ext filesystem is described by its superblock alone.
    public static func identify(prefix: [UInt8]) -> DiskContent {
        DiskProbeResult(prefix: prefix).content
    }

    /// Names what a stream's first bytes hold, in a phrase for messages.
    ///
    /// - Parameter prefix: The stream's first bytes, as many as are at hand.
    /// - Returns: A phrase such as `a qcow2 image`, `ext4`, `an ext2/3/4 superblock that is not
    ///   valid`, `zero bytes, like an uncompressed raw disk`, or `data starting with 51 46 49 fb`.
    public static func describe(prefix: [UInt8]) -> String {
        let result = DiskProbeResult(prefix: prefix)
        switch result.content {
        case .ext(let filesystem):
            return "an uncompressed \(filesystem.kind.rawValue) filesystem"
        case .partitionTable(let name), .otherFilesystem(let name), .compressed(let name):
            return name
        case .unknown where result.extDamage != nil:
            return "an uncompressed ext2/3/4 superblock that is not valid"
        case .unknown where !prefix.isEmpty && result.isBlank:
            return "zero bytes, like an uncompressed raw disk"
        case .unknown:
            let hex = prefix.prefix(8).map { String($0, radix: 16) }.map { $0.count == 1 ? "0" + $0 : $0 }
            return "data starting with \(hex.joined(separator: " "))"
        }
    }

    /// Finds the ext3 or ext4 filesystem that a capture copies, refusing every other content.
    ///
    /// Reads the superblock and every group descriptor, checks their checksums and that they lie
    /// inside the disk, and checks that the filesystem was cleanly unmounted, since only then do
    /// its block bitmaps say which blocks are in use.
    ///
    /// - Parameter disk: The disk to capture.
    /// - Returns: The filesystem, ready for ``ExtFilesystem/forEachUsedRange(on:_:)``.
    /// - Throws: ``ImagesKitError`` with `unsupported_filesystem` naming what the disk holds instead
    ///   (ext2, xfs, swap space, no filesystem), `partitioned_disk` naming the partition table,
    ///   `damaged_filesystem` when the superblock or a descriptor is out of range or fails its
    ///   checksum, the filesystem is larger than the disk, or its journal still needs replaying or
    ///   errors were recorded (run e2fsck), or `io_failure`.
    public static func capturableFilesystem(on disk: some DiskSource) throws -> ExtFilesystem {
        let result = try probe(disk)
        switch result.content {
        case .ext(let filesystem):
            try checkCapturable(filesystem, on: disk)
            return filesystem
        case .partitionTable(let table):
            throw ImagesKitError(
                .partitionedDisk,
                "the disk \(disk.name) holds \(table); capture an unpartitioned disk whose filesystem starts at byte 0",
                context: ["disk": disk.name, "found": table])
        case .unknown:
            if let damage = result.extDamage { throw damage.adding(context: ["disk": disk.name]) }
            throw refusal(of: result.isBlank ? "no filesystem" : "no filesystem ImagesKit recognises", on: disk)
        case .otherFilesystem(let name), .compressed(let name):
            throw refusal(of: name, on: disk)
        }
    }

    private static func probe(_ disk: some DiskSource) throws -> DiskProbeResult {
        let count = Int(min(disk.byteCount, UInt64(prefixByteCount)))
        return DiskProbeResult(prefix: try disk.readBytes(count: count, at: 0))
    }

    private static func checkCapturable(_ filesystem: ExtFilesystem, on disk: some DiskSource) throws {
        guard filesystem.kind != .ext2 else { throw refusal(of: "ext2", on: disk) }
        try checkKnownFeatures(of: filesystem, on: disk)
        try checkClean(filesystem, on: disk)

        do {
            try filesystem.layout.checkFits(on: disk)
            try filesystem.layout.validateDescriptors(on: disk)
        } catch let error as ImagesKitError where error.code == .damagedFilesystem {
            throw error.adding(context: ["disk": disk.name])
        }
    }

    private static func checkKnownFeatures(of filesystem: ExtFilesystem, on disk: some DiskSource) throws {
        let unknown = filesystem.unknownIncompatibleFeatureNames
        guard unknown.isEmpty else {
            throw ImagesKitError(
                .unsupportedFilesystem,
                "the \(filesystem.kind) filesystem on disk \(disk.name) uses features ImagesKit can't read "
                    + "(\(unknown.joined(separator: ", "))); turn them off with tune2fs or capture another disk",
                context: ["disk": disk.name, "features": unknown.joined(separator: " ")])
        }
    }

    /// Refuses a filesystem whose bitmaps may lag behind its journal or hide errors.
    private static func checkClean(_ filesystem: ExtFilesystem, on disk: some DiskSource) throws {
        guard let reason = filesystem.uncleanReason else { return }

        throw ImagesKitError(
            .damagedFilesystem,
            "the filesystem on disk \(disk.name) can't be captured as it is: \(reason); "
                + "run e2fsck -f on the disk while it is not mounted, then try again",
            context: ["disk": disk.name])
    }

    private static func refusal(of found: String, on disk: some DiskSource) -> ImagesKitError {
        ImagesKitError(
            .unsupportedFilesystem,
            "the disk \(disk.name) holds \(found); only ext3 and ext4 can be captured",
            context: ["disk": disk.name, "found": found])
    }
}

/// What the probe made of a disk's first bytes.
struct DiskProbeResult {
    /// The content reported to callers.
    let content: DiskContent
    /// Why an ext magic number was there but its superblock was refused, when that happened.
    let extDamage: ImagesKitError?
    /// Whether every byte looked at is zero.
    let isBlank: Bool

    init(prefix: [UInt8]) {
        if let superblock = ExtSuperblock(prefix: prefix), superblock.isExternalJournal {
            self.init(content: .otherFilesystem("an ext3/ext4 external journal"))
            return
        }

        do {
            if let filesystem = try ExtFilesystem.read(fromPrefix: prefix) {
                self.init(content: .ext(filesystem))
                return
            }
            self.init(content: DiskSignatures.content(of: prefix), isBlank: prefix.allSatisfy { $0 == 0 })
        } catch {
            let damage = error as? ImagesKitError
            self.init(content: DiskSignatures.content(of: prefix), extDamage: damage, isBlank: false)
        }
    }

    private init(content: DiskContent, extDamage: ImagesKitError? = nil, isBlank: Bool = false) {
        self.content = content
        self.extDamage = extDamage
        self.isBlank = isBlank
    }
}

extension ImagesKitError {
    /// The same error with more facts in its context; existing facts win.
    fileprivate func adding(context more: [String: String]) -> ImagesKitError {
        ImagesKitError(code, message, cause: cause, context: context.merging(more) { existing, _ in existing })
    }
}
