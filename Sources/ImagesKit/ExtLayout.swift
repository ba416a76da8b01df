/// The validated geometry of an ext filesystem: where groups start and where their metadata lives.
///
/// Every value is checked against the others when the layout is made, so later arithmetic on
/// block numbers below ``blockCount`` can't overflow.
struct ExtLayout: Sendable, Equatable {
    let features: ExtFeatures
    let blockSize: UInt64
    /// Blocks per allocation cluster: 1 unless bigalloc.
    let clusterRatio: UInt64
    let blockCount: UInt64
    let firstDataBlock: UInt64
    let blocksPerGroup: UInt64
    let clustersPerGroup: UInt64
    let groupCount: UInt64
    let inodeTableBlockCount: UInt64
    let descriptorSize: Int
    let descriptorBlockCount: UInt64
    let reservedDescriptorBlocks: UInt64
    /// The first descriptor block kept in its meta group (meta_bg); the ones before stay in group 0.
    let firstMetaGroup: UInt64
    /// The two groups that hold superblock backups under sparse_super2.
    let backupGroups: [UInt64]
    /// How descriptors and bitmaps are checksummed.
    let checksums: ExtChecksums
    /// Inodes in each group's table.
    let inodesPerGroup: UInt64
    /// Bytes of one inode record.
    let inodeSize: UInt64

    init(_ superblock: ExtSuperblock) throws {
        features = superblock.features
        blockSize = try Self.blockSize(superblock)
        clusterRatio = try Self.clusterRatio(superblock, features: features)
        (blocksPerGroup, clustersPerGroup) = try Self.groupSpan(superblock, blockSize: blockSize, ratio: clusterRatio)
        firstDataBlock = try Self.firstDataBlock(superblock, blockSize: blockSize, features: features)
        blockCount = try Self.blockCount(superblock, features: features, blockSize: blockSize, first: firstDataBlock)
        groupCount = try Self.groupCount(blocks: blockCount - firstDataBlock, perGroup: blocksPerGroup)
        inodeTableBlockCount = try Self.inodeTableBlockCount(
            superblock, blockSize: blockSize, groups: groupCount, blocksPerGroup: blocksPerGroup)
        inodesPerGroup = UInt64(superblock.inodesPerGroup)
        inodeSize = superblock.revisionLevel == 0 ? 128 : UInt64(superblock.inodeSize)

        descriptorSize = try Self.descriptorSize(superblock, features: features)
        descriptorBlockCount = Self.dividingRoundingUp(groupCount, by: blockSize / UInt64(descriptorSize))
        reservedDescriptorBlocks = UInt64(superblock.reservedDescriptorBlocks)
        firstMetaGroup = features.contains(.metaGroups) ? UInt64(superblock.firstMetaGroup) : descriptorBlockCount
        backupGroups = [UInt64(superblock.backupGroups.0), UInt64(superblock.backupGroups.1)]
        checksums = ExtChecksums(superblock, features: features)

        try validateGroupZero()
    }

    /// A `damaged_filesystem` error whose message says what is wrong and what to do.
    static func damage(_ reason: String, context: [String: String] = [:]) -> ImagesKitError {
        ImagesKitError(
            .damagedFilesystem,
            "the ext filesystem is damaged: \(reason); run e2fsck -f on the disk, then try again",
            context: context)
    }
}

// MARK: - Validation of the superblock's fields

extension ExtLayout {
    private static func blockSize(_ superblock: ExtSuperblock) throws -> UInt64 {
        guard superblock.logBlockSize <= 6 else {
            throw damage("the block size is 2^\(superblock.logBlockSize) KiB; ext4 blocks are 1 KiB to 64 KiB")
        }
        return 1024 << UInt64(superblock.logBlockSize)
    }

    private static func clusterRatio(_ superblock: ExtSuperblock, features: ExtFeatures) throws -> UInt64 {
        guard features.contains(.bigalloc) else { return 1 }

        let logBlock = superblock.logBlockSize
        let logCluster = superblock.logClusterSize
        guard logCluster >= logBlock, logCluster <= 20 else {
            throw damage("the cluster size is 2^\(logCluster) KiB for blocks of 2^\(logBlock) KiB")
        }
        return 1 << UInt64(logCluster - logBlock)
    }

