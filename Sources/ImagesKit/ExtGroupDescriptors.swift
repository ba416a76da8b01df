/// The locations one group descriptor records, with its flags.
struct ExtGroupDescriptor {
    /// `bg_flags` bit: the group's block bitmap was never written; it follows from the layout.
    static let blockBitmapUninitialized: UInt16 = 0x0002

    let blockBitmap: UInt64
    let inodeBitmap: UInt64
    let inodeTable: UInt64
    let flags: UInt16
    /// `bg_block_bitmap_csum`: the low half, and the high half when the descriptor has 64 bytes.
    let blockBitmapChecksum: (low: UInt16, high: UInt16?)

    /// Reads the descriptor of `size` bytes at `offset` of a descriptor block.
    init(_ block: [UInt8], at offset: Int, size: Int) {
        func location(_ low: Int, _ high: Int) -> UInt64 {
            let high = size >= 64 ? UInt64(ProbeBytes.uint32(block, at: offset + high)) << 32 : 0
            return high | UInt64(ProbeBytes.uint32(block, at: offset + low))
        }

        blockBitmap = location(0x00, 0x20)
        inodeBitmap = location(0x04, 0x24)
        inodeTable = location(0x08, 0x28)
        flags = ProbeBytes.uint16(block, at: offset + 0x12)
        blockBitmapChecksum = (
            ProbeBytes.uint16(block, at: offset + 0x18), size >= 64 ? ProbeBytes.uint16(block, at: offset + 0x38) : nil
        )
    }

    /// The metadata blocks the group owns, wherever flex_bg placed them.
    func metadataBlocks(inodeTableBlockCount: UInt64) -> [Range<UInt64>] {
        [blockBitmap..<blockBitmap + 1, inodeBitmap..<inodeBitmap + 1, inodeTable..<inodeTable + inodeTableBlockCount]
    }
}

/// Reads group descriptors in order from a disk, one descriptor block at a time.
///
/// Each descriptor's block is checked to lie inside the filesystem before it is read, and each
/// descriptor's locations are checked before they are handed out.
struct ExtDescriptorReader<Disk: DiskSource> {
    private let layout: ExtLayout
    private let disk: Disk
    private var cachedIndex: UInt64?
    private var block: [UInt8]

    /// Makes a reader; the disk must already be known to hold the whole filesystem.
    init(layout: ExtLayout, disk: Disk) {
        self.layout = layout
        self.disk = disk
        self.block = [UInt8](repeating: 0, count: Int(layout.blockSize))
    }

    /// The validated descriptor of `group`.
    ///
    /// - Throws: ``ImagesKitError`` with `damaged_filesystem` when the descriptor block or a
    ///   location it records lies outside the filesystem, or `io_failure` when the read fails.
    mutating func descriptor(of group: UInt64) throws -> ExtGroupDescriptor {
        let perBlock = layout.descriptorsPerBlock
        try load(descriptorBlock: group / perBlock)

        let offset = Int(group % perBlock) * layout.descriptorSize
        guard layout.checksums.descriptorMatches(block, at: offset, size: layout.descriptorSize, group: group) else {
            throw ExtLayout.damage(
                "group \(group)'s descriptor checksum does not match", context: ["group": String(group)])
        }

        let descriptor = ExtGroupDescriptor(block, at: offset, size: layout.descriptorSize)
        try layout.validate(descriptor, ofGroup: group)
        return descriptor
    }

    private mutating func load(descriptorBlock index: UInt64) throws {
        guard cachedIndex != index else { return }

        let location = layout.descriptorBlockLocation(index)
        guard location < layout.blockCount else {
            throw ExtLayout.damage(
                "descriptor block \(index) would sit at block \(location), past the filesystem's end",
                context: ["block": String(location)])
        }

        cachedIndex = nil
        let disk = disk
        let offset = location * layout.blockSize
        try block.withUnsafeMutableBytes { try disk.readExactly(into: $0, at: offset) }
        cachedIndex = index
    }
}

extension ExtLayout {
    /// Checks that a descriptor's bitmaps and inode table lie inside the filesystem, and inside
    /// their own group unless flex_bg lets them move.
    func validate(_ descriptor: ExtGroupDescriptor, ofGroup group: UInt64) throws {
        let allowed = features.contains(.flexibleGroups) ? firstDataBlock..<blockCount : blockRange(ofGroup: group)
        let tableEnd = descriptor.inodeTable.addingReportingOverflow(inodeTableBlockCount)
        let parts: [(String, UInt64, UInt64)] = [
            ("block bitmap", descriptor.blockBitmap, descriptor.blockBitmap),
            ("inode bitmap", descriptor.inodeBitmap, descriptor.inodeBitmap),
            ("inode table", descriptor.inodeTable, tableEnd.overflow ? UInt64.max : tableEnd.partialValue - 1),
        ]

        for (part, first, last) in parts where !(allowed.contains(first) && allowed.contains(last)) {
            throw Self.damage(
                "group \(group)'s \(part) at block \(first) lies outside blocks \(allowed.lowerBound)"
                    + "..<\(allowed.upperBound)",
                context: ["group": String(group), "block": String(first)])
        }
        for (part, first, last) in parts where first < primaryMetadata.upperBound && last >= primaryMetadata.lowerBound
        {
            throw Self.damage(
                "group \(group)'s \(part) at block \(first) overlaps the superblock and descriptor blocks "
                    + "\(primaryMetadata.lowerBound)..<\(primaryMetadata.upperBound)",
                context: ["group": String(group), "block": String(first)])
        }
    }

    /// The blocks of group 0 that hold the primary superblock and the descriptors after it; no
    /// bitmap or inode table can lie there.
    var primaryMetadata: Range<UInt64> {
        superblockBlock..<(superblockBlock + 1 + firstMetaGroup + reservedDescriptorBlocks)
    }

    /// Whether `descriptor`'s group has no block bitmap on disk and must be derived from the layout.
    func isUninitialized(_ descriptor: ExtGroupDescriptor) -> Bool {
        allowsUninitializedGroups && descriptor.flags & ExtGroupDescriptor.blockBitmapUninitialized != 0
    }

    /// Checks every group descriptor, reading them in order, without reading any bitmap.
    ///
    /// - Throws: ``ImagesKitError`` with `damaged_filesystem` or `io_failure`.
    func validateDescriptors(on disk: some DiskSource) throws {
        var reader = ExtDescriptorReader(layout: self, disk: disk)
        for group in 0..<groupCount {
            _ = try reader.descriptor(of: group)
        }
    }
}
