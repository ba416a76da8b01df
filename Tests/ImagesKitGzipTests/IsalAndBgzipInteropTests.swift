import Foundation
import ImagesKit
import ImagesKitGzip
import Testing

/// Files made by igzip (ISA-L's deflate, not zlib's) and bgzip (a series of members with `BC`
/// extra fields and an empty last member) decode to the original, and what the encoder writes
/// passes `igzip -t`, `igzip -dc` and `pigz -t`.
@Suite("Interoperability with igzip and bgzip", .enabled(if: ExternalTool.hasIgzipAndBgzip, "install isal and tabix"))
struct IsalAndBgzipInteropTests {
    /// Empty, one byte, one BGZF block and a bit, and a few megabytes of sparse disk and text.
    static let sizes = [0, 1, 65_536, 3_000_000]

    static let payloads: [Int: [UInt8]] = Dictionary(
        uniqueKeysWithValues: sizes.map { size in
            let text = size / 6
            let disk = size > 100_000 ? Payload.sparseDisk(size - text, seed: 61) + Payload.text(text) : nil
            return (size, disk ?? Payload.random(size, seed: 62))
        })

    /// Writes the payload of `size` bytes to `disk.img` in `directory` and returns what `tool`
    /// compresses it to.
    static func compress(
        _ size: Int,
        with tool: String,
        _ arguments: [String],
        in directory: TemporaryDirectory
    ) throws -> [UInt8] {
        let plain = try directory.write(payloads[size, default: []], to: "disk.img")
        return try ExternalTool.output(tool, arguments + ["-c", plain.path])
    }

    @Test(
        "igzip at each of its levels decodes to the original, name field included",
        arguments: sizes, ["-0", "-1", "-2", "-3"])
    func igzipOutputDecodes(size: Int, level: String) throws {
        let directory = try TemporaryDirectory()
        let compressed = try Self.compress(size, with: "igzip", [level, "-N"], in: directory)
        // igzip 2.30 stores the path as given, directories and all, where gzip keeps the base name.
        let nameEnd = try #require(compressed.dropFirst(10).firstIndex(of: 0), "no name field")
        #expect(compressed[3] == 0x08, "igzip -N sets the name flag alone")
        #expect(String(decoding: compressed[10..<nameEnd], as: UTF8.self).hasSuffix("disk.img"))

        let decoded = try decodeGzip(compressed, chunking: .random(seed: 63, maximum: 20_000))
        #expect(decoded.error == nil)
        #expect(decoded.output == Self.payloads[size])
        #expect(decoded.memberCount == 1)
        #expect(decoded.streamByteCount == UInt64(compressed.count))
    }

    @Test(
        "bgzip's blocks with BC extra fields and its empty last member decode as one stream",
        arguments: sizes, [[], ["-l", "9"], ["-l", "0"], ["-@2"], ["-@2", "-l", "1"]])
    func bgzipOutputDecodes(size: Int, arguments: [String]) throws {
        let directory = try TemporaryDirectory()
        let compressed = try Self.compress(size, with: "bgzip", arguments, in: directory)
        let members = try #require(BlockGzip.members(of: compressed), "bgzip wrote a member without a BC subfield")
        #expect(members.allSatisfy { $0.flags == 0x04 && $0.extraLength == 6 }, "BGZF fixes FLG to 4 and XLEN to 6")
        #expect(members.last?.uncompressedSize == 0)
        #expect(members.dropLast().allSatisfy { $0.uncompressedSize > 0 })
        #expect(members.reduce(0) { $0 + Int($1.uncompressedSize) } == size)

        let decoded = try decodeGzip(compressed, chunking: .random(seed: 64, maximum: 5_000))
        #expect(decoded.error == nil)
        #expect(decoded.output == Self.payloads[size])
        #expect(decoded.memberCount == members.count)
        #expect(decoded.streamByteCount == UInt64(compressed.count))
    }

