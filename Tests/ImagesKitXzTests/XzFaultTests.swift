import Foundation
import ImagesKit
import ImagesKitXz
import Testing

/// Every fault kind of the xz table in SCENARIOS.md, built from a file the real xz made.
@Suite("xz faults")
struct XzFaultTests {
    /// A one-block stream `xz -6 -T1` made, the data it holds, and where its parts lie.
    struct Fixture {
        var stream: [UInt8]
        var original: [UInt8]

        /// Bytes of the block header, from the size its first byte gives.
        var blockHeaderSize: Int { (Int(stream[12]) + 1) * 4 }
        /// Where the index starts: the footer's backward size gives the index's length.
        var indexStart: Int {
            let stored = stream[(stream.count - 8)..<(stream.count - 4)].reversed().reduce(0) { $0 << 8 | Int($1) }
            return stream.count - 12 - (stored + 1) * 4
        }

        private init() throws {
            let directory = try ScratchDirectory()
            original = XzPayload.text(200_000)
            stream = try Tool.xz(["-6", "-T1"], of: original, in: directory)
        }

        private static let made = Result { try Fixture() }

        /// The fixture, made by xz once for the whole suite.
        static func make() throws -> Fixture { try made.get() }
    }

    enum Fault: String, CaseIterable, Sendable {
        case truncatedInMagic, truncatedInStreamHeader, truncatedAfterStreamHeader, truncatedInBlockHeader
        case truncatedInBlockData, truncatedBeforeIndex, truncatedInIndex, truncatedInFooter, lastByteMissing
        case truncatedInSecondStream, partialMagicAfterStream, partialMagicAfterPadding
        case flippedStreamHeaderCRC, flippedBlockHeader, flippedBlockData, flippedCheck, flippedIndex
        case flippedFooterCRC, flippedBackwardSize, flippedFooterMagic, corruptSecondStream
        case garbageAfterStream, newlineAfterStream, halfMagicThenZero, garbageAfterPadding, threeZerosAtEnd
        case fiveZerosAtEnd, sixZerosBetweenStreams
        case emptyFile, oneByteThatIsNotXz, gzipFile

        func input(from fixture: Fixture) -> [UInt8] {
            let stream = fixture.stream
            let magic = CompressionFormat.xz.magic
            switch self {
            case .truncatedInMagic: return Array(stream.prefix(3))
            case .truncatedInStreamHeader: return Array(stream.prefix(9))
            case .truncatedAfterStreamHeader: return Array(stream.prefix(12))
            case .truncatedInBlockHeader: return Array(stream.prefix(12 + fixture.blockHeaderSize / 2))
            case .truncatedInBlockData: return Array(stream.prefix(stream.count / 2))
            case .truncatedBeforeIndex: return Array(stream.prefix(fixture.indexStart))
            case .truncatedInIndex: return Array(stream.prefix(fixture.indexStart + 2))
            case .truncatedInFooter: return Array(stream.dropLast(5))
            case .lastByteMissing: return Array(stream.dropLast())
            case .truncatedInSecondStream: return stream + stream.prefix(stream.count / 3)
            case .partialMagicAfterStream: return stream + magic.prefix(3)
            case .partialMagicAfterPadding: return stream + XzPayload.zeros(8) + magic.prefix(5)
            case .flippedStreamHeaderCRC: return flipping(stream, at: 9)
            case .flippedBlockHeader: return flipping(stream, at: 13)
            case .flippedBlockData: return flipping(stream, at: stream.count / 2)
            case .flippedCheck: return flipping(stream, at: fixture.indexStart - 1)
            case .flippedIndex: return flipping(stream, at: fixture.indexStart + 2)
            case .flippedFooterCRC: return flipping(stream, at: stream.count - 12)
            case .flippedBackwardSize: return flipping(stream, at: stream.count - 8)
            case .flippedFooterMagic: return flipping(stream, at: stream.count - 1)
            case .corruptSecondStream: return stream + flipping(stream, at: stream.count / 2)
            case .garbageAfterStream: return stream + Array("garbage after the stream".utf8)
            case .newlineAfterStream: return stream + [0x0a]
            case .halfMagicThenZero: return stream + magic.prefix(2) + [0]
            case .garbageAfterPadding: return stream + XzPayload.zeros(8) + Array("x".utf8)
            case .threeZerosAtEnd: return stream + XzPayload.zeros(3)
            case .fiveZerosAtEnd: return stream + XzPayload.zeros(5)
            case .sixZerosBetweenStreams: return stream + XzPayload.zeros(6) + stream
            case .emptyFile: return []
            case .oneByteThatIsNotXz: return [0x78]
            case .gzipFile: return [0x1f, 0x8b, 0x08, 0x00] + XzPayload.zeros(16)
            }
        }

