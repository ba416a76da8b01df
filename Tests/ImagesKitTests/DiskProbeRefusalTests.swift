import Foundation
import ImagesKitTestSupport
import Testing

@testable import ImagesKit

@Suite("Disk probe: what capture refuses, and why")
struct DiskProbeRefusalTests {
    @Test("ext2 is refused by name")
    func ext2IsRefused() throws {
        let scratch = try ProbeScratch()
        let featureSet = ProbeFeatureSet("ext2", mebibytes: 16, ["-t", "ext2"], kind: .ext2)
        let path = try DiskProbeFixtures.makeExtDisk(in: scratch, featureSet: featureSet, files: [:])

        try Self.expectRefusal(
            of: path, code: .unsupportedFilesystem, mentioning: "holds ext2; only ext3 and ext4 can be captured")
    }

    @Test("an all-zero disk holds no filesystem")
    func blankDiskIsRefused() throws {
        let scratch = try ProbeScratch()
        let path = try scratch.sparseFile("blank.img", byteCount: 16 << 20)

        #expect(try DiskProbe.identify(ProbeTestFileDisk(path: path)) == .unknown)
        try Self.expectRefusal(of: path, code: .unsupportedFilesystem, mentioning: "holds no filesystem;")
    }

    @Test("a disk smaller than the probe's prefix is read without failing")
    func tinyDiskIsIdentified() throws {
        let scratch = try ProbeScratch()
        let path = try scratch.sparseFile("tiny.img", byteCount: 700)

        #expect(try DiskProbe.identify(ProbeTestFileDisk(path: path)) == .unknown)
    }

    @Test(
        "other filesystems are refused by name",
        arguments: [
            ("mkfs.xfs", ["-q", "-f"], 320, "xfs"), ("mkfs.btrfs", ["-q", "-f"], 128, "btrfs"),
            ("mkswap", ["-q"], 16, "swap space"), ("mkfs.vfat", [], 32, "vfat"),
            ("mkfs.ext4", ["-q", "-F", "-O", "journal_dev"], 16, "an ext3/ext4 external journal"),
        ])
    func otherFilesystemsAreRefused(_ tool: String, _ options: [String], _ mebibytes: UInt64, _ name: String) throws {
        try #require(ProbeTool.isInstalled(tool), "install \(tool) (xfsprogs, btrfs-progs, dosfstools) to run this")
        let scratch = try ProbeScratch()
        let path = try scratch.sparseFile("other.img", byteCount: mebibytes << 20)
        try ProbeTool.run(tool, options + [path])

        #expect(try DiskProbe.identify(ProbeTestFileDisk(path: path)) == .otherFilesystem(name))
        try Self.expectRefusal(of: path, code: .unsupportedFilesystem, mentioning: "holds \(name); only ext3 and ext4")
    }

    @Test(
        "partition tables written by sfdisk are refused by name",
        arguments: [
            ("start=2048, size=20480, type=83\n", "an MBR partition table"),
            (
                "label: gpt\nstart=2048, size=20480, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4\n",
                "a GPT partition table"
            ),
        ])
    func partitionTablesAreRefused(_ script: String, _ table: String) throws {
        try #require(ProbeTool.isInstalled("sfdisk"), "install fdisk to run this")
        let scratch = try ProbeScratch()
        let path = try scratch.sparseFile("partitioned.img", byteCount: 32 << 20)
        try ProbeTool.run("sfdisk", ["-q", path], input: script)

        #expect(try DiskProbe.identify(ProbeTestFileDisk(path: path)) == .partitionTable(table))
        try Self.expectRefusal(
            of: path, code: .partitionedDisk,
            mentioning: "holds \(table); capture an unpartitioned disk whose filesystem starts at byte 0")
    }