    private static func groupSpan(
        _ superblock: ExtSuperblock, blockSize: UInt64, ratio: UInt64
    ) throws -> (blocks: UInt64, clusters: UInt64) {
        let blocks = UInt64(superblock.blocksPerGroup)
        let clusters = ratio == 1 ? blocks : UInt64(superblock.clustersPerGroup)
        guard clusters > 0, clusters <= 8 * blockSize else {
            throw damage("a group spans \(clusters) clusters; one bitmap block tracks 1 to \(8 * blockSize)")
        }
        guard blocks == clusters * ratio else {
            throw damage("a group spans \(blocks) blocks but \(clusters) clusters of \(ratio) blocks")
        }
        return (blocks, clusters)
    }

    private static func firstDataBlock(
        _ superblock: ExtSuperblock, blockSize: UInt64, features: ExtFeatures
    ) throws -> UInt64 {
        let first = UInt64(superblock.firstDataBlock)
        let allowed: Set<UInt64> = blockSize == 1024 && !features.contains(.bigalloc) ? [0, 1] : [0]
        guard allowed.contains(first) else {
            throw damage("the first data block is \(first) for blocks of \(blockSize) bytes")
        }
        return first
    }

    private static func blockCount(
        _ superblock: ExtSuperblock, features: ExtFeatures, blockSize: UInt64, first: UInt64
    ) throws -> UInt64 {
        let high = features.contains(.is64Bit) ? UInt64(superblock.blockCountHigh) << 32 : 0
        let count = high | UInt64(superblock.blockCountLow)
        guard count > first + 2 else {
            throw damage("the filesystem counts only \(count) blocks")
        }
        guard !count.multipliedReportingOverflow(by: blockSize).overflow else {
            throw damage("\(count) blocks of \(blockSize) bytes exceed 2^64 bytes")
        }
        return count
    }

    private static func groupCount(blocks: UInt64, perGroup: UInt64) throws -> UInt64 {
        let count = dividingRoundingUp(blocks, by: perGroup)
        guard count <= UInt64(UInt32.max) + 1 else {
            throw damage("\(count) block groups exceed the 2^32 group numbers ext4 can address")
        }
        return count
    }

    private static func dividingRoundingUp(_ value: UInt64, by divisor: UInt64) -> UInt64 {
        value / divisor + (value % divisor == 0 ? 0 : 1)
    }

    private static func inodeTableBlockCount(
        _ superblock: ExtSuperblock, blockSize: UInt64, groups: UInt64, blocksPerGroup: UInt64
    ) throws -> UInt64 {
        let inodesPerGroup = UInt64(superblock.inodesPerGroup)
        guard inodesPerGroup > 0, inodesPerGroup <= 8 * blockSize else {
            throw damage("a group holds \(inodesPerGroup) inodes; one bitmap block tracks 1 to \(8 * blockSize)")
        }
        guard inodesPerGroup * groups == UInt64(superblock.inodeCount) else {
            throw damage("\(groups) groups of \(inodesPerGroup) inodes disagree with \(superblock.inodeCount) inodes")
        }

        let inodeSize = superblock.revisionLevel == 0 ? 128 : UInt64(superblock.inodeSize)
        guard inodeSize >= 128, inodeSize <= blockSize, inodeSize & (inodeSize - 1) == 0 else {
            throw damage("an inode takes \(inodeSize) bytes; ext4 inodes take a power of two from 128 bytes")
        }
        let tableBlocks = dividingRoundingUp(inodesPerGroup * inodeSize, by: blockSize)
        guard tableBlocks < blocksPerGroup else {
            throw damage("an inode table of \(tableBlocks) blocks can't fit a group of \(blocksPerGroup) blocks")
        }
        return tableBlocks
    }

    private static func descriptorSize(_ superblock: ExtSuperblock, features: ExtFeatures) throws -> Int {
        guard features.contains(.is64Bit) else { return 32 }

        let size = Int(superblock.descriptorSize)
        guard size >= 64, size <= 1024, size & (size - 1) == 0 else {
            throw damage("a group descriptor takes \(size) bytes; 64bit filesystems use a power of two from 64")
        }
        return size
    }

