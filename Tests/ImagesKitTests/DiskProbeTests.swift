import Foundation
import ImagesKitTestSupport
import Testing

@testable import ImagesKit

/// One way to run `mkfs.ext4`, and what it should make.
struct ProbeFeatureSet: Sendable, CustomTestStringConvertible {
    let name: String
    let byteCount: UInt64
    let options: [String]
    let kind: ExtFilesystem.Kind

    init(_ name: String, mebibytes: UInt64, _ options: [String], kind: ExtFilesystem.Kind = .ext4) {
        self.name = name
        self.byteCount = mebibytes << 20
        self.options = options
        self.kind = kind
    }

    var testDescription: String { name }
}

@Suite("Disk probe: used ranges of real ext filesystems")
struct DiskProbeUsedRangeTests {
    static let featureSets: [ProbeFeatureSet] = [
        ProbeFeatureSet("default ext4, two groups", mebibytes: 256, []),
        ProbeFeatureSet("1 KiB blocks", mebibytes: 64, ["-b", "1024"]),
        ProbeFeatureSet("2 KiB blocks, many groups", mebibytes: 64, ["-b", "2048", "-g", "2048"]),
        ProbeFeatureSet("64 KiB blocks", mebibytes: 128, ["-b", "65536"]),
        ProbeFeatureSet("ext3", mebibytes: 64, ["-t", "ext3", "-b", "1024", "-g", "2048"], kind: .ext3),
        ProbeFeatureSet("no flex_bg", mebibytes: 64, ["-O", "^flex_bg", "-b", "1024", "-g", "2048"]),
        ProbeFeatureSet("32-bit descriptors", mebibytes: 64, ["-O", "^64bit", "-b", "1024", "-g", "1024"]),
        ProbeFeatureSet("64bit, 4 KiB blocks, small groups", mebibytes: 256, ["-O", "64bit", "-g", "1024"]),
        ProbeFeatureSet("meta_bg", mebibytes: 64, ["-O", "meta_bg,^resize_inode", "-b", "1024", "-g", "1024"]),
        ProbeFeatureSet(
            "meta_bg, 32-bit descriptors", mebibytes: 64,
            ["-O", "meta_bg,^resize_inode,^64bit", "-b", "1024", "-g", "256"]),
        ProbeFeatureSet("bigalloc", mebibytes: 512, ["-O", "bigalloc", "-C", "65536", "-g", "1024"]),
        ProbeFeatureSet(
            "bigalloc, 1 KiB blocks", mebibytes: 256, ["-O", "bigalloc", "-b", "1024", "-C", "16384", "-g", "1024"]),
        ProbeFeatureSet(
            "bigalloc, no flex_bg", mebibytes: 256,
            ["-O", "bigalloc,^flex_bg", "-b", "1024", "-C", "16384", "-g", "1024"]),
        ProbeFeatureSet("uninit_bg", mebibytes: 64, ["-O", "^metadata_csum,uninit_bg", "-b", "1024", "-g", "2048"]),
        ProbeFeatureSet("no journal", mebibytes: 64, ["-O", "^has_journal"]),
        ProbeFeatureSet("sparse_super2", mebibytes: 64, ["-O", "sparse_super2", "-b", "1024", "-g", "1024"]),
        ProbeFeatureSet(
            "no sparse_super", mebibytes: 32, ["-O", "^sparse_super,^resize_inode", "-b", "1024", "-g", "2048"]),
        ProbeFeatureSet("1 GiB sparse disk", mebibytes: 1024, []),
    ]

    @Test("used ranges add up to dumpe2fs's used blocks and copy into a working filesystem", arguments: featureSets)
    func usedRangesMatchDumpe2fsAndRestoreTheFiles(_ featureSet: ProbeFeatureSet) throws {
        let scratch = try ProbeScratch()
        let files = DiskProbeFixtures.sampleFiles(seed: UInt64(featureSet.name.utf8.count))
        let path = try DiskProbeFixtures.makeExtDisk(in: scratch, featureSet: featureSet, files: files)

        let filesystem = try DiskProbeFixtures.expectExactUsedRanges(on: path, files: files, scratch: scratch)
        #expect(filesystem.kind == featureSet.kind)
        #expect(filesystem.byteCount == featureSet.byteCount)
    }