    @Test("a valid ext superblock wins over an old boot sector left by an earlier partition table")
    func extWinsOverOldBootSector() throws {
        let scratch = try ProbeScratch()
        let featureSet = ProbeFeatureSet("old MBR", mebibytes: 16, [])
        let path = try DiskProbeFixtures.makeExtDisk(in: scratch, featureSet: featureSet, files: [:])
        try scratch.patch(path, at: 446, with: [0x80, 0, 0, 0, 0x83, 0, 0, 0, 0, 8, 0, 0, 0, 0x50, 0, 0])
        try scratch.patch(path, at: 510, with: [0x55, 0xAA])

        #expect(try DiskProbe.capturableFilesystem(on: ProbeTestFileDisk(path: path)).kind == .ext4)
    }

    @Test("a filesystem larger than its disk is refused with both sizes")
    func shrunkDiskIsRefused() throws {
        let scratch = try ProbeScratch()
        let featureSet = ProbeFeatureSet("shrunk", mebibytes: 64, [])
        let path = try DiskProbeFixtures.makeExtDisk(in: scratch, featureSet: featureSet, files: [:])
        try FileHandle(forWritingTo: URL(fileURLWithPath: path)).truncate(atOffset: 32 << 20)

        try Self.expectRefusal(
            of: path, code: .damagedFilesystem, mentioning: "spans 67108864 bytes but the disk holds only 33554432")
    }

    /// Superblock fields at byte 1024 + offset, and group descriptors from byte 2048 (1 KiB blocks).
    static let corruptions: [(String, UInt64, [UInt8], String)] = [
        ("absurd block size", 1024 + 0x18, le32(30), "block size"),
        ("no blocks per group", 1024 + 0x20, le32(0), "group spans"),
        ("more blocks per group than a bitmap tracks", 1024 + 0x20, le32(9000), "group spans"),
        ("no inodes per group", 1024 + 0x28, le32(0), "inodes"),
        ("block count beyond 2^32 groups", 1024 + 0x150, le32(0x0001_0000), "block groups exceed"),
        ("block count beyond 2^64 bytes", 1024 + 0x150, le32(0xFFFF_FFFF), "exceed 2^64 bytes"),
        ("more free blocks than blocks", 1024 + 0x0C, le32(0xFFFF_FFF0), "free blocks"),
        ("odd inode size", 1024 + 0x58, [100, 0], "inode takes 100 bytes"),
        ("odd descriptor size", 1024 + 0xFE, [48, 0], "descriptor takes 48 bytes"),
        ("too many reserved descriptor blocks", 1024 + 0xCE, [0xFF, 0xFF], "reserved"),
        ("first data block 7", 1024 + 0x14, le32(7), "first data block"),
        ("block bitmap past the end", 2048 + 64, le32(0xFFFF_FF00), "group 1's block bitmap"),
        ("inode table past the end", 2048 + 128 + 8, le32(16383), "group 2's inode table"),
        ("inode bitmap in block 0", 2048 + 192 + 4, le32(0), "group 3's inode bitmap"),
        ("an inode count that disagrees with the groups", 1024 + 0x00, le32(12345), "with 12345 inodes"),
        ("no blocks at all", 1024 + 0x04, le32(0), "counts only 0 blocks"),
        ("more inodes per group than a bitmap tracks", 1024 + 0x28, le32(0x00FF_0000), "one bitmap block tracks"),
        ("a block bitmap inside the superblock", 2048 + 64, le32(1), "group 1's block bitmap"),
    ]

    @Test("damaged superblocks and descriptors are refused, never trusted", arguments: corruptions)
    func damagedMetadataIsRefused(_ name: String, _ offset: UInt64, _ bytes: [UInt8], _ fragment: String) throws {
        let scratch = try ProbeScratch()
        let options = ["-b", "1024", "-g", "1024", "-O", "^metadata_csum,^uninit_bg"]
        let featureSet = ProbeFeatureSet(name, mebibytes: 16, options)
        let path = try DiskProbeFixtures.makeExtDisk(in: scratch, featureSet: featureSet, files: [:])
        try scratch.patch(path, at: offset, with: bytes)

        try Self.expectRefusal(of: path, code: .damagedFilesystem, mentioning: fragment)
    }

