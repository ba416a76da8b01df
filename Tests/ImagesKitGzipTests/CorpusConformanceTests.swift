import Foundation
import ImagesKit
import ImagesKitGzip
import Testing

/// The public gzip conformance files in the shared corpus give what each folder's INDEX.md says.
///
/// The corpus is read in place from `IMAGESKIT_CORPUS`, or from `shared/corpus` beside the
/// package's folder when that is unset; its files are never copied into the repository.
@Suite("Corpus conformance")
struct CorpusConformanceTests {
    @Test(
        "each corpus file decodes to its listed size and SHA-256, or fails with its listed error",
        arguments: Corpus.expectations)
    func corpusFileMeetsItsExpectation(file: CorpusFile) throws {
        let input = try Corpus.bytes(of: file.path)
        for chunking in [Chunking.whole, .fixed(1), .random(seed: 64, maximum: 512)] {
            let decoded = try decodeGzip(input, chunking: chunking)
            switch file.expected {
            case .decodes(let size, let sha256Prefix, let members):
                #expect(decoded.error == nil, "\(chunking): \(decoded.error?.description ?? "")")
                #expect(decoded.output.count == size, "\(chunking)")
                #expect(try sha256(of: decoded.output).hasPrefix(sha256Prefix), "\(chunking)")
                #expect(decoded.memberCount == members, "\(chunking)")
                #expect(decoded.streamByteCount == UInt64(input.count), "\(chunking)")
            case .fails(let code):
                #expect(decoded.errorCode == code, "\(chunking): \(decoded.error?.description ?? "success")")
            }
        }
    }

    @Test("every prefix of fextra-foo-bar-hello-world.gz fails as truncated, never as success")
    func everyPrefixOfExtraFieldVectorIsTruncated() throws {
        let input = try Corpus.bytes(of: "go-compress-gzip-vectors/fextra-foo-bar-hello-world.gz")
        for length in 1..<input.count {
            let prefix = Array(input.prefix(length))
            #expect(try decodeGzip(prefix).errorCode == .truncatedData, "prefix of \(length) bytes")
            #expect(try decodeGzip(prefix, chunking: .fixed(1)).errorCode == .truncatedData, "prefix of \(length)")
        }
        #expect(try decodeGzip(input).output == Array("hello, world".utf8))
    }

    @Test(
        "trailing junk is located where the last member ends",
        arguments: [
            ("go-compress-gzip-vectors/hello-garbage.gz", 10),
            ("libarchive-gzip-compat/test_compat_gzip_2.tgz", 51),
        ])
    func trailingJunkIsLocated(path: String, junkCount: Int) throws {
        let input = try Corpus.bytes(of: path)
        let decoded = try decodeGzip(input, chunking: .random(seed: 3, maximum: 16))
        #expect(decoded.errorCode == .trailingData)
        #expect(decoded.error?.context["offset"] == String(input.count - junkCount))
        #expect(decoded.streamByteCount == UInt64(input.count - junkCount))
    }

    @Test("good-file.gz decodes to good-file.txt byte for byte")
    func flate2GoodFileMatchesItsText() throws {
        let decoded = try decodeGzip(try Corpus.bytes(of: "flate2-rs-tests/good-file.gz"), chunking: .fixed(100))
        #expect(decoded.output == (try Corpus.bytes(of: "flate2-rs-tests/good-file.txt")))
    }

    @Test("a member holding gzip magic in its compressed bytes equals the zlib stream of the same data")
    func pseudoMultimemberIsOneMember() throws {
        let decoded = try decodeGzip(try Corpus.bytes(of: "node-zlib-fixtures/pseudo-multimember-gzip.gz"))
        let zlibFile = Corpus.root.appendingPathComponent("node-zlib-fixtures/pseudo-multimember-gzip.z")
        let inflated = try ExternalTool.python(
            "out.write(zlib.decompress(open(sys.argv[1], 'rb').read()))", arguments: [zlibFile.path])
        #expect(decoded.memberCount == 1)
        #expect(decoded.output == inflated)
    }

    private func sha256(of bytes: [UInt8]) throws -> String {
        let directory = try TemporaryDirectory()
        return try ExternalTool.sha256(of: directory.write(bytes, to: "decoded"))
    }
}

