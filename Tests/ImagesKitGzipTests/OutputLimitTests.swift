import Foundation
import ImagesKit
import ImagesKitGzip
import Testing

/// The decoder stops at its output limit, counts in 64 bits, and never trusts the trailer's size.
@Suite("Output limit and size counting")
struct OutputLimitTests {
    /// 10 MB of zeros compressed by the real gzip.
    static func tenMegabytesOfZeros() throws -> [UInt8] {
        let directory = try TemporaryDirectory()
        let file = try directory.write(Payload.zeros(10_000_000), to: "zeros.img")
        return try ExternalTool.output("gzip", ["-6", "-c", file.path])
    }

    /// One member of `mebibytes` MiB of zeros, assembled from identical deflate blocks by python3
    /// so that even more than 4 GiB of output takes a few kilobytes and a second to build.
    /// - Parameters:
    ///   - mebibytes: The size of the output.
    ///   - checked: Whether to compute the real CRC-32, which takes a second per 3 GiB.
    static func zeroBomb(mebibytes: Int, checked: Bool = true) throws -> [UInt8] {
        try ExternalTool.python(
            """
            n = \(mebibytes)
            chunk = bytes(1 << 20)
            c = zlib.compressobj(9, zlib.DEFLATED, -15)
            block = c.compress(chunk) + c.flush(zlib.Z_FULL_FLUSH)
            crc = 0
            big = bytes(64 << 20)
            if \(checked ? "True" : "False"):
                for _ in range(n // 64): crc = zlib.crc32(big, crc)
                for _ in range(n % 64): crc = zlib.crc32(chunk, crc)
            head = bytes([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3])
            out.write(head + block * n + b'\\x03\\x00' + struct.pack('<II', crc, (n << 20) & 0xffffffff))
            """)
    }

    @Test("10 MB of zeros under a 1 MB limit stops at the limit without handing more out")
    func limitStopsTenMegabytesAtOne() throws {
        let compressed = try Self.tenMegabytesOfZeros()
        for chunking in [Chunking.whole, .random(seed: 6, maximum: 700)] {
            var received = 0
            let decoded = try decodeGzip(compressed, chunking: chunking, outputLimit: 1_000_000) {
                received += $0.count
            }
            #expect(decoded.errorCode == .imageTooLarge)
            #expect(received == 1_000_000)
            #expect(decoded.outputByteCount == 1_000_000)
            #expect(decoded.error?.context["limit"] == "1000000")
            #expect(decoded.error?.message.contains("more than 1000000 bytes") == true)
        }
    }

    @Test("the decoder stops reading soon after the limit, without inflating the rest")
    func limitStopsEarlyInTheInput() throws {
        let compressed = try Self.tenMegabytesOfZeros()
        let decoded = try decodeGzip(compressed, outputLimit: 1_000_000) { _ in }
        #expect(decoded.errorCode == .imageTooLarge)
        #expect(decoded.streamByteCount < UInt64(compressed.count / 4))
    }

    @Test("a stream exactly at the limit decodes; one byte more is too large", arguments: [1, 100, 65_536])
    func limitIsExact(bufferSize: Int) throws {
        let original = Payload.sparseDisk(300_000, seed: 17)
        let compressed = try encodeGzip(original) + encodeGzip([])
        let exact = try decodeGzip(compressed, outputLimit: UInt64(original.count), bufferSize: bufferSize)
        let under = try decodeGzip(
            compressed, chunking: .random(seed: 2, maximum: 999), outputLimit: UInt64(original.count - 1),
            bufferSize: bufferSize)

        #expect(exact.error == nil)
        #expect(exact.output == original)
        #expect(under.errorCode == .imageTooLarge)
        #expect(under.output == Array(original.dropLast()))
    }

    @Test("a zero limit takes an empty member and refuses the first byte")
    func zeroLimit() throws {
        #expect(try decodeGzip(encodeGzip([]), outputLimit: 0).error == nil)
        let refused = try decodeGzip(encodeGzip([7]), outputLimit: 0)
        #expect(refused.errorCode == .imageTooLarge)
        #expect(refused.output.isEmpty)
    }

    /// Whether to run tests that take more than ten seconds, such as inflating 4 GiB.
    static let runsLongTests = ProcessInfo.processInfo.environment["IMAGESKIT_LONG_TESTS"] == "1"

    // zlib copies runs byte by byte, so 4 GiB of output takes 5 to 15 seconds here: too long for
    // every run of the suite; set IMAGESKIT_LONG_TESTS=1 to include it.
    @Test(
        "more than 4 GiB of output is counted in full though the trailer's length wraps",
        .enabled(if: runsLongTests, "set IMAGESKIT_LONG_TESTS=1 to inflate 4 GiB"))
    func outputPastFourGibibytesIsCountedInFull() throws {
        let mebibytes = 4096 + 20
        let bomb = try Self.zeroBomb(mebibytes: mebibytes)
        let expected = UInt64(mebibytes) << 20
        var received: UInt64 = 0
        let decoded = try decodeGzip(bomb, outputLimit: 6_000_000_000, bufferSize: 1 << 20) { piece in
            received += UInt64(piece.count)
        }

        #expect(decoded.error == nil)
        #expect(decoded.outputByteCount == expected)
        #expect(received == expected)
        #expect(UInt64(bomb.suffix(4).reversed().reduce(0) { $0 << 8 | UInt32($1) }) == expected % (1 << 32))
    }

    @Test("a small file that inflates to gigabytes stops at a 1 MB limit after reading a few kilobytes")
    func bombStopsAtLimit() throws {
        let bomb = try Self.zeroBomb(mebibytes: 2048, checked: false)
        let clock = ContinuousClock()
        var outcome: DecodeOutcome?
        let elapsed = try clock.measure {
            outcome = try decodeGzip(bomb, outputLimit: 1_000_000) { _ in }
        }
        #expect(outcome?.errorCode == .imageTooLarge)
        #expect(outcome?.outputByteCount == 1_000_000)
        #expect((outcome?.streamByteCount ?? .max) < 4096)
        #expect(elapsed < .seconds(5))
    }
}
