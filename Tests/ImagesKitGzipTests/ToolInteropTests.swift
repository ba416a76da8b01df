import Foundation
import ImagesKit
import ImagesKitGzip
import Testing

/// Files made by the real gzip and pigz decode to what `gzip -dc` gives, and what the encoder
/// writes passes `gzip -t` and `gzip -dc`.
@Suite("Interoperability with gzip and pigz")
struct ToolInteropTests {
    static let original = Payload.sparseDisk(1_200_000, seed: 44) + Payload.text(300_000)

    /// Writes the original to a file in `directory` and returns what `tool` compresses it to.
    static func compress(
        with tool: String,
        _ arguments: [String],
        in directory: TemporaryDirectory
    ) throws -> [UInt8] {
        let plain = try directory.write(original, to: "disk.img")
        return try ExternalTool.output(tool, arguments + ["-c", plain.path])
    }

    @Test("gzip at levels 1, 6 and 9 decodes to the original", arguments: ["-1", "-6", "-9"])
    func gzipOutputDecodes(level: String) throws {
        let directory = try TemporaryDirectory()
        let compressed = try Self.compress(with: "gzip", [level], in: directory)
        let decoded = try decodeGzip(compressed, chunking: .random(seed: 9, maximum: 10_000))
        #expect(decoded.error == nil)
        #expect(decoded.output == Self.original)
        #expect(decoded.streamByteCount == UInt64(compressed.count))
    }

    @Test(
        "pigz output with its many sync-flush points decodes to the original",
        .enabled(if: ExternalTool.hasPigz, "pigz is not installed"),
        arguments: [["-6"], ["-1", "-b", "32"], ["-9", "-i", "-b", "64"]])
    func pigzOutputDecodes(arguments: [String]) throws {
        let directory = try TemporaryDirectory()
        let compressed = try Self.compress(with: "pigz", arguments + ["-p", "2"], in: directory)
        let decoded = try decodeGzip(compressed, chunking: .random(seed: 10, maximum: 30_000))
        #expect(decoded.error == nil)
        #expect(decoded.output == Self.original)
        #expect(decoded.memberCount == 1)
    }

    @Test("files gzipped separately and concatenated decode as one stream")
    func concatenatedGzipFilesDecodeAsOne() throws {
        let directory = try TemporaryDirectory()
        let first = try directory.write(Payload.text(70_000), to: "a")
        let second = try directory.write(Payload.random(50_000, seed: 4), to: "b")
        let compressed =
            try ExternalTool.output("gzip", ["-c", first.path]) + ExternalTool.output("gzip", ["-c", second.path])
        let joined = try directory.write(compressed, to: "ab.gz")

        let decoded = try decodeGzip(compressed, chunking: .fixed(999))
        #expect(decoded.error == nil)
        #expect(decoded.memberCount == 2)
        #expect(decoded.output == (try ExternalTool.output("gzip", ["-dc", joined.path])))
    }

    @Test("split-then-gzip pieces decode back to the whole", arguments: [1, 5, 40])
    func splitThenGzipDecodes(pieceCount: Int) throws {
        let directory = try TemporaryDirectory()
        let pieceSize = (Self.original.count + pieceCount - 1) / pieceCount
        var compressed: [UInt8] = []
        for (index, start) in stride(from: 0, to: Self.original.count, by: pieceSize).enumerated() {
            let piece = Array(Self.original[start..<min(start + pieceSize, Self.original.count)])
            let file = try directory.write(piece, to: "piece\(index)")
            compressed += try ExternalTool.output("gzip", ["-1", "-c", file.path])
        }
        let decoded = try decodeGzip(compressed, chunking: .random(seed: 12, maximum: 50_000))
        #expect(decoded.output == Self.original)
        #expect(decoded.memberCount == pieceCount)
    }

    @Test("the encoder's output passes gzip -t and gzip -dc gives the original", arguments: [1, 6, 9])
    func encoderOutputPassesGzip(level: Int) throws {
        let directory = try TemporaryDirectory()
        let compressed = try encodeGzip(Self.original, level: level, chunking: .random(seed: 13, maximum: 65_536))
        let file = try directory.write(compressed, to: "ours.img.gz")

        #expect(try ExternalTool.run("gzip", ["-t", file.path]).status == 0)
        #expect(try ExternalTool.output("gzip", ["-dc", file.path]) == Self.original)
    }

    @Test("the encoder's output of nothing is a valid empty gzip file")
    func emptyEncoderOutputPassesGzip() throws {
        let directory = try TemporaryDirectory()
        let file = try directory.write(try encodeGzip([]), to: "empty.gz")
        #expect(try ExternalTool.run("gzip", ["-t", file.path]).status == 0)
        #expect(try ExternalTool.output("gzip", ["-dc", file.path]).isEmpty)
    }

    @Test("gzip compresses about as small as the encoder at the same level")
    func encoderSizeMatchesGzip() throws {
        let directory = try TemporaryDirectory()
        let theirs = try Self.compress(with: "gzip", ["-6", "-n"], in: directory)
        let ours = try encodeGzip(Self.original, level: 6)
        #expect(Double(ours.count) <= Double(theirs.count) * 1.02)
    }
}