    /// A byte to flip in a checksummed filesystem (1 KiB blocks), the options, and what is named.
    static let checksumDamage: [(String, [String], String)] = [
        ("superblock", ["-O", "metadata_csum"], "superblock's checksum"),
        ("descriptor", ["-O", "metadata_csum"], "group 1's descriptor checksum"),
        ("descriptor", ["-O", "^metadata_csum,uninit_bg"], "group 1's descriptor checksum"),
        ("bitmap", ["-O", "metadata_csum"], "group 0's block bitmap checksum"),
    ]

    @Test("metadata whose checksum fails is refused", arguments: checksumDamage)
    func checksumFailureIsRefused(_ part: String, _ options: [String], _ fragment: String) throws {
        let scratch = try ProbeScratch()
        let featureSet = ProbeFeatureSet(part, mebibytes: 16, ["-b", "1024", "-g", "1024"] + options)
        let path = try DiskProbeFixtures.makeExtDisk(in: scratch, featureSet: featureSet, files: [:])
        let offsets = ["superblock": 1024 + 0x08, "descriptor": 2048 + 64 + 0x0C]
        let offset = try offsets[part] ?? Self.blockBitmapOfGroupZero(path) * 1024 + 100
        try scratch.flipBit(path, at: UInt64(offset))

        guard part == "bitmap" else {
            try Self.expectRefusal(of: path, code: .damagedFilesystem, mentioning: fragment)
            return
        }
        // Bitmaps are checked as the used ranges are walked, which is where capture reads them.
        let disk = try ProbeTestFileDisk(path: path)
        let filesystem = try DiskProbe.capturableFilesystem(on: disk)
        let error = #expect(throws: ImagesKitError.self) { try filesystem.forEachUsedRange(on: disk) { _ in } }
        #expect(error?.code == .damagedFilesystem && error?.message.contains(fragment) == true)
    }

    static func blockBitmapOfGroupZero(_ path: String) throws -> Int {
        let text = try ProbeTool.run("dumpe2fs", [path])
        guard let line = text.split(separator: "\n").first(where: { $0.contains("Block bitmap at ") }),
            let number = line.split(separator: " ").dropFirst(3).first.flatMap({ Int($0) })
        else { throw ProbeTestFailure("dumpe2fs printed no block bitmap") }
        return number
    }

    /// `s_state` values (at byte 1024 + 0x3A) and the reason named.
    static let uncleanStates: [(UInt8, String)] = [
        (0, "mounted or was not cleanly unmounted"),
        (3, "recorded errors"),
    ]

    @Test("a filesystem that was not cleanly unmounted or has errors is refused", arguments: uncleanStates)
    func uncleanFilesystemIsRefused(_ state: UInt8, _ fragment: String) throws {
        let scratch = try ProbeScratch()
        let path = try Self.uncheckedExt4(in: scratch)
        try scratch.patch(path, at: 1024 + 0x3A, with: [state, 0])

        try Self.expectRefusal(of: path, code: .damagedFilesystem, mentioning: fragment)
        try Self.expectRefusal(of: path, code: .damagedFilesystem, mentioning: "run e2fsck -f")
    }

    @Test("a filesystem whose journal needs replaying is refused")
    func journalNeedingRecoveryIsRefused() throws {
        let scratch = try ProbeScratch()
        let path = try Self.uncheckedExt4(in: scratch)
        try scratch.setBits(path, at: 1024 + 0x60, mask: 0x04)

        try Self.expectRefusal(
            of: path, code: .damagedFilesystem, mentioning: "journal holds changes not yet written")
    }

    @Test("an incompatible feature ImagesKit does not know is refused by its name")
    func unknownIncompatibleFeatureIsRefused() throws {
        let scratch = try ProbeScratch()
        let path = try Self.uncheckedExt4(in: scratch)
        try scratch.setBits(path, at: 1024 + 0x60 + 3, mask: 0x40)

        try Self.expectRefusal(of: path, code: .unsupportedFilesystem, mentioning: "(FEATURE_I30)")
    }

    /// An ext4 without metadata checksums, so superblock fields can be changed in place.
    static func uncheckedExt4(in scratch: ProbeScratch) throws -> String {
        let featureSet = ProbeFeatureSet("unchecked", mebibytes: 16, ["-O", "^metadata_csum"])
        return try DiskProbeFixtures.makeExtDisk(in: scratch, featureSet: featureSet, files: [:])
    }

