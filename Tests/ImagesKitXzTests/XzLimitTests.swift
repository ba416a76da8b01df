import Foundation
import ImagesKit
import ImagesKitXz
import Testing

/// The decoder stops at its output limit, counts in 64 bits, and refuses a stream that needs more
/// memory than its limit before taking that memory.
@Suite("xz output and memory limits")
struct XzLimitTests {
    /// A stream of `mebibytes` MiB of zeros that `xz -1` made: about 1.6 KB per 10 MiB.
    static func zeros(mebibytes: Int) throws -> [UInt8] {
        try Tool.xz(["-1", "-T1"], of: XzPayload.zeros(mebibytes << 20), in: ScratchDirectory())
    }

    private static let tenMebibytes = Result { try zeros(mebibytes: 10) }

    @Test("10 MiB of zeros under a 1 MB limit stops at the limit without handing more out", arguments: [1, 2])
    func limitStopsTenMebibytesAtOne(threads: Int) throws {
        let compressed = try Self.tenMebibytes.get()
        for chunking in [Chunking.whole, .random(seed: 12, maximum: 100)] {
            var received = 0
            let decoded = try decodeXz(
                compressed, chunking: chunking, outputLimit: 1_000_000, codec: testCodec(threads: threads)
            ) { received += $0.count }
            #expect(decoded.errorCode == .imageTooLarge, "\(chunking)")
            #expect(received == 1_000_000, "\(chunking)")
            #expect(decoded.outputByteCount == 1_000_000, "\(chunking)")
            #expect(decoded.error?.context["limit"] == "1000000", "\(chunking)")
            #expect(decoded.error?.message.contains("more than 1000000 bytes") == true, "\(chunking)")
        }
    }

    @Test("the single-threaded decoder stops reading soon after the limit")
    func limitStopsEarlyInTheInput() throws {
        let compressed = try Self.tenMebibytes.get()
        let decoded = try decodeXz(compressed, chunking: .fixed(16), outputLimit: 1_000_000) { _ in }
        #expect(decoded.errorCode == .imageTooLarge)
        #expect(decoded.streamByteCount < UInt64(compressed.count / 4))
    }

    @Test(
        "a stream exactly at the limit decodes; one byte more is too large",
        arguments: [(1, 1), (1, 100), (1, 65_536), (2, 1), (2, 4096)])
    func limitIsExact(threads: Int, bufferSize: Int) throws {
        let original = XzPayload.mixed(300_000, seed: 13)
        let compressed = try encodeXz(original, level: 1) + encodeXz([], level: 1)
        let codec = testCodec(threads: threads, bufferSize: bufferSize)
        let exact = try decodeXz(compressed, outputLimit: UInt64(original.count), codec: codec)
        let under = try decodeXz(
            compressed, chunking: .random(seed: 14, maximum: 999), outputLimit: UInt64(original.count - 1),
            codec: codec)

        #expect(exact.error == nil)
        #expect(exact.output == original)
        #expect(exact.streamCount == 2)
        #expect(under.errorCode == .imageTooLarge)
        #expect(under.output == Array(original.dropLast()))
    }

    @Test("a zero limit takes an empty stream and refuses the first byte")
    func zeroLimit() throws {
        #expect(try decodeXz(encodeXz([]), outputLimit: 0).error == nil)
        let refused = try decodeXz(encodeXz([7]), outputLimit: 0)
        #expect(refused.errorCode == .imageTooLarge)
        #expect(refused.output.isEmpty)
    }

    @Test("a small file of many streams that holds 2 GiB stops at a 1 MB limit, quickly")
    func bombStopsAtLimit() throws {
        let bomb = [UInt8](try Self.zeros(mebibytes: 64).repeated(32))
        for threads in [1, 2] {
            let clock = ContinuousClock()
            var outcome: XzOutcome?
            let elapsed = try clock.measure {
                outcome = try decodeXz(bomb, outputLimit: 1_000_000, codec: testCodec(threads: threads)) { _ in }
            }
            #expect(outcome?.errorCode == .imageTooLarge)
            #expect(outcome?.outputByteCount == 1_000_000)
            #expect(elapsed < .seconds(5))
        }
    }

    /// Whether to run tests that take more than ten seconds, such as decoding 4 GiB.
    static let runsLongTests = ProcessInfo.processInfo.environment["IMAGESKIT_LONG_TESTS"] == "1"

    // Decoding 4 GiB of zeros takes over ten seconds here: too long for every run of the suite;
    // set IMAGESKIT_LONG_TESTS=1 to include it.
    @Test(
        "more than 4 GiB of output is counted in full",
        .enabled(if: runsLongTests, "set IMAGESKIT_LONG_TESTS=1 to decode 4 GiB"))
    func outputPastFourGibibytesIsCountedInFull() throws {
        let copies = 65
        let stream = try Self.zeros(mebibytes: 64)
        let input = stream.repeated(copies)
        let expected = UInt64(copies) << 26
        var received: UInt64 = 0
        let decoded = try decodeXz(
            input, outputLimit: 6_000_000_000, codec: testCodec(threads: 2, bufferSize: 1 << 20)
        ) { received += UInt64($0.count) }

        #expect(decoded.error == nil)
        #expect(decoded.outputByteCount == expected)
        #expect(received == expected)
        #expect(decoded.streamCount == copies)
    }

    /// A stream `xz --lzma2=dict=64MiB` made, which needs about 65 MiB to decode.
    static func largeDictionaryStream() throws -> [UInt8] {
        try Tool.xz(["-T1", "--lzma2=preset=1,dict=64MiB"], of: XzPayload.text(100_000), in: ScratchDirectory())
    }

    @Test("a dictionary larger than the memory limit is refused, naming the limit and the need", arguments: [1, 2])
    func memoryLimitIsNamed(threads: Int) throws {
        let stream = try Self.largeDictionaryStream()
        let limit: UInt64 = 16 << 20
        for input in [stream, try encodeXz(XzPayload.text(5000), level: 1) + stream] {
            let decoded = try decodeXz(input, codec: testCodec(threads: threads, memoryLimit: limit))
            let error = try #require(decoded.error)
            let needed = try #require(error.context["needed"].flatMap { UInt64($0) }, "\(error)")

            #expect(error.code == .memoryLimitExceeded)
            #expect((error.cause as? LzmaError)?.codeName == "LZMA_MEMLIMIT_ERROR")
            #expect(error.context["limit"] == String(limit))
            #expect(needed > 64 << 20 && needed < 66 << 20)
            #expect(error.message.contains("16.0 MiB") && error.message.contains("64.1 MiB"), "\(error.message)")
        }
    }

    @Test("the same stream decodes under a limit that covers it")
    func coveringLimitDecodes() throws {
        let decoded = try decodeXz(try Self.largeDictionaryStream(), codec: testCodec(memoryLimit: 70 << 20))
        #expect(decoded.error == nil)
        #expect(decoded.output == XzPayload.text(100_000))
    }
}

extension Array {
    /// The array's elements `count` times over.
    func repeated(_ count: Int) -> [Element] {
        [[Element]](repeating: self, count: count).flatMap { $0 }
    }
}