    /// Checks that group 0 holds the superblock, the descriptor blocks before the meta groups and
    /// the reserved descriptor blocks.
    private func validateGroupZero() throws {
        guard reservedDescriptorBlocks <= blockSize / 4 else {
            throw Self.damage("\(reservedDescriptorBlocks) descriptor blocks are reserved; at most \(blockSize / 4)")
        }
        guard firstMetaGroup <= descriptorBlockCount else {
            throw Self.damage(
                "the first meta group \(firstMetaGroup) is past \(descriptorBlockCount) descriptor blocks")
        }

        let end = superblockBlock + 1 + firstMetaGroup + reservedDescriptorBlocks
        guard end <= blockRange(ofGroup: 0).upperBound else {
            throw Self.damage("the superblock and \(firstMetaGroup) descriptor blocks don't fit in group 0")
        }
    }
}

// MARK: - Where things are

extension ExtLayout {
    /// The block that holds the primary superblock (byte 1024).
    var superblockBlock: UInt64 { blockSize == 1024 ? 1 : 0 }

    /// The bytes the filesystem spans.
    var byteCount: UInt64 { blockCount * blockSize }

    /// How many group descriptors one block holds.
    var descriptorsPerBlock: UInt64 { blockSize / UInt64(descriptorSize) }

    /// Whether a group may skip its block bitmap (`BLOCK_UNINIT`): only with descriptor checksums.
    var allowsUninitializedGroups: Bool {
        features.contains(.groupDescriptorChecksums) || features.contains(.metadataChecksums)
    }

    /// The blocks of `group`; the last group ends at ``blockCount``.
    func blockRange(ofGroup group: UInt64) -> Range<UInt64> {
        let first = firstDataBlock + group * blocksPerGroup
        return first..<min(first + blocksPerGroup, blockCount)
    }

    /// The clusters `group`'s bitmap tracks; fewer than ``clustersPerGroup`` in a short last group.
    func clusterCount(ofGroup group: UInt64) -> UInt64 {
        let blocks = blockRange(ofGroup: group).count
        return (UInt64(blocks) + clusterRatio - 1) / clusterRatio
    }

    /// Whether `group` keeps a copy of the superblock (and, outside meta groups, of the descriptors).
    func hasSuperblockBackup(_ group: UInt64) -> Bool {
        if group == 0 { return true }
        if features.contains(.sparseSuper2) { return backupGroups.contains(group) }
        if group == 1 || !features.contains(.sparseSuper) { return true }
        guard group % 2 == 1 else { return false }
        return [3, 5, 7].contains { Self.isPower(group, of: $0) }
    }

    private static func isPower(_ value: UInt64, of base: UInt64) -> Bool {
        var power: UInt64 = 1
        while power < value { power *= base }
        return power == value
    }

    /// The block where `group`'s superblock copy starts: byte 1024 for group 0.
    func superblockLocation(ofGroup group: UInt64) -> UInt64 {
        group == 0 ? superblockBlock : blockRange(ofGroup: group).lowerBound
    }

    /// The block number of descriptor block `index` (the one describing groups from
    /// `index × descriptorsPerBlock`).
    func descriptorBlockLocation(_ index: UInt64) -> UInt64 {
        guard index >= firstMetaGroup else { return superblockBlock + 1 + index }

        let group = index * descriptorsPerBlock
        guard hasSuperblockBackup(group) else { return blockRange(ofGroup: group).lowerBound }
        return superblockLocation(ofGroup: group) + 1
    }

    /// The blocks of `group` that hold the superblock and descriptor copies (and reserved descriptor
    /// blocks), as a group without a block bitmap reserves them.
    func baseMetadataBlocks(ofGroup group: UInt64) -> [Range<UInt64>] {
        let hasSuperblock = hasSuperblockBackup(group)
        let superblock = superblockLocation(ofGroup: group)
        var ranges: [Range<UInt64>] = hasSuperblock ? [superblock..<superblock + 1] : []

        if group / descriptorsPerBlock < firstMetaGroup {
            let descriptorBlocks = firstMetaGroup + reservedDescriptorBlocks
            if hasSuperblock { ranges.append(superblock + 1..<superblock + 1 + descriptorBlocks) }
        } else if [0, 1, descriptorsPerBlock - 1].contains(group % descriptorsPerBlock) {
            let location = hasSuperblock ? superblock + 1 : superblock
            ranges.append(location..<location + 1)
        }
        return ranges.map { $0.clamped(to: blockRange(ofGroup: group)) }
    }
}