    @Test("the encoder's output passes igzip -t and igzip -dc gives the original", arguments: sizes, [1, 6, 9])
    func encoderOutputPassesIgzip(size: Int, level: Int) throws {
        let original = Self.payloads[size, default: []]
        let directory = try TemporaryDirectory()
        let compressed = try encodeGzip(original, level: level, chunking: .random(seed: 65, maximum: 65_536))
        let file = try directory.write(compressed, to: "ours.img.gz")

        #expect(try ExternalTool.run("igzip", ["-t", file.path]).status == 0)
        #expect(try ExternalTool.output("igzip", ["-dc", file.path]) == original)
    }

    @Test(
        "the encoder's output passes pigz -t", .enabled(if: ExternalTool.hasPigz, "pigz is not installed"),
        arguments: sizes)
    func encoderOutputPassesPigz(size: Int) throws {
        let directory = try TemporaryDirectory()
        let file = try directory.write(try encodeGzip(Self.payloads[size, default: []]), to: "ours.img.gz")
        #expect(try ExternalTool.run("pigz", ["-t", file.path]).status == 0)
    }

    // The two tests below move 4 GiB each, 10 to 25 seconds apiece; set IMAGESKIT_LONG_TESTS=1.

    /// Output past 4 GiB: 4 GiB and 20 MiB, so a trailer's length reads 20 MiB.
    static let longByteCount: UInt64 = (4096 + 20) << 20

    @Test(
        "igzip's single member of more than 4 GiB of zeros decodes in full though its trailer's length wraps",
        .enabled(if: OutputLimitTests.runsLongTests, "set IMAGESKIT_LONG_TESTS=1 to inflate 4 GiB"))
    func igzipMemberPastFourGibibytesDecodes() throws {
        let directory = try TemporaryDirectory()
        let sparse = try directory.write([], to: "zeros.img")
        let handle = try FileHandle(forWritingTo: sparse)
        try handle.truncate(atOffset: Self.longByteCount)
        try handle.close()
        let compressed = try ExternalTool.output("igzip", ["-1", "-c"], input: sparse)

        let zeros = [UInt8](repeating: 0, count: 1 << 20)
        var received: UInt64 = 0
        var nonZeroPieces = 0
        let decoded = try decodeGzip(compressed, outputLimit: 6_000_000_000, bufferSize: 1 << 20) { piece in
            received += UInt64(piece.count)
            // memcmp, because a byte-by-byte loop over 4 GiB takes minutes in a debug build.
            if piece.count > zeros.count || (!piece.isEmpty && memcmp(piece.baseAddress!, zeros, piece.count) != 0) {
                nonZeroPieces += 1
            }
        }

        #expect(decoded.error == nil)
        #expect(decoded.memberCount == 1)
        #expect(decoded.outputByteCount == Self.longByteCount)
        #expect(received == Self.longByteCount)
        #expect(nonZeroPieces == 0)
        #expect(UInt64(littleEndian32(compressed, at: compressed.count - 4)) == Self.longByteCount % (1 << 32))
    }

    @Test(
        "the encoder's single member of more than 4 GiB of zeros passes igzip -dc, counted in full",
        .enabled(if: OutputLimitTests.runsLongTests, "set IMAGESKIT_LONG_TESTS=1 to deflate 4 GiB"))
    func encoderMemberPastFourGibibytesPassesIgzip() throws {
        let encoder = try GzipCompressor(bufferSize: 1 << 20).makeEncoder(level: 1)
        let zeros = [UInt8](repeating: 0, count: 1 << 20)
        var compressed: [UInt8] = []
        try zeros.withUnsafeBytes { piece in
            for _ in 0..<Self.longByteCount >> 20 {
                try encoder.encode(piece) { compressed.append(contentsOf: $0) }
            }
        }
        try encoder.finish { compressed.append(contentsOf: $0) }
        let directory = try TemporaryDirectory()
        let file = try directory.write(compressed, to: "zeros.img.gz")

        // igzip -dc checks the trailer's CRC-32 and wrapped length and fails when they differ;
        // wc counts what the wrapped length can't show.
        let counted = try ExternalTool.pipeline(#"igzip -dc "$1" | wc -c"#, arguments: [file.path])
        #expect(counted.status == 0)
        #expect(String(decoding: counted.output, as: UTF8.self) == "\(Self.longByteCount)\n")
        #expect(UInt64(littleEndian32(compressed, at: compressed.count - 4)) == Self.longByteCount % (1 << 32))
    }
}
