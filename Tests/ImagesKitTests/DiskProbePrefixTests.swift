import Foundation
import ImagesKitTestSupport
import Testing

@testable import ImagesKit

@Suite("Disk probe: identifying uploads by their first bytes")
struct DiskProbePrefixTests {
    /// A prefix of zeros with `text` or bytes placed at offsets.
    static func prefix(_ parts: [(Int, [UInt8])], count: Int = DiskProbe.prefixByteCount) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        for (offset, part) in parts { bytes.replaceSubrange(offset..<offset + part.count, with: part) }
        return bytes
    }

    static func ascii(_ text: String) -> [UInt8] { Array(text.utf8) }

    static let signatures: [(String, [(Int, [UInt8])], DiskContent)] = [
        ("gzip", [(0, [0x1F, 0x8B, 0x08, 0x00])], .compressed("gzip-compressed data")),
        ("xz", [(0, [0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00])], .compressed("xz-compressed data")),
        ("zstd", [(0, [0x28, 0xB5, 0x2F, 0xFD])], .compressed("zstd-compressed data")),
        ("qcow2", [(0, [0x51, 0x46, 0x49, 0xFB, 0, 0, 0, 3])], .compressed("a qcow2 image")),
        ("VMDK", [(0, ascii("KDMV"))], .compressed("a VMDK image")),
        ("tar", [(0, ascii("etc/")), (257, ascii("ustar"))], .compressed("a tar archive")),
        ("LUKS", [(0, ascii("LUKS") + [0xBA, 0xBE, 0, 2])], .otherFilesystem("a LUKS volume")),
        ("LVM", [(512, ascii("LABELONE")), (536, ascii("LVM2 001"))], .otherFilesystem("an LVM physical volume")),
        ("iso9660", [(0x8001, ascii("CD001"))], .otherFilesystem("iso9660")),
        ("btrfs", [(0x10040, ascii("_BHRfS_M"))], .otherFilesystem("btrfs")),
        ("swap", [(4086, ascii("SWAPSPACE2"))], .otherFilesystem("swap space")),
        ("xfs", [(0, ascii("XFSB"))], .otherFilesystem("xfs")),
        ("GPT", [(510, [0x55, 0xAA]), (512, ascii("EFI PART"))], .partitionTable("a GPT partition table")),
        ("MBR", [(446 + 4, [0x83]), (510, [0x55, 0xAA])], .partitionTable("an MBR partition table")),
        ("boot signature with no partition", [(510, [0x55, 0xAA])], .unknown),
        ("zeros", [], .unknown),
    ]

    @Test("signatures are named", arguments: signatures)
    func signatureIsNamed(_ name: String, _ parts: [(Int, [UInt8])], _ expected: DiskContent) {
        #expect(DiskProbe.identify(prefix: Self.prefix(parts)) == expected)
    }

    @Test("short prefixes are read without failing", arguments: [0, 1, 100, 1100, 2047, 2048, 4096])
    func shortPrefixIsSafe(_ count: Int) {
        #expect(DiskProbe.identify(prefix: [UInt8](repeating: 0xFF, count: count)) == .unknown)
        #expect(DiskProbe.identify(prefix: Self.prefix([(0, [0x1F, 0x8B])], count: max(count, 2))) != .unknown)
    }

    @Test("random bytes are not mistaken for anything")
    func randomBytesAreUnknown() {
        var random = SplitMix64(seed: 11)
        #expect(DiskProbe.identify(prefix: random.bytes(DiskProbe.prefixByteCount)) == .unknown)
    }

    @Test("real gzip output is named", .enabled(if: ProbeTool.isInstalled("gzip")))
    func gzipOutputIsNamed() throws {
        let scratch = try ProbeScratch()
        let folder = try scratch.folder("plain", files: ["disk.img": [UInt8](repeating: 0, count: 100_000)])
        let compressed = try ProbeTool.runForBytes("gzip", ["-c", folder + "/disk.img"])

        #expect(DiskProbe.identify(prefix: compressed) == .compressed("gzip-compressed data"))
    }

    @Test("an ext4 image's first 64 KiB identify it as the whole disk does")
    func extPrefixMatchesDisk() throws {
        let scratch = try ProbeScratch()
        let featureSet = ProbeFeatureSet("prefix", mebibytes: 32, ["-L", "uploaded"])
        let path = try DiskProbeFixtures.makeExtDisk(in: scratch, featureSet: featureSet, files: [:])
        let disk = try ProbeTestFileDisk(path: path)

        let fromPrefix = DiskProbe.identify(prefix: try disk.readBytes(count: 65536, at: 0))
        #expect(fromPrefix == (try DiskProbe.identify(disk)))
        guard case .ext(let filesystem) = fromPrefix else {
            Issue.record("no ext filesystem in the prefix")
            return
        }
        #expect(filesystem.label == "uploaded" && filesystem.featureNames.contains("metadata_csum"))
    }
}

@Suite("Disk probe: bitmap runs")
struct DiskProbeBitmapTests {
    @Test("set-bit runs match a bit-by-bit reading", arguments: [0, 1, 7, 8, 9, 63, 64, 100, 1000, 8192])
    func runsMatchBitByBit(_ bitCount: Int) {
        var random = SplitMix64(seed: UInt64(bitCount))
        for density in [0, 1, 50, 99, 100] {
            let bitmap = (0..<(bitCount + 7) / 8 + 1).map { _ in Self.byte(density: density, using: &random) }
            var runs: [Range<Int>] = []
            forEachSetRun(in: bitmap, bitCount: bitCount) { runs.append($0) }

            let expected = (0..<bitCount).filter { bitmap[$0 / 8] & (1 << ($0 % 8)) != 0 }
            #expect(runs.flatMap { Array($0) } == expected)
            #expect(zip(runs, runs.dropFirst()).allSatisfy { $0.upperBound < $1.lowerBound })
        }
    }

    /// A byte whose bits are each set with `density` percent probability.
    static func byte(density: Int, using random: inout SplitMix64) -> UInt8 {
        (0..<8).reduce(0) { byte, bit in
            Int.random(in: 0..<100, using: &random) < density ? byte | 1 << bit : byte
        }
    }
}
