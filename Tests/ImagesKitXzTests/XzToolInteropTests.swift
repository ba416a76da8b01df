import Foundation
import ImagesKit
import ImagesKitXz
import Testing

/// What the real xz and pixz write decodes to the original, and what the encoder writes passes
/// `xz -t` and decodes with `xz -dc`.
@Suite("Interoperability with xz and pixz")
struct XzToolInteropTests {
    /// About 1.3 MB of random runs, zero runs and text: two 1 MiB blocks.
    static let original = XzPayload.mixed(1_000_000, seed: 31) + XzPayload.text(300_000)

    @Test(
        "xz at several levels, threads and checks decodes to the original, on one thread or two",
        arguments: [
            ["-1"], ["-6"], ["-9"], ["-T0"], ["-T2", "--block-size=500KiB"], ["-2", "--check=none"],
            ["-2", "--check=crc32"], ["-2", "--check=crc64"], ["-2", "--check=sha256"],
        ])
    func xzOutputDecodes(arguments: [String]) throws {
        let directory = try ScratchDirectory()
        let compressed = try Tool.xz(arguments, of: Self.original, in: directory)
        for threads in [1, 2] {
            let decoded = try decodeXz(
                compressed, chunking: .random(seed: 4, maximum: 200_000), codec: testCodec(threads: threads))
            #expect(decoded.error == nil, "\(threads) threads: \(decoded.error?.description ?? "")")
            #expect(decoded.output == Self.original, "\(threads) threads")
            #expect(decoded.streamByteCount == UInt64(compressed.count), "\(threads) threads")
            #expect(decoded.streamCount == 1, "\(threads) threads")
        }
    }

    @Test(
        "pixz output, an xz stream that carries a file index, decodes to the original",
        .enabled(if: Tool.hasPixz, "pixz is not installed"),
        arguments: [["-1"], ["-6", "-p", "2"], ["-9", "-f", "0.5"]])
    func pixzOutputDecodes(arguments: [String]) throws {
        let directory = try ScratchDirectory()
        let plain = try directory.write(Self.original, to: "disk.img")
        let compressed = try Tool.output("pixz", arguments, input: plain)
        #expect(try Tool.run("xz", ["-t"], input: directory.write(compressed, to: "disk.img.xz")).status == 0)
        for threads in [1, 2] {
            let decoded = try decodeXz(
                compressed, chunking: .random(seed: 5, maximum: 300_000), codec: testCodec(threads: threads))
            #expect(decoded.error == nil, "\(decoded.error?.description ?? "")")
            #expect(decoded.output == Self.original)
        }
    }

    @Test("streams joined by cat, with stream padding between and after them, decode as one")
    func concatenatedStreamsWithPaddingDecode() throws {
        let directory = try ScratchDirectory()
        let parts = [XzPayload.text(90_000), [], XzPayload.random(70_000, seed: 2), XzPayload.zeros(300_000)]
        var files: [String] = []
        for (index, part) in parts.enumerated() {
            let stream = try Tool.xz(["-\(index * 3)"], of: part, in: directory)
            files.append(try directory.write(stream, to: "part\(index).xz").path)
            files.append(try directory.write(XzPayload.zeros(4 * index), to: "padding\(index)").path)
        }
        let joined = try Tool.output("cat", files)
        #expect(try Tool.run("xz", ["-t"], input: directory.write(joined, to: "joined.xz")).status == 0)

        for (threads, chunking) in [(1, Chunking.fixed(777)), (2, .random(seed: 6, maximum: 5000))] {
            let decoded = try decodeXz(joined, chunking: chunking, codec: testCodec(threads: threads))
            #expect(decoded.error == nil, "\(decoded.error?.description ?? "")")
            #expect(decoded.output == parts.flatMap { $0 })
            #expect(decoded.streamCount == 4)
            #expect(decoded.streamByteCount == UInt64(joined.count))
        }
    }

    @Test(
        "the encoder's output passes xz -t and xz -dc gives the original",
        arguments: [1, 2], [1, 6, 9])
    func encoderOutputPassesXz(threads: Int, level: Int) throws {
        let directory = try ScratchDirectory()
        let mixed = XzPayload.mixed(3_000_000, seed: 32)
        for size in [0, 1, 65_536, mixed.count] {
            let original = Array(mixed.prefix(size))
            let compressed = try encodeXz(
                original, level: level, chunking: .random(seed: 7, maximum: 100_000),
                codec: testCodec(threads: threads))
            let file = try directory.write(compressed, to: "ours-\(size).img.xz")
            #expect(try Tool.run("xz", ["-t", file.path]).status == 0, "\(size) bytes")
            #expect(try Tool.output("xz", ["-dc", file.path]) == original, "\(size) bytes")
        }
    }

    @Test("the multi-threaded encoder writes a block every block size, with a CRC-64 check by default")
    func multiThreadedEncoderWritesBlocks() throws {
        let directory = try ScratchDirectory()
        let compressed = try encodeXz(Self.original, level: 1, codec: testCodec(threads: 2))
        let file = try directory.write(compressed, to: "blocks.xz")
        let listing = String(decoding: try Tool.output("xz", ["--robot", "--list", file.path]), as: UTF8.self)
        let totals = try #require(listing.split(separator: "\n").first { $0.hasPrefix("totals") })
        let fields = totals.split(separator: "\t", omittingEmptySubsequences: false)
        #expect(fields[1] == "1", "one stream")
        #expect(fields[2] == "2", "1.3 MB in 1 MiB blocks")
        #expect(fields[6] == "CRC64")
    }

    @Test("each check type the encoder offers is written and verified by xz", arguments: XzCompressor.Check.allCases)
    func encoderChecksAreWhatXzExpects(check: XzCompressor.Check) throws {
        let directory = try ScratchDirectory()
        let names: [XzCompressor.Check: String] = [.none: "None", .crc32: "CRC32", .crc64: "CRC64", .sha256: "SHA-256"]
        let compressed = try encodeXz(XzPayload.text(50_000), level: 3, codec: testCodec(check: check))
        let file = try directory.write(compressed, to: "check.xz")
        let listing = String(decoding: try Tool.output("xz", ["--robot", "--list", file.path]), as: UTF8.self)
        #expect(listing.contains("\t\(names[check]!)\t"))
        #expect(try Tool.run("xz", ["-t", file.path]).status == 0)
    }

    @Test("the encoder compresses about as small as xz at the same level, on one thread")
    func encoderSizeMatchesXz() throws {
        let directory = try ScratchDirectory()
        let theirs = try Tool.xz(["-6", "-T1"], of: Self.original, in: directory)
        let ours = try encodeXz(Self.original, level: 6)
        #expect(Double(ours.count) <= Double(theirs.count) * 1.01)
    }
}