    static func le32(_ value: UInt32) -> [UInt8] {
        (0..<4).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) }
    }

    static func expectRefusal(of path: String, code: ImagesKitError.Code, mentioning text: String) throws {
        let disk = try ProbeTestFileDisk(path: path)
        let error = #expect(throws: ImagesKitError.self) { try DiskProbe.capturableFilesystem(on: disk) }
        #expect(error?.code == code)
        #expect(error?.message.contains(text) == true, "message: \(error?.message ?? "none")")
        #expect(error?.context["disk"] == disk.name)
    }
}

@Suite("Disk probe: hostile metadata")
struct DiskProbeHostileMetadataTests {
    /// Superblock fields the layout depends on, as offsets from byte 1024.
    static let superblockFields = [
        0x00, 0x04, 0x0C, 0x14, 0x18, 0x1C, 0x20, 0x24, 0x28, 0x3A, 0x4C, 0x58, 0x5C, 0x60, 0x64, 0xCE, 0xFE,
        0x104, 0x150, 0x158, 0x24C, 0x250,
    ]

    @Test(
        "randomly damaged metadata gives a typed error or sane ranges, never a crash",
        arguments: [["-O", "^has_journal"], ["-O", "^has_journal,^metadata_csum,uninit_bg,^flex_bg"]])
    func mutatedMetadataNeverCrashes(_ options: [String]) throws {
        let scratch = try ProbeScratch()
        let featureSet = ProbeFeatureSet("fuzz", mebibytes: 4, ["-b", "1024", "-g", "256"] + options)
        var seeded = SplitMix64(seed: 5)
        let files = ["data.bin": seeded.bytes(600_000)]
        let path = try DiskProbeFixtures.makeExtDisk(in: scratch, featureSet: featureSet, files: files)
        let original = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        var random = SplitMix64(seed: 2024)

        for round in 0..<400 {
            var bytes = original
            for _ in 0..<Int.random(in: 1...3, using: &random) {
                Self.mutate(&bytes, using: &random)
            }
            // Most rounds fix the checksums up so the damage reaches the field checks.
            if round % 4 != 0 { DiskProbeFixtures.resealChecksums(&bytes, descriptorBytes: 1024) }
            try Self.expectSaneOutcome(on: ProbeTestMemoryDisk(bytes: bytes))
        }
    }

    /// Writes a random or extreme 32-bit value into a superblock field or the descriptor block.
    static func mutate(_ bytes: inout [UInt8], using random: inout SplitMix64) {
        let field = superblockFields.randomElement(using: &random)!
        let offset = Bool.random(using: &random) ? 1024 + field : 2048 + Int.random(in: 0..<1020, using: &random)
        let extremes: [UInt32] = [0, 1, 7, 0xFFFF_FFFF, 0x8000_0000, UInt32.random(in: 0...4096, using: &random)]
        let value = Bool.random(using: &random) ? extremes.randomElement(using: &random)! : random.next32()
        for index in 0..<4 { bytes[offset + index] = UInt8(truncatingIfNeeded: value >> (8 * index)) }
    }

    static func expectSaneOutcome(on disk: ProbeTestMemoryDisk) throws {
        do {
            _ = try DiskProbe.capturableFilesystem(on: disk)
        } catch {
            #expect(error is ImagesKitError, "\(error)")
        }

        do {
            guard case .ext(let filesystem) = try DiskProbe.identify(disk) else { return }
            var last: UInt64 = 0
            try filesystem.forEachUsedRange(on: disk) { range in
                #expect(range.lowerBound >= last && !range.isEmpty && range.upperBound <= filesystem.byteCount)
                last = range.upperBound + 1
            }
        } catch let error as ImagesKitError {
            #expect([.damagedFilesystem, .ioFailure].contains(error.code), "\(error)")
        }
    }
}

extension SplitMix64 {
    mutating func next32() -> UInt32 {
        UInt32(truncatingIfNeeded: next())
    }
}
