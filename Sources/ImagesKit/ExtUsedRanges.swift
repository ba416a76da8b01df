extension ExtFilesystem {
    /// Calls `body` with each range of bytes on the disk that the filesystem uses, in increasing
    /// order and coalesced, reading only the superblock, group descriptors and block bitmaps.
    ///
    /// Free blocks are never reported, so the data of deleted files stays behind. A group whose
    /// block bitmap was never written (`BLOCK_UNINIT`) reports its superblock and descriptor copies
    /// and every group's bitmaps and inode table that lie inside it. Bytes before the first data
    /// block (the boot sector of 1 KiB-block filesystems) count as used, as `dumpe2fs` counts them.
    ///
    /// - Parameters:
    ///   - disk: The disk the filesystem was read from.
    ///   - body: Receives each used byte range; nothing is reported after it throws.
    /// - Throws: ``ImagesKitError`` with `damaged_filesystem` when the filesystem is larger than the
    ///   disk, a descriptor points outside it, or a descriptor or bitmap fails its checksum;
    ///   `io_failure` when a read fails; or what `body` throws.
    public func forEachUsedRange(on disk: some DiskSource, _ body: (Range<UInt64>) throws -> Void) throws {
        try layout.checkFits(on: disk)
        let walk = try ExtUsedRangeWalk(layout: layout, disk: disk)
        try walk.run(body)
    }
}

extension ExtLayout {
    /// Checks that the disk holds every block the filesystem spans.
    ///
    /// - Throws: ``ImagesKitError`` with `damaged_filesystem` naming both sizes.
    func checkFits(on disk: some DiskSource) throws {
        guard byteCount <= disk.byteCount else {
            throw ImagesKitError(
                .damagedFilesystem,
                "the filesystem on disk \(disk.name) spans \(byteCount) bytes but the disk holds only "
                    + "\(disk.byteCount); grow the disk back to \(byteCount) bytes, or shrink the filesystem "
                    + "with resize2fs on a copy of the full disk, then try again",
                context: ["disk": disk.name, "filesystemBytes": String(byteCount), "diskBytes": String(disk.byteCount)])
        }
    }
}

/// One pass over the groups of a filesystem, reporting the bytes in use.
///
/// Groups are handled one at a time with one bitmap block in memory. When some groups have no
/// bitmap, two earlier passes over the descriptors note which groups those are and which other
/// groups' metadata lies inside them.
private struct ExtUsedRangeWalk<Disk: DiskSource> {
    /// The most foreign metadata pieces kept for groups without a bitmap; mke2fs makes none.
    static var foreignPieceLimit: Int { 1 << 20 }

    let layout: ExtLayout
    let disk: Disk
    let uninitializedGroups: GroupSet
    let foreignPieces: [Range<UInt64>]

    init(layout: ExtLayout, disk: Disk) throws {
        self.layout = layout
        self.disk = disk
        uninitializedGroups = try Self.uninitializedGroups(layout: layout, disk: disk)
        let groups = uninitializedGroups
        foreignPieces = groups.isEmpty ? [] : try Self.foreignPieces(layout: layout, disk: disk, inside: groups)
    }

    func run(_ body: (Range<UInt64>) throws -> Void) throws {
        var output = RangeCoalescer()
        var descriptors = ExtDescriptorReader(layout: layout, disk: disk)
        var bitmap = [UInt8](repeating: 0, count: Int(layout.blockSize))
        var nextPiece = 0

        try output.add(0..<layout.firstDataBlock * layout.blockSize, body)
        for group in 0..<layout.groupCount {
            let descriptor = try descriptors.descriptor(of: group)
            if uninitializedGroups.contains(group) {
                let blocks = derivedBlocks(ofGroup: group, descriptor: descriptor, nextPiece: &nextPiece)
                for range in blocks { try output.add(bytes(ofBlocks: range, inGroup: group), body) }
            } else {
                try readBitmap(descriptor, group: group, into: &bitmap)
                try forEachSetRun(in: bitmap, bitCount: Int(layout.clusterCount(ofGroup: group))) { clusters in
                    try output.add(bytes(ofClusters: clusters, inGroup: group), body)
                }
            }
        }
        try output.finish(body)
    }

    // MARK: Groups with a bitmap

    private func readBitmap(_ descriptor: ExtGroupDescriptor, group: UInt64, into bitmap: inout [UInt8]) throws {
        let offset = descriptor.blockBitmap * layout.blockSize
        try bitmap.withUnsafeMutableBytes { try disk.readExactly(into: $0, at: offset) }

        let byteCount = Int(layout.clustersPerGroup / 8)
        let stored = descriptor.blockBitmapChecksum
        guard layout.checksums.bitmapMatches(bitmap, byteCount: byteCount, stored: stored) else {
            throw ExtLayout.damage(
                "group \(group)'s block bitmap checksum does not match",
                context: ["group": String(group), "block": String(descriptor.blockBitmap)])
        }
    }

    /// The bytes of clusters `clusters` (numbered from the group's start), cut at the filesystem's end.
    private func bytes(ofClusters clusters: Range<Int>, inGroup group: UInt64) -> Range<UInt64> {
        let first = layout.blockRange(ofGroup: group).lowerBound
        let start = first + UInt64(clusters.lowerBound) * layout.clusterRatio
        let end = min(first + UInt64(clusters.upperBound) * layout.clusterRatio, layout.blockCount)
        return start * layout.blockSize..<end * layout.blockSize
    }

    // MARK: Groups without a bitmap

