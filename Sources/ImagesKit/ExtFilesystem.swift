/// An ext2, ext3 or ext4 filesystem found at the start of a disk, described by its superblock.
///
/// Every field was range-checked when the superblock was read, so the geometry can be trusted
/// for arithmetic; the group descriptors are checked later, as they are read.
public struct ExtFilesystem: Sendable, Equatable {
    /// The generation of the ext family a filesystem belongs to, judged by its features.
    public enum Kind: String, Sendable {
        /// No journal and no ext4 feature.
        case ext2
        /// A journal, and no ext4 feature.
        case ext3
        /// At least one feature only ext4 knows, such as extents, flex_bg or metadata_csum.
        case ext4
    }

    /// Which generation the filesystem is.
    public let kind: Kind

    /// The volume label (`s_volume_name`), or nil when it is empty.
    public let label: String?

    /// The size of one block in bytes: 1 KiB to 64 KiB.
    public let blockSize: Int

    /// The size of one allocation cluster in bytes; equal to ``blockSize`` unless ``isBigalloc``.
    public let clusterSize: Int

    /// The number of blocks the filesystem spans.
    public let blockCount: UInt64

    /// The number of free blocks the superblock records.
    public let freeBlockCount: UInt64

    /// The bytes the filesystem spans: ``blockCount`` times ``blockSize``.
    public let byteCount: UInt64

    /// The bytes in use as the superblock records them: (``blockCount`` − ``freeBlockCount``) × ``blockSize``.
    public let usedByteCount: UInt64

    /// Whether blocks are allocated in clusters of several blocks (the bigalloc feature).
    public let isBigalloc: Bool

    /// The enabled features, spelled as `dumpe2fs` spells them (`has_journal`, `extent`, `64bit`).
    ///
    /// A feature bit without a known name reads like `FEATURE_I20`.
    public let featureNames: [String]

    /// The geometry that locates the group descriptors, bitmaps and inode tables.
    let layout: ExtLayout

    /// `s_state`: bit 0 set when cleanly unmounted, bit 1 set when errors were detected.
    let state: UInt16

    /// Reads the superblock at byte 1024 of `prefix`.
    ///
    /// - Parameter prefix: The first bytes of a disk; at least 2048.
    /// - Returns: Nil when the bytes carry no ext magic number, or belong to an external journal.
    /// - Throws: ``ImagesKitError`` with `damaged_filesystem` when the magic is there but a field is
    ///   out of range or the checksum fails.
    static func read(fromPrefix prefix: [UInt8]) throws -> ExtFilesystem? {
        guard let fields = ExtSuperblock(prefix: prefix), !fields.isExternalJournal else {
            return nil
        }

        if fields.features.contains(.metadataChecksums) {
            guard fields.checksumType == 1, ExtChecksums.superblockMatches(fields) else {
                throw ExtLayout.damage("the superblock's checksum does not match its contents")
            }
        }
        return try ExtFilesystem(fields)
    }

    private init(_ superblock: ExtSuperblock) throws {
        let layout = try ExtLayout(superblock)
        self.layout = layout
        kind = Self.kind(of: layout.features)
        label = superblock.volumeName
        blockSize = Int(layout.blockSize)
        clusterSize = Int(layout.blockSize * layout.clusterRatio)
        blockCount = layout.blockCount
        freeBlockCount = try Self.freeBlockCount(superblock, layout: layout)
        byteCount = layout.blockCount * layout.blockSize
        usedByteCount = (blockCount - freeBlockCount) * layout.blockSize
        isBigalloc = layout.features.contains(.bigalloc)
        featureNames = layout.features.names
        state = superblock.state
    }

    private static func freeBlockCount(_ superblock: ExtSuperblock, layout: ExtLayout) throws -> UInt64 {
        let high = layout.features.contains(.is64Bit) ? UInt64(superblock.freeBlockCountHigh) << 32 : 0
        let count = high | UInt64(superblock.freeBlockCountLow)
        guard count <= layout.blockCount else {
            throw ExtLayout.damage("the superblock counts \(count) free blocks of only \(layout.blockCount)")
        }
        return count
    }

    private static func kind(of features: ExtFeatures) -> Kind {
        if features.hasExt4OnlyFeature { return .ext4 }
        return features.contains(.hasJournal) ? .ext3 : .ext2
    }
}

extension ExtFilesystem {
    /// Why the on-disk bitmaps can't be trusted yet, or nil when the filesystem is clean.
    var uncleanReason: String? {
        if layout.features.contains(.needsRecovery) {
            return "its journal holds changes not yet written to the filesystem "
                + "(it is mounted, or was not cleanly unmounted)"
        }
        if state & 0x0002 != 0 { return "the kernel recorded errors in it" }
        if state & 0x0001 == 0 { return "it is mounted or was not cleanly unmounted" }
        return nil
    }

    /// Names of incompatible features whose on-disk layout ImagesKit does not know.
    var unknownIncompatibleFeatureNames: [String] {
        layout.features.unknownIncompatibleNames
    }
}