        var expectedCode: ImagesKitError.Code {
            switch self {
            case .truncatedInMagic, .truncatedInStreamHeader, .truncatedAfterStreamHeader, .truncatedInBlockHeader,
                .truncatedInBlockData, .truncatedBeforeIndex, .truncatedInIndex, .truncatedInFooter, .lastByteMissing,
                .truncatedInSecondStream, .partialMagicAfterStream, .partialMagicAfterPadding:
                .truncatedData
            case .flippedStreamHeaderCRC, .flippedBlockHeader, .flippedBlockData, .flippedCheck, .flippedIndex,
                .flippedFooterCRC, .flippedBackwardSize, .flippedFooterMagic, .corruptSecondStream:
                .corruptData
            case .garbageAfterStream, .newlineAfterStream, .halfMagicThenZero, .garbageAfterPadding,
                .threeZerosAtEnd, .fiveZerosAtEnd, .sixZerosBetweenStreams:
                .trailingData
            case .emptyFile:
                .emptyInput
            case .oneByteThatIsNotXz, .gzipFile:
                .unsupportedFormat
            }
        }

        private func flipping(_ bytes: [UInt8], at index: Int) -> [UInt8] {
            var copy = bytes
            copy[index] ^= 0x55
            return copy
        }
    }

    @Test(
        "each fault is rejected with its own error code, whole, byte by byte and in random pieces",
        arguments: Fault.allCases)
    func faultIsRejectedWithItsCode(fault: Fault) throws {
        let fixture = try Fixture.make()
        let input = fault.input(from: fixture)
        let twice = fixture.original + fixture.original
        let runs: [(Int, Chunking)] = [(1, .whole), (1, .fixed(1)), (2, .whole), (2, .random(seed: 8, maximum: 3000))]
        for (threads, chunking) in runs {
            let decoded = try decodeXz(input, chunking: chunking, codec: testCodec(threads: threads))
            #expect(
                decoded.errorCode == fault.expectedCode,
                "\(threads) threads, \(chunking): \(decoded.error?.description ?? "success")")
            if ![.flippedBlockData, .corruptSecondStream].contains(fault) {
                let isPrefix = decoded.output.elementsEqual(twice.prefix(decoded.output.count))
                #expect(isPrefix, "\(threads) threads, \(chunking): the output is not the data's start")
            }
        }
    }

    @Test("truncation is located at the end of the input, even after output came out", arguments: [1, 2])
    func truncationAfterOutputIsLocated(threads: Int) throws {
        let fixture = try Fixture.make()
        let input = Fault.truncatedBeforeIndex.input(from: fixture)
        let decoded = try decodeXz(input, chunking: .random(seed: 9, maximum: 999), codec: testCodec(threads: threads))
        #expect(decoded.errorCode == .truncatedData)
        #expect(decoded.output == fixture.original)
        #expect(decoded.error?.context["offset"] == String(input.count))
        #expect((decoded.error?.cause as? LzmaError)?.codeName == "LZMA_BUF_ERROR")
        #expect(decoded.error?.message.contains("truncated") == true)
    }

    @Test("trailing bytes are located where the stream and its whole padding groups end")
    func trailingBytesAreLocated() throws {
        let fixture = try Fixture.make()
        let cases: [(Fault, Int)] = [
            (.garbageAfterStream, 0), (.newlineAfterStream, 0), (.halfMagicThenZero, 0), (.garbageAfterPadding, 8),
            (.threeZerosAtEnd, 0), (.fiveZerosAtEnd, 4), (.sixZerosBetweenStreams, 4),
        ]
        for (fault, paddingKept) in cases {
            let decoded = try decodeXz(fault.input(from: fixture), chunking: .fixed(5))
            let offset = fixture.stream.count + paddingKept
            #expect(decoded.error?.context["offset"] == String(offset), "\(fault)")
            #expect(decoded.streamByteCount == UInt64(offset), "\(fault)")
            #expect(decoded.output == fixture.original, "\(fault)")
        }
    }

    @Test("stream padding in groups of four after and between streams is accepted", arguments: [4, 8, 4096])
    func paddingInGroupsOfFourIsAccepted(paddingCount: Int) throws {
        let fixture = try Fixture.make()
        let padded = fixture.stream + XzPayload.zeros(paddingCount) + fixture.stream + XzPayload.zeros(paddingCount)
        for chunking in [Chunking.whole, .fixed(3), .random(seed: 10, maximum: 300)] {
            let decoded = try decodeXz(padded, chunking: chunking)
            #expect(decoded.error == nil, "\(chunking)")
            #expect(decoded.output == fixture.original + fixture.original, "\(chunking)")
            #expect(decoded.streamCount == 2, "\(chunking)")
            #expect(decoded.streamByteCount == UInt64(padded.count), "\(chunking)")
        }
    }

    @Test("an empty legacy .lzma file after a stream is trailing data, as in bad-0cat-alone.xz")
    func legacyLzmaAfterStreamIsTrailing() throws {
        let directory = try ScratchDirectory()
        let fixture = try Fixture.make()
        let alone = try Tool.xz(["--format=lzma"], of: [], in: directory)
        let decoded = try decodeXz(fixture.stream + alone)
        #expect(decoded.errorCode == .trailingData)
        #expect(decoded.output == fixture.original)
    }

    @Test(
        "legacy .lzma and raw LZMA2 made by xz are refused as not xz",
        arguments: [["--format=lzma"], ["--format=raw"]])
    func otherXzFormatsAreUnsupported(arguments: [String]) throws {
        let directory = try ScratchDirectory()
        let compressed = try Tool.xz(arguments, of: XzPayload.text(5000), in: directory)
        let decoded = try decodeXz(compressed)
        #expect(decoded.errorCode == .unsupportedFormat)
        #expect(decoded.error?.message.contains("not xz") == true)
        #expect(decoded.output.isEmpty)
    }

    /// A python3 program that edits a stream read from `sys.argv[1]` and writes it out, with helpers
    /// that put back the CRC-32 of the stream header, the footer and the first block header.
    static func patched(_ stream: [UInt8], _ edit: String) throws -> [UInt8] {
        let directory = try ScratchDirectory()
        let file = try directory.write(stream, to: "stream.xz")
        let program = """
            s = bytearray(open(sys.argv[1], 'rb').read())
            def fix_header(): s[8:12] = struct.pack('<I', zlib.crc32(bytes(s[6:8])))
            def fix_footer(): s[-12:-8] = struct.pack('<I', zlib.crc32(bytes(s[-8:-2])))
            def fix_block_header():
                n = (s[12] + 1) * 4
                s[8 + n:12 + n] = struct.pack('<I', zlib.crc32(bytes(s[12:8 + n])))
            \(edit)
            out.write(bytes(s))
            """
        return try Tool.python(program, arguments: [file.path])
    }

    @Test(
        "a filter, check type or header flag liblzma does not support is unsupported, not corrupt",
        arguments: [
            ("s[14] = 0x7f; fix_block_header()", "LZMA_OPTIONS_ERROR"),
            ("s[7] = 0x02; s[-3] = 0x02; fix_header(); fix_footer()", "LZMA_UNSUPPORTED_CHECK"),
            ("s[6] = 0x01; s[-4] = 0x01; fix_header(); fix_footer()", "LZMA_OPTIONS_ERROR"),
        ])
    func unsupportedFeaturesAreUnsupported(edit: String, codeName: String) throws {
        let directory = try ScratchDirectory()
        let stream = try Tool.xz(["-6", "-T1", "--check=crc32"], of: XzPayload.text(30_000), in: directory)
        let input = try Self.patched(stream, edit)
        for threads in [1, 2] {
            let decoded = try decodeXz(
                input, chunking: .random(seed: 11, maximum: 50), codec: testCodec(threads: threads))
            #expect(decoded.errorCode == .unsupportedFormat, "\(decoded.error?.description ?? "success")")
            #expect((decoded.error?.cause as? LzmaError)?.codeName == codeName)
            #expect(decoded.error?.message.contains("corrupt") == false)
        }
    }
}