    @Test("checksums seeded before a UUID change (metadata_csum_seed) are verified with the stored seed")
    func checksumSeedSurvivesNewUUID() throws {
        let scratch = try ProbeScratch()
        let files = DiskProbeFixtures.sampleFiles(seed: 3)
        let featureSet = ProbeFeatureSet("seed", mebibytes: 64, ["-O", "metadata_csum_seed", "-b", "1024"])
        let path = try DiskProbeFixtures.makeExtDisk(in: scratch, featureSet: featureSet, files: files)
        try ProbeTool.run("tune2fs", ["-U", "random", path])

        try DiskProbeFixtures.expectExactUsedRanges(on: path, files: files, scratch: scratch)
    }

    @Test("ext2's used ranges are found too, though ext2 is not captured")
    func ext2UsedRangesMatchDumpe2fs() throws {
        let scratch = try ProbeScratch()
        let featureSet = ProbeFeatureSet("ext2", mebibytes: 32, ["-t", "ext2", "-b", "1024"], kind: .ext2)
        let path = try DiskProbeFixtures.makeExtDisk(in: scratch, featureSet: featureSet, files: [:])
        let disk = try ProbeTestFileDisk(path: path)

        guard case .ext(let filesystem) = try DiskProbe.identify(disk) else {
            Issue.record("ext2 not identified")
            return
        }
        let ranges = try ProbeCopy.usedRanges(of: filesystem, on: disk)
        #expect(ranges.reduce(0) { $0 + UInt64($1.count) } == (try ProbeDumpedSuperblock(path: path).usedByteCount))
    }

    @Test(
        "a deleted file's data lies in no used range",
        arguments: [["-b", "1024"], [], ["-O", "bigalloc", "-C", "16384"], ["-O", "^metadata_csum,uninit_bg"]])
    func deletedDataIsNeverUsed(_ options: [String]) throws {
        let scratch = try ProbeScratch()
        let featureSet = ProbeFeatureSet("deleted data", mebibytes: 64, options)
        let files = DiskProbeFixtures.sampleFiles(seed: 7)
        let path = try DiskProbeFixtures.makeExtDisk(in: scratch, featureSet: featureSet, files: files)
        var seeded = SplitMix64(seed: 99)
        let secret = seeded.bytesOfBlocks(count: 48, blockSize: 4096)
        let secretPath = try scratch.folder("secret", files: ["secret.bin": secret]) + "/secret.bin"

        try ProbeTool.run("debugfs", ["-w", "-R", "write \(secretPath) secret.bin", path])
        #expect(try DiskProbeFixtures.secretBlocksInUse(secret, on: path) == secret.count / 1024)

        try ProbeTool.run("debugfs", ["-w", "-R", "rm secret.bin", path])
        let disk = try ProbeTestFileDisk(path: path)
        let all = [0..<disk.byteCount]
        #expect(try DiskProbeFixtures.countBlocks(of: secret, in: all, on: disk) == secret.count / 1024)
        #expect(try DiskProbeFixtures.secretBlocksInUse(secret, on: path) == 0)
    }