/// What a corpus file must give.
enum CorpusOutcome: Sendable {
    case decodes(size: Int, sha256Prefix: String, members: Int)
    case fails(ImagesKitError.Code)
}

/// One corpus file and its expectation, transcribed from the folder's INDEX.md.
struct CorpusFile: Sendable, CustomTestStringConvertible {
    var path: String
    var expected: CorpusOutcome

    var testDescription: String { path }
}

/// Where the shared corpus is, and the expectations of its gzip files.
enum Corpus {
    static var root: URL {
        if let path = ProcessInfo.processInfo.environment["IMAGESKIT_CORPUS"] {
            return URL(fileURLWithPath: path)
        }
        let package = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return package.deletingLastPathComponent().appendingPathComponent("shared/corpus")
    }

    static func bytes(of path: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: root.appendingPathComponent(path)))
    }

    private static func ok(_ path: String, _ size: Int, _ sha: String, members: Int = 1) -> CorpusFile {
        CorpusFile(path: path, expected: .decodes(size: size, sha256Prefix: sha, members: members))
    }

    private static func fails(_ path: String, _ code: ImagesKitError.Code) -> CorpusFile {
        CorpusFile(path: path, expected: .fails(code))
    }

    private static let go = "go-compress-gzip-vectors/"
    private static let swc = "swcompression-2017-gzip/"
    private static let commons = "commons-compress-multi/"

    static let expectations: [CorpusFile] = [
        ok(go + "empty.txt.gz", 0, "e3b0c44298fc1c14"),
        ok(go + "hello.txt.gz", 12, "a948904f2f0f479b"),
        ok(go + "hello.txt-x2.gz", 24, "ec498a36221dd860", members: 2),
        ok(go + "shesells.txt.gz", 36, "3c1ad43a9b479094"),
        ok(go + "allfields-fhcrc-fextra-fname-fcomment.gz", 0, "e3b0c44298fc1c14"),
        ok(go + "fextra-foo-bar-hello-world.gz", 12, "09ca7e4eaa6e8ae9"),
        fails(go + "hello-garbage.gz", .trailingData),
        fails(go + "hello-plus-id1.gz", .truncatedData),
        fails(go + "hello-badcrc.gz", .corruptData),
        fails(go + "hello-badsize.gz", .corruptData),
        fails(go + "truncated-amid-stored-block.gz", .truncatedData),
        fails(go + "truncated-amid-fixed-block.gz", .truncatedData),
        ok("flate2-rs-tests/good-file.gz", 14877, "bc4e03658a441fe2"),
        ok("flate2-rs-tests/multi.gz", 13, "dbea9325179efe46", members: 2),
        ok("node-zlib-fixtures/pseudo-multimember-gzip.gz", 129_791, "0eb5a40c7cab8282"),
        ok("libarchive-gzip-compat/test_compat_gzip_1.tgz", 7168, "7565705704f8f736", members: 8),
        fails("libarchive-gzip-compat/test_compat_gzip_2.tgz", .trailingData),
        ok(swc + "test1.gz", 14, "c98c24b677eff448"),
        ok(swc + "test2.gz", 4834, "23515b21189876bf"),
        ok(swc + "test3.gz", 2100, "20a02b317ae2aaf7"),
        ok(swc + "test4.gz", 1944, "69ea3e69cec6b829"),
        ok(swc + "test5.gz", 0, "e3b0c44298fc1c14"),
        ok(swc + "test6.gz", 5_242_880, "c036cbb7553a909f"),
        ok(swc + "test8.gz", 327, "db8ea649fdd9c7ed"),
        ok(swc + "test9.gz", 10240, "697e0a7705d54433"),
        ok(swc + "test_multi.gz", 8892, "c0694482ad6924c6", members: 4),
        ok(commons + "multiple.gz", 2, "fb8e20fc2e4c3f24", members: 2),
        ok(commons + "members.gz", 14, "354a2c81e652af74", members: 2),
        ok(commons + "members-size-0.gz", 0, "e3b0c44298fc1c14", members: 3),
    ]
}
