import Foundation
import ImagesKit
import ImagesKitXz
import Testing

/// Every file of xz-utils' test suite in the shared corpus gives what its INDEX.md says.
///
/// The corpus is read in place from `IMAGESKIT_CORPUS`, or from `shared/corpus` beside the
/// package's folder when that is unset; its files are never copied into the repository.
@Suite("xz corpus conformance")
struct XzCorpusTests {
    static let chunkings: [Chunking] = [.whole, .fixed(1), .random(seed: 97, maximum: 40)]

    @Test(
        "each file decodes to its listed size and SHA-256, or fails with its kind, on one thread or two",
        arguments: XzCorpus.files, [1, 2])
    func fileMeetsItsExpectation(file: XzCorpusFile, threads: Int) throws {
        let input = try XzCorpus.bytes(of: file.name)
        for chunking in Self.chunkings {
            let decoded = try decodeXz(input, chunking: chunking, codec: testCodec(threads: threads))
            switch file.expected {
            case .decodes(let size, let sha256, let streams):
                #expect(decoded.error == nil, "\(chunking): \(decoded.error?.description ?? "")")
                #expect(decoded.output.count == size, "\(chunking)")
                #expect(sha256Prefix(decoded.output) == sha256, "\(chunking)")
                #expect(decoded.streamCount == streams, "\(chunking)")
                #expect(decoded.streamByteCount == UInt64(input.count), "\(chunking)")
            case .fails(let code):
                #expect(decoded.errorCode == code, "\(chunking): \(decoded.error?.description ?? "success")")
            }
        }
    }

    @Test("the corpus holds every file the table lists, and the table lists every file")
    func tableCoversTheFolder() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: XzCorpus.folder.path)
        let dataFiles = Set(names.filter { $0.hasSuffix(".xz") || $0.hasSuffix(".lz") || $0.hasSuffix(".lzma") })
        #expect(dataFiles.count == 97)
        #expect(dataFiles == Set(XzCorpus.files.map(\.name)))
    }

    @Test(
        "bytes after a complete stream that are neither padding nor a stream are trailing data, located",
        arguments: [
            ("bad-0cat-alone.xz", 32), ("bad-0cat-header_magic.xz", 32), ("bad-0pad-empty.xz", 36),
            ("bad-0catpad-empty.xz", 36),
        ])
    func trailingBytesAreLocated(name: String, offset: Int) throws {
        let input = try XzCorpus.bytes(of: name)
        for chunking in Self.chunkings {
            let decoded = try decodeXz(input, chunking: chunking)
            #expect(decoded.errorCode == .trailingData, "\(chunking)")
            #expect(decoded.error?.context["offset"] == String(offset), "\(chunking)")
            #expect(decoded.streamByteCount == UInt64(offset), "\(chunking)")
            #expect(decoded.streamCount == 1, "\(chunking)")
        }
    }

    @Test("bad files that give output first still fail, keeping the output they gave")
    func outputBeforeAnErrorIsNotSuccess() throws {
        let decoded = try decodeXz(try XzCorpus.bytes(of: "bad-1-lzma2-7.xz"), chunking: .fixed(3))
        #expect(decoded.errorCode == .corruptData)
        #expect(decoded.output.count == 457)
        #expect(decoded.error?.cause is LzmaError)
        #expect((decoded.error?.cause as? LzmaError)?.codeName == "LZMA_DATA_ERROR")
    }

    @Test("a check type liblzma can't verify is unsupported, with liblzma's code as the cause")
    func unsupportedCheckNamesItsCause() throws {
        let decoded = try decodeXz(try XzCorpus.bytes(of: "unsupported-check.xz"))
        #expect(decoded.errorCode == .unsupportedFormat)
        #expect((decoded.error?.cause as? LzmaError)?.codeName == "LZMA_UNSUPPORTED_CHECK")
        #expect(decoded.error?.message.contains("integrity check") == true)
    }

    @Test("lzip and legacy .lzma files are named as such when refused")
    func otherLiblzmaFormatsAreNamed() throws {
        let lzip = try decodeXz(try XzCorpus.bytes(of: "good-1-v1.lz"))
        let lzma = try decodeXz(try XzCorpus.bytes(of: "good-known_size-with_eopm.lzma"))
        #expect(lzip.error?.message.contains("lzip") == true)
        #expect(lzma.error?.message.contains("legacy .lzma") == true)
    }
}

/// What a corpus file must give.
enum XzCorpusOutcome: Sendable {
    case decodes(size: Int, sha256: String, streams: Int)
    case fails(ImagesKitError.Code)
}

/// One corpus file and its expectation.
struct XzCorpusFile: Sendable, CustomTestStringConvertible {
    var name: String
    var expected: XzCorpusOutcome

    var testDescription: String { name }
}