    @Test("a group without a bitmap reports the flex_bg metadata of other groups that lies inside it")
    func uninitializedGroupsKeepHostedMetadata() throws {
        let scratch = try ProbeScratch()
        let options = ["-b", "1024", "-g", "1024", "-O", "^has_journal", "-G", "16"]
        let featureSet = ProbeFeatureSet("flex hosts", mebibytes: 64, options)
        let path = try DiskProbeFixtures.makeExtDisk(in: scratch, featureSet: featureSet, files: [:])
        let original = ProbeTestMemoryDisk(bytes: Array(try Data(contentsOf: URL(fileURLWithPath: path))))

        // Groups 1... of an empty filesystem hold only metadata, so deriving them must give what
        // their bitmaps say; groups 16, 32 and 48 host the bitmaps and inode tables of 15 others.
        var flagged = original.bytes
        for group in 1..<64 { flagged[2048 + group * 64 + 0x12] |= 0x02 }
        DiskProbeFixtures.resealChecksums(&flagged, descriptorBytes: 64 * 64)
        let derived = ProbeTestMemoryDisk(bytes: flagged)

        let filesystem = try DiskProbe.capturableFilesystem(on: original)
        #expect(
            try ProbeCopy.usedRanges(of: filesystem, on: derived) == ProbeCopy.usedRanges(of: filesystem, on: original))
    }

    @Test("labels come from s_volume_name")
    func labelIsRead() throws {
        let scratch = try ProbeScratch()
        let labelled = ProbeFeatureSet("labelled", mebibytes: 16, ["-L", "golden-root"])
        let unlabelled = ProbeFeatureSet("unlabelled", mebibytes: 16, [])
        let withLabel = try DiskProbeFixtures.makeExtDisk(in: scratch, featureSet: labelled, files: [:])
        let withoutLabel = try DiskProbeFixtures.makeExtDisk(in: scratch, featureSet: unlabelled, files: [:])

        #expect(try DiskProbe.capturableFilesystem(on: ProbeTestFileDisk(path: withLabel)).label == "golden-root")
        #expect(try DiskProbe.capturableFilesystem(on: ProbeTestFileDisk(path: withoutLabel)).label == nil)
    }

    @Test(
        "the kind follows the features",
        arguments: [
            (["-t", "ext2"], ExtFilesystem.Kind.ext2), (["-t", "ext3"], .ext3), (["-t", "ext4"], .ext4),
            (["-t", "ext3", "-O", "extent"], .ext4), (["-t", "ext2", "-O", "dir_nlink"], .ext4),
            (
                [
                    "-t", "ext4", "-O",
                    "^has_journal,^extent,^flex_bg,^huge_file,^dir_nlink,^extra_isize,^metadata_csum,^64bit",
                ],
                .ext2
            ),
        ])
    func kindFollowsFeatures(_ options: [String], _ kind: ExtFilesystem.Kind) throws {
        let scratch = try ProbeScratch()
        let featureSet = ProbeFeatureSet("kind", mebibytes: 16, options)
        let path = try DiskProbeFixtures.makeExtDisk(in: scratch, featureSet: featureSet, files: [:])

        guard case .ext(let filesystem) = try DiskProbe.identify(ProbeTestFileDisk(path: path)) else {
            Issue.record("no ext filesystem identified")
            return
        }
        #expect(filesystem.kind == kind)
    }
}

/// Building and checking disks for the probe's tests.
enum DiskProbeFixtures {
    /// A few files of recognisable bytes: a small one, one spanning groups, an empty one.
    static func sampleFiles(seed: UInt64) -> [String: [UInt8]] {
        var random = SplitMix64(seed: seed)
        return [
            "hello.txt": Array("hello, captured disk\n".utf8),
            "medium.bin": random.bytes(300_000),
            "large.bin": random.bytes(3_000_000),
            "empty": [],
        ]
    }

    /// Makes a sparse disk file with `mkfs.ext4`, populated with `files`.
    static func makeExtDisk(
        in scratch: ProbeScratch, featureSet: ProbeFeatureSet, files: [String: [UInt8]]
    ) throws -> String {
        let name = "disk-\(UUID().uuidString).img"
        let path = try scratch.sparseFile(name, byteCount: featureSet.byteCount)
        let content = try scratch.folder("content-\(name)", files: files)
        try ProbeTool.run("mkfs.ext4", ["-q", "-F", "-d", content] + featureSet.options + [path])
        return path
    }

    /// Recomputes the superblock's checksum and those of the descriptors in the `descriptorBytes`
    /// from byte 2048 (where they start with 1 KiB blocks), after a test changed them.
    static func resealChecksums(_ bytes: inout [UInt8], descriptorBytes: Int) {
        var superblock = ExtSuperblock(bytes: Array(bytes[1024..<2048]))
        let features = superblock.features
        if features.contains(.metadataChecksums) {
            let checksum = ExtChecksums.superblockChecksum(superblock)
            bytes.replaceSubrange(2044..<2048, with: DiskProbeRefusalTests.le32(checksum))
            superblock = ExtSuperblock(bytes: Array(bytes[1024..<2048]))
        }

        let checksums = ExtChecksums(superblock, features: features)
        let size = features.contains(.is64Bit) ? 64 : 32
        var descriptors = Array(bytes[2048..<2048 + descriptorBytes])
        for group in 0..<descriptorBytes / size {
            let offset = group * size
            guard let sum = checksums.descriptorChecksum(descriptors, at: offset, size: size, group: UInt64(group))
            else { return }
            descriptors.replaceSubrange(offset + 0x1E..<offset + 0x20, with: [UInt8(sum & 0xFF), UInt8(sum >> 8)])
        }
        bytes.replaceSubrange(2048..<2048 + descriptorBytes, with: descriptors)
    }

