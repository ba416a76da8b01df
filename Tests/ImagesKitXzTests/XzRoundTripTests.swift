import Foundation
import ImagesKit
import ImagesKitXz
import Testing

/// Data compressed by ``XzEncoder`` decodes back to the same bytes with ``XzDecoder``.
@Suite("xz round trip")
struct XzRoundTripTests {
    enum Kind: String, CaseIterable, Sendable {
        case empty, oneByte, zeros, random, text, mixed

        var bytes: [UInt8] {
            switch self {
            case .empty: []
            case .oneByte: [0x2a]
            case .zeros: XzPayload.zeros(1_500_000)
            case .random: XzPayload.random(300_000, seed: 23)
            case .text: XzPayload.text(300_000)
            case .mixed: XzPayload.mixed(1_100_000, seed: 24)
            }
        }
    }

    @Test(
        "every kind of data comes back unchanged at levels 1, 6 and 9, on one thread or two",
        arguments: Kind.allCases, [1, 6, 9])
    func dataSurvivesRoundTrip(kind: Kind, level: Int) throws {
        let original = kind.bytes
        for threads in [1, 2] {
            let codec = testCodec(threads: threads)
            let compressed = try encodeXz(
                original, level: level, chunking: .random(seed: 25, maximum: 100_000), codec: codec)
            let decoded = try decodeXz(compressed, codec: codec)

            #expect(decoded.error == nil, "\(threads) threads")
            #expect(decoded.output == original, "\(threads) threads")
            #expect(decoded.outputByteCount == UInt64(original.count), "\(threads) threads")
            #expect(decoded.streamByteCount == UInt64(compressed.count), "\(threads) threads")
            #expect(decoded.streamCount == 1, "\(threads) threads")
        }
    }

    @Test(
        "the encoder writes the same bytes however the input is split and the output buffer sized", arguments: [1, 2])
    func encoderOutputIgnoresSplits(threads: Int) throws {
        let original = XzPayload.mixed(1_500_000, seed: 26)
        let whole = try encodeXz(original, level: 3, codec: testCodec(threads: threads))
        let dripped = try encodeXz(
            original, level: 3, chunking: .random(seed: 27, maximum: 3000), codec: testCodec(threads: threads))
        let smallBuffer = try encodeXz(
            original, level: 3, chunking: .fixed(65_536), codec: testCodec(threads: threads, bufferSize: 17))
        #expect(dripped == whole)
        #expect(smallBuffer == whole)
    }

    @Test("higher levels compress text no worse than level 1")
    func levelNineIsNoLargerThanLevelOne() throws {
        let original = XzPayload.text(300_000)
        #expect(try encodeXz(original, level: 9).count <= encodeXz(original, level: 1).count)
    }

    @Test("levels outside 1...9 are refused as invalid arguments", arguments: [0, -1, 10, 100])
    func outOfRangeLevelIsRefused(level: Int) {
        let error = thrownImagesKitError { _ = try XzCompressor().makeEncoder(level: level) }
        #expect(error?.code == .invalidArgument)
        #expect(error?.message.contains("1 (fastest) to 9 (smallest)") == true)
    }

    @Test("the codec names xz as its format and uses the machine's processors by default")
    func codecDefaults() {
        let codec = XzCompressor()
        #expect(codec.format == .xz)
        #expect(codec.threads == ProcessInfo.processInfo.activeProcessorCount)
        #expect(codec.decoderMemoryLimit == 256 << 20)
        #expect(codec.blockSize == 16 << 20)
        #expect(codec.check == .crc64)
    }

    @Test("a multi-threaded encoder needs at most 96 MiB a thread with the default block and dictionary")
    func encoderMemoryIsBounded() throws {
        let codec = XzCompressor(threads: 2)
        for level in 1...9 {
            let usage = try #require(codec.encoderMemoryUsage(level: level))
            #expect(usage <= 2 * (96 << 20), "level \(level)")
        }
        #expect(XzCompressor(threads: 1).encoderMemoryUsage(level: 9)! > 600 << 20)
        #expect(codec.encoderMemoryUsage(level: 0) == nil)
    }

    @Test("the dictionary limit sets an encoder's memory, up to the block size")
    func dictionaryLimitSetsMemory() throws {
        // An unlimited budget keeps two threads, so the figures differ by the dictionary alone.
        let budget = UInt64.max
        let small = try #require(XzCompressor(threads: 2, memoryBudget: budget).encoderMemoryUsage(level: 6))
        let levelOwn = try #require(
            XzCompressor(threads: 2, memoryBudget: budget, dictionaryLimit: 8 << 20).encoderMemoryUsage(level: 6))
        let beyondBlock = try #require(
            XzCompressor(threads: 2, memoryBudget: budget, blockSize: 8 << 20, dictionaryLimit: 64 << 20)
                .encoderMemoryUsage(level: 9))
        let atBlock = try #require(
            XzCompressor(threads: 2, memoryBudget: budget, blockSize: 8 << 20, dictionaryLimit: 8 << 20)
                .encoderMemoryUsage(level: 9))

        #expect(small < levelOwn)
        #expect(beyondBlock == atBlock)
    }
}