/// The superblock's raw fields, read little-endian from its 1024 bytes.
struct ExtSuperblock {
    /// Where the superblock starts on the disk.
    static let offset = 1024
    /// How many bytes the superblock occupies.
    static let size = 1024
    /// `s_magic` of every ext2/3/4 filesystem.
    static let magic: UInt16 = 0xEF53

    let bytes: [UInt8]

    init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// Reads the superblock from a disk's first bytes; nil when they end first or lack the magic.
    init?(prefix: [UInt8]) {
        guard prefix.count >= Self.offset + Self.size else { return nil }

        self.init(bytes: Array(prefix[Self.offset..<Self.offset + Self.size]))
        guard magic == Self.magic else { return nil }
    }

    /// Whether this is the superblock of an external journal device, which holds no files.
    var isExternalJournal: Bool {
        features.contains(.journalDevice)
    }

    var inodeCount: UInt32 { ProbeBytes.uint32(bytes, at: 0x00) }
    var blockCountLow: UInt32 { ProbeBytes.uint32(bytes, at: 0x04) }
    var freeBlockCountLow: UInt32 { ProbeBytes.uint32(bytes, at: 0x0C) }
    var firstDataBlock: UInt32 { ProbeBytes.uint32(bytes, at: 0x14) }
    var logBlockSize: UInt32 { ProbeBytes.uint32(bytes, at: 0x18) }
    var logClusterSize: UInt32 { ProbeBytes.uint32(bytes, at: 0x1C) }
    var blocksPerGroup: UInt32 { ProbeBytes.uint32(bytes, at: 0x20) }
    var clustersPerGroup: UInt32 { ProbeBytes.uint32(bytes, at: 0x24) }
    var inodesPerGroup: UInt32 { ProbeBytes.uint32(bytes, at: 0x28) }
    var magic: UInt16 { ProbeBytes.uint16(bytes, at: 0x38) }
    var state: UInt16 { ProbeBytes.uint16(bytes, at: 0x3A) }
    var revisionLevel: UInt32 { ProbeBytes.uint32(bytes, at: 0x4C) }
    var inodeSize: UInt16 { ProbeBytes.uint16(bytes, at: 0x58) }
    var compatibleFeatures: UInt32 { ProbeBytes.uint32(bytes, at: 0x5C) }
    var incompatibleFeatures: UInt32 { ProbeBytes.uint32(bytes, at: 0x60) }
    var readOnlyCompatibleFeatures: UInt32 { ProbeBytes.uint32(bytes, at: 0x64) }
    var reservedDescriptorBlocks: UInt16 { ProbeBytes.uint16(bytes, at: 0xCE) }
    var descriptorSize: UInt16 { ProbeBytes.uint16(bytes, at: 0xFE) }
    var firstMetaGroup: UInt32 { ProbeBytes.uint32(bytes, at: 0x104) }
    var checksumType: UInt8 { bytes[0x175] }
    var blockCountHigh: UInt32 { ProbeBytes.uint32(bytes, at: 0x150) }
    var freeBlockCountHigh: UInt32 { ProbeBytes.uint32(bytes, at: 0x158) }
    var backupGroups: (UInt32, UInt32) { (ProbeBytes.uint32(bytes, at: 0x24C), ProbeBytes.uint32(bytes, at: 0x250)) }

    /// `s_volume_name` up to its first NUL, or nil when empty.
    var volumeName: String? {
        let name = bytes[0x78..<0x88].prefix { $0 != 0 }
        return name.isEmpty ? nil : String(decoding: name, as: UTF8.self)
    }

    /// The features as the three masks say, ignored on revision 0 filesystems that predate them.
    var features: ExtFeatures {
        guard revisionLevel > 0 else { return ExtFeatures(compatible: 0, incompatible: 0, readOnly: 0) }
        return ExtFeatures(
            compatible: compatibleFeatures, incompatible: incompatibleFeatures,
            readOnly: readOnlyCompatibleFeatures)
    }
}

/// Little-endian reads from bytes whose length the caller has already checked.
enum ProbeBytes {
    /// The 16-bit value at `offset`; two bytes must be there.
    static func uint16(_ bytes: [UInt8], at offset: Int) -> UInt16 {
        UInt16(bytes[offset]) | UInt16(bytes[offset + 1]) << 8
    }

    /// The 32-bit value at `offset`; four bytes must be there.
    static func uint32(_ bytes: [UInt8], at offset: Int) -> UInt32 {
        UInt32(uint16(bytes, at: offset)) | UInt32(uint16(bytes, at: offset + 2)) << 16
    }

    /// Whether `bytes` holds `signature` at `offset`; false when `bytes` ends first.
    static func matches(_ bytes: [UInt8], _ signature: [UInt8], at offset: Int) -> Bool {
        guard offset >= 0, bytes.count - offset >= signature.count else { return false }
        return bytes[offset..<offset + signature.count].elementsEqual(signature)
    }

    /// Whether `bytes` holds the ASCII `text` at `offset`.
    static func matches(_ bytes: [UInt8], _ text: String, at offset: Int) -> Bool {
        matches(bytes, Array(text.utf8), at: offset)
    }
}