/// Where the xz-utils files are, and what each must give.
///
/// Sizes and SHA-256 prefixes come from INDEX.md. The README asks only that bad files fail; the
/// kind each fails with follows from what is wrong in it: bytes after a complete stream that can't
/// be padding or a stream are trailing data, a stream cut short is truncated, a first stream
/// without the xz magic is not xz, and everything else wrong inside a stream is corrupt.
/// unsupported-* files and every .lz and .lzma file are unsupported formats here.
enum XzCorpus {
    static var folder: URL {
        let corpus: URL
        if let path = ProcessInfo.processInfo.environment["IMAGESKIT_CORPUS"] {
            corpus = URL(fileURLWithPath: path)
        } else {
            let package = URL(fileURLWithPath: #filePath)
                .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            corpus = package.deletingLastPathComponent().appendingPathComponent("shared/corpus")
        }
        return corpus.appendingPathComponent("xz-utils-tests-files")
    }

    static func bytes(of name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: folder.appendingPathComponent(name)))
    }

    private static let empty = (0, "e3b0c44298fc1c14")
    private static let hello = (13, "8e5935e7e13368cd")
    private static let lorem = (457, "a643326fcc1346e9")
    private static let arm64 = (8576, "022bfaefea07d164")
    private static let tiff = (929_138, "ecfff4f7718dc4fc")

    private static func good(_ name: String, _ payload: (Int, String), streams: Int = 1) -> XzCorpusFile {
        XzCorpusFile(name: name, expected: .decodes(size: payload.0, sha256: payload.1, streams: streams))
    }

    private static func bad(_ name: String, _ code: ImagesKitError.Code = .corruptData) -> XzCorpusFile {
        XzCorpusFile(name: name, expected: .fails(code))
    }

    static let goodFiles: [XzCorpusFile] = [
        good("good-0-empty.xz", empty), good("good-0cat-empty.xz", empty, streams: 2),
        good("good-0catpad-empty.xz", empty, streams: 2), good("good-0pad-empty.xz", empty),
        good("good-1-3delta-lzma2.xz", lorem), good("good-1-arm64-lzma2-1.xz", arm64),
        good("good-1-arm64-lzma2-2.xz", arm64), good("good-1-block_header-1.xz", hello),
        good("good-1-block_header-2.xz", hello), good("good-1-block_header-3.xz", hello),
        good("good-1-check-crc32.xz", hello), good("good-1-check-crc64.xz", hello),
        good("good-1-check-none.xz", hello), good("good-1-check-sha256.xz", hello),
        good("good-1-delta-lzma2.tiff.xz", tiff), good("good-1-empty-bcj-lzma2.xz", empty),
        good("good-1-lzma2-1.xz", lorem), good("good-1-lzma2-2.xz", lorem), good("good-1-lzma2-3.xz", lorem),
        good("good-1-lzma2-4.xz", lorem), good("good-1-lzma2-5.xz", empty), good("good-2-lzma2.xz", hello),
    ]

    static let badFiles: [XzCorpusFile] =
        [
            bad("bad-0-empty-truncated.xz", .truncatedData), bad("bad-0-header_magic.xz", .unsupportedFormat),
            bad("bad-0cat-alone.xz", .trailingData), bad("bad-0cat-header_magic.xz", .trailingData),
            bad("bad-0catpad-empty.xz", .trailingData), bad("bad-0pad-empty.xz", .trailingData),
        ]
        + [
            "bad-0-backward_size.xz", "bad-0-footer_magic.xz", "bad-0-index-1.xz", "bad-0-nonempty_index.xz",
            "bad-1-block_header-1.xz", "bad-1-block_header-2.xz", "bad-1-block_header-3.xz",
            "bad-1-block_header-4.xz", "bad-1-block_header-5.xz", "bad-1-block_header-6.xz",
            "bad-1-check-crc32-2.xz", "bad-1-check-crc32.xz", "bad-1-check-crc64.xz", "bad-1-check-sha256.xz",
            "bad-1-index-huge-uncomp.xz", "bad-1-lzma2-1.xz", "bad-1-lzma2-10.xz", "bad-1-lzma2-11.xz",
            "bad-1-lzma2-2.xz", "bad-1-lzma2-3.xz", "bad-1-lzma2-4.xz", "bad-1-lzma2-5.xz", "bad-1-lzma2-6.xz",
            "bad-1-lzma2-7.xz", "bad-1-lzma2-8.xz", "bad-1-lzma2-9.xz", "bad-1-stream_flags-1.xz",
            "bad-1-stream_flags-2.xz", "bad-1-stream_flags-3.xz", "bad-1-vli-1.xz", "bad-1-vli-2.xz",
            "bad-2-compressed_data_padding.xz", "bad-2-index-1.xz", "bad-2-index-2.xz", "bad-2-index-3.xz",
            "bad-2-index-4.xz", "bad-2-index-5.xz", "bad-3-index-uncomp-overflow.xz",
        ].map { bad($0) }

    static let unsupportedFiles: [XzCorpusFile] = [
        "unsupported-block_header.xz", "unsupported-check.xz", "unsupported-filter_flags-1.xz",
        "unsupported-filter_flags-2.xz", "unsupported-filter_flags-3.xz",
    ].map { bad($0, .unsupportedFormat) }

    /// Every .lz and .lzma file, good or bad: neither is xz.
    static let otherFormatFiles: [XzCorpusFile] = [
        "bad-1-v0-uncomp-size.lz", "bad-1-v1-crc32.lz", "bad-1-v1-dict-1.lz", "bad-1-v1-dict-2.lz",
        "bad-1-v1-magic-1.lz", "bad-1-v1-magic-2.lz", "bad-1-v1-member-size.lz", "bad-1-v1-trailing-magic.lz",
        "bad-1-v1-uncomp-size.lz", "good-1-v0-trailing-1.lz", "good-1-v0.lz", "good-1-v1-trailing-1.lz",
        "good-1-v1-trailing-2.lz", "good-1-v1.lz", "good-2-v0-v1.lz", "good-2-v1-v0.lz", "good-2-v1-v1.lz",
        "unsupported-1-v234.lz", "bad-too_big_size-with_eopm.lzma", "bad-too_small_size-without_eopm-1.lzma",
        "bad-too_small_size-without_eopm-2.lzma", "bad-too_small_size-without_eopm-3.lzma",
        "bad-unknown_size-without_eopm.lzma", "good-known_size-with_eopm.lzma",
        "good-known_size-without_eopm.lzma", "good-unknown_size-with_eopm.lzma",
    ].map { bad($0, .unsupportedFormat) }

    static let files = goodFiles + badFiles + unsupportedFiles + otherFormatFiles
}