    /// Checks that the used ranges of the filesystem in `path` are coalesced, add up to what
    /// `dumpe2fs` counts, and when copied alone give a filesystem that passes `e2fsck -fn` and
    /// holds `files`.
    @discardableResult
    static func expectExactUsedRanges(
        on path: String, files: [String: [UInt8]], scratch: ProbeScratch
    ) throws -> ExtFilesystem {
        let disk = try ProbeTestFileDisk(path: path)
        let filesystem = try DiskProbe.capturableFilesystem(on: disk)
        let ranges = try ProbeCopy.usedRanges(of: filesystem, on: disk)
        expectCoalesced(ranges, within: filesystem)

        let usedBytes = ranges.reduce(0) { $0 + UInt64($1.count) }
        #expect(usedBytes == (try ProbeDumpedSuperblock(path: path).usedByteCount))
        #expect(usedBytes == filesystem.usedByteCount)

        let copy = scratch.path("copy-\(UUID().uuidString).img")
        try ProbeCopy.copy(ranges, of: disk, to: copy)
        try ProbeTool.run("e2fsck", ["-fn", copy])
        try expectFiles(files, on: copy, scratch: scratch)
        return filesystem
    }

    /// Checks the ranges are sorted, separated by gaps, block-aligned and inside the filesystem.
    static func expectCoalesced(_ ranges: [Range<UInt64>], within filesystem: ExtFilesystem) {
        let blockSize = UInt64(filesystem.blockSize)
        for (previous, next) in zip(ranges, ranges.dropFirst()) {
            #expect(previous.upperBound < next.lowerBound, "ranges \(previous) and \(next) touch or overlap")
        }
        for range in ranges {
            #expect(!range.isEmpty && range.upperBound <= filesystem.byteCount)
            #expect(range.lowerBound % blockSize == 0 && range.upperBound % blockSize == 0)
        }
    }

    /// Checks each file reads back from the filesystem in `path` as written.
    static func expectFiles(_ files: [String: [UInt8]], on path: String, scratch: ProbeScratch) throws {
        for (name, content) in files {
            let output = scratch.path("dumped-\(UUID().uuidString)")
            try ProbeTool.run("debugfs", ["-R", "dump /\(name) \(output)", path])
            let dumped = try Data(contentsOf: URL(fileURLWithPath: output))
            #expect(Array(dumped) == content, "file \(name) differs after copying the used ranges")
        }
    }

    /// How many 1 KiB blocks of `secret` the used ranges of the filesystem in `path` hold.
    static func secretBlocksInUse(_ secret: [UInt8], on path: String) throws -> Int {
        let disk = try ProbeTestFileDisk(path: path)
        let filesystem = try DiskProbe.capturableFilesystem(on: disk)
        return try countBlocks(of: secret, in: ProbeCopy.usedRanges(of: filesystem, on: disk), on: disk)
    }

    /// How many 1 KiB blocks of `secret` appear, 1 KiB-aligned, inside `ranges` of `disk`.
    static func countBlocks(of secret: [UInt8], in ranges: [Range<UInt64>], on disk: some DiskSource) throws -> Int {
        let wanted = Set(stride(from: 0, to: secret.count, by: 1024).map { Array(secret[$0..<$0 + 1024]) })
        var found = 0
        for range in ranges {
            var offset = range.lowerBound
            while offset < range.upperBound {
                let count = Int(min(range.upperBound - offset, 1 << 20))
                let bytes = try disk.readBytes(count: count, at: offset)
                let blocks = stride(from: 0, to: count - 1023, by: 1024).map { Array(bytes[$0..<$0 + 1024]) }
                found += blocks.filter { wanted.contains($0) }.count
                offset += UInt64(count)
            }
        }
        return found
    }
}

extension SplitMix64 {
    /// `count` blocks of random bytes, each starting with its own number so no two are equal.
    mutating func bytesOfBlocks(count: Int, blockSize: Int) -> [UInt8] {
        (0..<count).flatMap { index in
            let header = Array("secret block \(index)".utf8)
            return header + [UInt8](repeating: 0, count: 32 - header.count) + bytes(blockSize - 32)
        }
    }
}