    /// The blocks a group without a bitmap uses, sorted: its superblock and descriptor copies, its
    /// own metadata inside it, and the foreign pieces that lie in it.
    private func derivedBlocks(
        ofGroup group: UInt64, descriptor: ExtGroupDescriptor, nextPiece: inout Int
    ) -> [Range<UInt64>] {
        let groupBlocks = layout.blockRange(ofGroup: group)
        var blocks = layout.baseMetadataBlocks(ofGroup: group)
        blocks += descriptor.metadataBlocks(inodeTableBlockCount: layout.inodeTableBlockCount)
            .map { $0.clamped(to: groupBlocks) }

        while nextPiece < foreignPieces.count, foreignPieces[nextPiece].lowerBound < groupBlocks.upperBound {
            blocks.append(foreignPieces[nextPiece])
            nextPiece += 1
        }
        return blocks.filter { !$0.isEmpty }.sorted { $0.lowerBound < $1.lowerBound }
    }

    /// The bytes of the clusters that hold `blocks`, which lie inside `group`.
    private func bytes(ofBlocks blocks: Range<UInt64>, inGroup group: UInt64) -> Range<UInt64> {
        let first = layout.blockRange(ofGroup: group).lowerBound
        let ratio = layout.clusterRatio
        let clusters = (blocks.lowerBound - first) / ratio..<(blocks.upperBound - first + ratio - 1) / ratio
        return bytes(ofClusters: Int(clusters.lowerBound)..<Int(clusters.upperBound), inGroup: group)
    }

    /// The groups whose descriptor says their block bitmap was never written.
    private static func uninitializedGroups(layout: ExtLayout, disk: Disk) throws -> GroupSet {
        var groups = GroupSet(count: 0)
        guard layout.allowsUninitializedGroups else { return groups }

        groups = GroupSet(count: layout.groupCount)
        var descriptors = ExtDescriptorReader(layout: layout, disk: disk)
        for group in 0..<layout.groupCount where layout.isUninitialized(try descriptors.descriptor(of: group)) {
            groups.insert(group)
        }
        return groups
    }

    /// The parts of each group's bitmaps and inode table that flex_bg placed inside another group
    /// without a bitmap, cut at group boundaries and sorted.
    private static func foreignPieces(
        layout: ExtLayout, disk: Disk, inside groups: GroupSet
    ) throws -> [Range<UInt64>] {
        var pieces: [Range<UInt64>] = []
        var descriptors = ExtDescriptorReader(layout: layout, disk: disk)
        for owner in 0..<layout.groupCount {
            let descriptor = try descriptors.descriptor(of: owner)
            for blocks in descriptor.metadataBlocks(inodeTableBlockCount: layout.inodeTableBlockCount) {
                pieces += layout.split(blocks, byGroup: { $0 != owner && groups.contains($0) })
            }
            guard pieces.count <= foreignPieceLimit else {
                throw ExtLayout.damage("more than \(foreignPieceLimit) metadata blocks lie in groups without a bitmap")
            }
        }
        return pieces.sorted { $0.lowerBound < $1.lowerBound }
    }
}

extension ExtLayout {
    /// The parts of `blocks` that fall in each group `isWanted` accepts, one range per group.
    fileprivate func split(_ blocks: Range<UInt64>, byGroup isWanted: (UInt64) -> Bool) -> [Range<UInt64>] {
        guard !blocks.isEmpty else { return [] }

        let firstGroup = (blocks.lowerBound - firstDataBlock) / blocksPerGroup
        let lastGroup = (blocks.upperBound - 1 - firstDataBlock) / blocksPerGroup
        return (firstGroup...lastGroup).filter(isWanted).map { blocks.clamped(to: blockRange(ofGroup: $0)) }
    }
}

/// Calls `body` with each run of set bits among the first `bitCount` bits of `bitmap`, where bit
/// `i` is bit `i % 8` of byte `i / 8`, as ext bitmaps are laid out.
func forEachSetRun(in bitmap: [UInt8], bitCount: Int, _ body: (Range<Int>) throws -> Void) rethrows {
    var runStart: Int?
    var bit = 0
    while bit < bitCount {
        let byte = bitmap[bit >> 3]
        let isWholeByte = bit & 7 == 0 && bitCount - bit >= 8 && (byte == 0 || byte == 0xFF)
        let width = isWholeByte ? 8 : 1
        let isSet = byte & (1 << UInt8(bit & 7)) != 0

        if isSet, runStart == nil {
            runStart = bit
        } else if !isSet, let start = runStart {
            try body(start..<bit)
            runStart = nil
        }
        bit += width
    }
    if let start = runStart { try body(start..<bitCount) }
}

/// Merges byte ranges that arrive in increasing order of their starts, reporting each merged
/// range once the next one leaves a gap.
struct RangeCoalescer {
    private var pending: Range<UInt64>?

    /// Adds `range`; hands the previous merged range to `body` when `range` does not touch it.
    mutating func add(_ range: Range<UInt64>, _ body: (Range<UInt64>) throws -> Void) rethrows {
        guard !range.isEmpty else { return }
        guard let current = pending, range.lowerBound <= current.upperBound else {
            if let current = pending { try body(current) }
            pending = range
            return
        }
        pending = current.lowerBound..<max(current.upperBound, range.upperBound)
    }

    /// Hands the last merged range to `body`.
    mutating func finish(_ body: (Range<UInt64>) throws -> Void) rethrows {
        if let current = pending { try body(current) }
        pending = nil
    }
}

/// A set of group numbers below a fixed count, one bit each.
struct GroupSet {
    private var words: [UInt64]
    private(set) var isEmpty = true

    init(count: UInt64) {
        words = [UInt64](repeating: 0, count: Int((count + 63) / 64))
    }

    mutating func insert(_ group: UInt64) {
        words[Int(group / 64)] |= 1 << (group % 64)
        isEmpty = false
    }

    func contains(_ group: UInt64) -> Bool {
        let index = Int(group / 64)
        return index < words.count && words[index] & (1 << (group % 64)) != 0
    }
}
