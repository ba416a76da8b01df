import ImagesKit
import ImagesKitGzip
import Testing

/// Data compressed by ``GzipEncoder`` decodes back to the same bytes with ``GzipDecoder``.
@Suite("Round trip")
struct RoundTripTests {
    enum Kind: String, CaseIterable, Sendable {
        case empty, zeros, random, text, sparseDisk

        var bytes: [UInt8] {
            switch self {
            case .empty: []
            case .zeros: Payload.zeros(1_500_000)
            case .random: Payload.random(400_000, seed: 0x1234_5678)
            case .text: Payload.text(700_000)
            case .sparseDisk: Payload.sparseDisk(900_000, seed: 99)
            }
        }
    }

    @Test("every kind of data comes back unchanged at levels 1, 6 and 9", arguments: Kind.allCases, [1, 6, 9])
    func dataSurvivesRoundTrip(kind: Kind, level: Int) throws {
        let original = kind.bytes
        let compressed = try encodeGzip(original, level: level, chunking: .random(seed: 5, maximum: 100_000))
        let decoded = try decodeGzip(compressed)

        #expect(decoded.error == nil)
        #expect(decoded.output == original)
        #expect(decoded.outputByteCount == UInt64(original.count))
        #expect(decoded.streamByteCount == UInt64(compressed.count))
        #expect(decoded.memberCount == 1)
    }

    @Test("the encoder writes the same bytes however the input is split")
    func encoderOutputIgnoresInputSplit() throws {
        let original = Payload.sparseDisk(600_000, seed: 3)
        let whole = try encodeGzip(original, level: 6)
        let dripped = try encodeGzip(original, level: 6, chunking: .random(seed: 11, maximum: 3000))
        let smallBuffer = try encodeGzip(original, level: 6, chunking: .fixed(4096), bufferSize: 17)
        let oneByteBuffer = try encodeGzip(original, level: 6, chunking: .fixed(65_536), bufferSize: 1)
        #expect(dripped == whole)
        #expect(smallBuffer == whole)
        #expect(oneByteBuffer == whole)
    }

    @Test("higher levels compress text no worse than level 1")
    func levelNineIsNoLargerThanLevelOne() throws {
        let original = Payload.text(300_000)
        #expect(try encodeGzip(original, level: 9).count <= encodeGzip(original, level: 1).count)
    }

    @Test("levels outside 1...9 are refused as invalid arguments", arguments: [0, -1, 10, 100])
    func outOfRangeLevelIsRefused(level: Int) {
        let error = imagesKitError { _ = try GzipCompressor().makeEncoder(level: level) }
        #expect(error?.code == .invalidArgument)
        #expect(error?.message.contains("1 (fastest) to 9 (smallest)") == true)
    }

    @Test("the codec names gzip as its format")
    func codecReportsGzipFormat() {
        #expect(GzipCompressor().format == .gzip)
    }
}
