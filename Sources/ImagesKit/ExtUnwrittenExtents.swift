extension ExtFilesystem {
    /// Calls `body` with the byte ranges of extents marked unwritten (space preallocated with
    /// `fallocate`), in inode order.
    ///
    /// Such blocks are in use, so the block bitmaps mark them, but they read as zeros and may
    /// still hold the bytes of deleted files. A capture zeroes them so those bytes never travel.
    /// Only inodes the inode bitmaps mark in use are read; every extent block is checked to lie
    /// inside the filesystem, and trees deeper than ext4 allows are refused.
    ///
    /// - Parameters:
    ///   - disk: The disk the filesystem was read from.
    ///   - body: Receives each unwritten byte range.
    /// - Throws: ``ImagesKitError`` with `damaged_filesystem` for an extent tree out of range,
    ///   `io_failure` when a read fails, or what `body` throws.
    public func forEachUnwrittenRange(on disk: some DiskSource, _ body: (Range<UInt64>) throws -> Void) throws {
        try layout.checkFits(on: disk)
        let walk = ExtExtentWalk(layout: layout, disk: disk)
        try walk.run(body)
    }
}

extension ExtFilesystem {
    /// Calls `body` with the byte ranges of inode records that are not in use, in order.
    ///
    /// Free inode records can keep the contents of deleted small files (inline data), and inode
    /// tables that mkfs left uninitialised can hold whatever the disk held before. A capture
    /// zeroes them; e2fsprogs and the kernel treat an all-zero record as a free inode.
    ///
    /// - Parameters:
    ///   - disk: The disk the filesystem was read from.
    ///   - body: Receives each free range of inode records.
    /// - Throws: ``ImagesKitError`` with `damaged_filesystem` or `io_failure`, or what `body` throws.
    public func forEachFreeInodeRange(on disk: some DiskSource, _ body: (Range<UInt64>) throws -> Void) throws {
        try layout.checkFits(on: disk)
        let walk = ExtExtentWalk(layout: layout, disk: disk)
        try walk.runFreeInodes(body)
    }
}

/// Reads every in-use inode's extent tree and reports the unwritten extents.
struct ExtExtentWalk<Disk: DiskSource> {
    let layout: ExtLayout
    let disk: Disk

    private static var inodeUninitialized: UInt16 { 0x0001 }
    private static var extentsFlag: UInt32 { 0x0008_0000 }
    private static var extentMagic: UInt16 { 0xF30A }
    private static var maximumDepth: Int { 5 }
    private static var unwrittenLengthBase: UInt16 { 32768 }

    func run(_ body: (Range<UInt64>) throws -> Void) throws {
        var descriptors = ExtDescriptorReader(layout: layout, disk: disk)
        for group in 0..<layout.groupCount {
            let descriptor = try descriptors.descriptor(of: group)
            guard !(layout.allowsUninitializedGroups && descriptor.flags & Self.inodeUninitialized != 0) else {
                continue
            }
            try forEachInode(inUse: descriptor) { inode in try walkInode(inode, body) }
        }
    }

    func runFreeInodes(_ body: (Range<UInt64>) throws -> Void) throws {
        var descriptors = ExtDescriptorReader(layout: layout, disk: disk)
        var output = RangeCoalescer()
        for group in 0..<layout.groupCount {
            let descriptor = try descriptors.descriptor(of: group)
            let table = descriptor.inodeTable * layout.blockSize
            let uninitialized = layout.allowsUninitializedGroups && descriptor.flags & Self.inodeUninitialized != 0
            let bitmap = uninitialized ? nil : try readInodeBitmap(descriptor)
            for index in 0..<layout.inodesPerGroup where !(bitmap.map { Self.isSet($0, index) } ?? false) {
                let start = table + index * layout.inodeSize
                try output.add(start..<start + layout.inodeSize, body)
            }
        }
        try output.finish(body)
    }

    private func readInodeBitmap(_ descriptor: ExtGroupDescriptor) throws -> [UInt8] {
        try disk.readBytes(count: Int(layout.blockSize), at: descriptor.inodeBitmap * layout.blockSize)
    }

    private static func isSet(_ bitmap: [UInt8], _ index: UInt64) -> Bool {
        bitmap[Int(index / 8)] & (1 << (index % 8)) != 0
    }

    /// Reads the group's inode bitmap and hands over each in-use inode's record.
    private func forEachInode(inUse descriptor: ExtGroupDescriptor, _ body: ([UInt8]) throws -> Void) throws {
        let bitmap = try readInodeBitmap(descriptor)
        let inodesPerBlock = layout.blockSize / layout.inodeSize
        var tableBlock: [UInt8] = []
        var loadedBlock: UInt64?
        for index in 0..<layout.inodesPerGroup where Self.isSet(bitmap, index) {
            let block = descriptor.inodeTable + index / inodesPerBlock
            if loadedBlock != block {
                tableBlock = try disk.readBytes(count: Int(layout.blockSize), at: block * layout.blockSize)
                loadedBlock = block
            }
            let offset = Int((index % inodesPerBlock) * layout.inodeSize)
            try body(Array(tableBlock[offset..<offset + 128]))
        }
    }

    private func walkInode(_ inode: [UInt8], _ body: (Range<UInt64>) throws -> Void) throws {
        guard ProbeBytes.uint32(inode, at: 0x20) & Self.extentsFlag != 0 else { return }
        try walkNode(Array(inode[0x28..<0x28 + 60]), depthAllowed: Self.maximumDepth, body)
    }

    /// Walks one extent-tree node: a header, then leaf extents or index entries.
    private func walkNode(_ node: [UInt8], depthAllowed: Int, _ body: (Range<UInt64>) throws -> Void) throws {
        guard ProbeBytes.uint16(node, at: 0) == Self.extentMagic else { return }
        let entries = Int(ProbeBytes.uint16(node, at: 2))
        let depth = Int(ProbeBytes.uint16(node, at: 6))
        guard depth <= depthAllowed, 12 + entries * 12 <= node.count else {
            throw ExtLayout.damage("an extent tree is deeper or fuller than ext4 allows")
        }
        for entry in 0..<entries {
            let offset = 12 + entry * 12
            if depth == 0 {
                try reportIfUnwritten(node, at: offset, body)
            } else {
                let child =
                    UInt64(ProbeBytes.uint16(node, at: offset + 8)) << 32
                    | UInt64(ProbeBytes.uint32(node, at: offset + 4))
                try walkNode(try readTreeBlock(child), depthAllowed: depth - 1, body)
            }
        }
    }

    private func reportIfUnwritten(_ node: [UInt8], at offset: Int, _ body: (Range<UInt64>) throws -> Void) throws {
        let length = ProbeBytes.uint16(node, at: offset + 4)
        guard length > Self.unwrittenLengthBase else { return }
        let start =
            UInt64(ProbeBytes.uint16(node, at: offset + 6)) << 32 | UInt64(ProbeBytes.uint32(node, at: offset + 8))
        let end = start + UInt64(length - Self.unwrittenLengthBase)
        guard start >= layout.firstDataBlock, end <= layout.blockCount else {
            throw ExtLayout.damage("an unwritten extent at block \(start) lies outside the filesystem")
        }
        try body(start * layout.blockSize..<end * layout.blockSize)
    }

    private func readTreeBlock(_ block: UInt64) throws -> [UInt8] {
        guard block >= layout.firstDataBlock, block < layout.blockCount else {
            throw ExtLayout.damage("an extent tree points at block \(block), outside the filesystem")
        }
        return try disk.readBytes(count: Int(layout.blockSize), at: block * layout.blockSize)
    }
}
