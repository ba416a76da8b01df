import Foundation
import ImagesKit
import ImagesKitS3
import Testing

/// The AWS SigV4 conformance suite in the shared corpus (never copied into the repository).
enum SigV4Suite {
    /// How many cases the suite holds; fewer means a broken or partial copy.
    static let expectedCaseCount = 38

    /// `$IMAGESKIT_CORPUS`, or `../shared/corpus` next to the package root.
    static var corpus: URL {
        if let path = ProcessInfo.processInfo.environment["IMAGESKIT_CORPUS"], !path.isEmpty {
            return URL(fileURLWithPath: path)
        }
        let packageRoot = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return packageRoot.appendingPathComponent("../shared/corpus").standardizedFileURL
    }

    /// The folder of the suite.
    static var directory: URL { corpus.appendingPathComponent("aws-sigv4-test-suite") }

    /// The names of the case folders (those with a `context.json`), sorted.
    static func caseNames() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { name in
            FileManager.default.fileExists(atPath: directory.appendingPathComponent("\(name)/context.json").path)
        }.sorted()
    }
}

/// Where a suite case puts the signature: the files named `header-*` or `query-*`.
enum SuiteForm: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case header
    case query

    var testDescription: String { rawValue }
}

@Suite("SigV4 conformance suite")
struct SigV4SuiteTests {
    @Test("the suite is present with all its cases")
    func suiteIsPresent() throws {
        let names = SigV4Suite.caseNames()
        let folder = SigV4Suite.directory.path
        try #require(
            names.count >= SigV4Suite.expectedCaseCount,
            "\(names.count) SigV4 cases in \(folder), not \(SigV4Suite.expectedCaseCount): set IMAGESKIT_CORPUS")
    }

    @Test("each case signs byte for byte", arguments: SigV4Suite.caseNames(), SuiteForm.allCases)
    func signsCase(name: String, form: SuiteForm) throws {
        let suiteCase = try SuiteCase(named: name)
        let signer = suiteCase.signer()
        let request = suiteCase.request.sigV4Request()
        let expires = suiteCase.context.expirationInSeconds
        let signing: SigV4Signer.Signing
        let signed: String
        switch form {
        case .header:
            signing = signer.signing(for: request, at: suiteCase.date)
            signed = suiteCase.request.rendered(
                addingHeaders: signer.authorizationHeaders(for: request, at: suiteCase.date))
        case .query:
            signing = signer.signing(for: request, at: suiteCase.date, form: .presignedQuery(expires: expires))
            let items = signer.presignedQuery(for: request, at: suiteCase.date, expires: expires)
            signed = suiteCase.request.rendered(addingQuery: items)
        }
        try suiteCase.expectFile("\(form)-canonical-request.txt", equals: signing.canonicalRequest)
        try suiteCase.expectFile("\(form)-string-to-sign.txt", equals: signing.stringToSign)
        try suiteCase.expectFile("\(form)-signature.txt", equals: signing.signature)
        try suiteCase.expectFile("\(form)-signed-request.txt", equals: signed)
    }
}

/// One case folder: its context, its parsed request and its expected files.
struct SuiteCase {
    /// `context.json`.
    struct Context: Decodable {
        struct Credentials: Decodable {
            var accessKeyId: String
            var secretAccessKey: String
            var token: String?
        }

        var credentials: Credentials
        var expirationInSeconds: Int
        var normalize: Bool
        var region: String
        var service: String
        var signBody: Bool
        var timestamp: String
        var omitSessionToken: Bool?
    }

    let folder: URL
    let context: Context
    let request: SuiteRequest
    let date: Date

    init(named name: String) throws {
        folder = SigV4Suite.directory.appendingPathComponent(name)
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        context = try decoder.decode(
            Context.self, from: Data(contentsOf: folder.appendingPathComponent("context.json")))
        request = try SuiteRequest(parsing: [UInt8](Data(contentsOf: folder.appendingPathComponent("request.txt"))))
        date = try #require(ISO8601DateFormatter().date(from: context.timestamp), "bad timestamp")
    }

    /// A signer set up as the context asks. The suite's service is not S3, so the path is
    /// percent-encoded a second time.
    func signer() -> SigV4Signer {
        let credentials = S3Credentials(
            accessKeyID: context.credentials.accessKeyId, secretAccessKey: context.credentials.secretAccessKey,
            sessionToken: context.credentials.token)
        var signer = SigV4Signer(credentials: credentials, region: context.region, service: context.service)
        signer.normalizesPath = context.normalize
        signer.encodesPathTwice = context.service != "s3"
        signer.signsPayloadHeader = context.signBody
        signer.signsSessionToken = !(context.omitSessionToken ?? false)
        return signer
    }

    /// Expects the file's bytes to be exactly the UTF-8 of `actual`, showing both texts when not.
    func expectFile(_ file: String, equals actual: String) throws {
        let expected = try [UInt8](Data(contentsOf: folder.appendingPathComponent(file)))
        if expected != Array(actual.utf8) {
            let expectedText = String(decoding: expected, as: UTF8.self)
            Issue.record(
                "\(folder.lastPathComponent)/\(file) differs:\n--- expected\n\(expectedText)\n--- got\n\(actual)")
        }
    }
}

/// A `request.txt`: request line, `Name:value` headers (continuation lines folded into the
/// value with their line breaks kept), a blank line and the body.
struct SuiteRequest {
    var method: String
    /// The request target exactly as written: path and, after `?`, the query.
    var target: String
    var version: String
    var headers: [(name: String, value: String)]
    var body: [UInt8]

    init(parsing bytes: [UInt8]) throws {
        let (head, body) = Self.splitHead(bytes)
        self.body = body
        var lines = String(decoding: head, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        let requestLine = lines.removeFirst()
        let firstSpace = try #require(requestLine.firstIndex(of: " "))
        let lastSpace = try #require(requestLine.lastIndex(of: " "))
        method = String(requestLine[..<firstSpace])
        target = String(requestLine[requestLine.index(after: firstSpace)..<lastSpace])
        version = String(requestLine[requestLine.index(after: lastSpace)...])
        headers = try Self.parseHeaders(lines)
    }

    /// The bytes before the first blank line (without its line break) and the bytes after it.
    private static func splitHead(_ bytes: [UInt8]) -> (head: [UInt8], body: [UInt8]) {
        let newline = UInt8(ascii: "\n")
        for index in bytes.indices.dropLast() where bytes[index] == newline && bytes[index + 1] == newline {
            return (Array(bytes[..<index]), Array(bytes[(index + 2)...]))
        }
        return (bytes.last == newline ? Array(bytes.dropLast()) : bytes, [])
    }

    private static func parseHeaders(_ lines: [Substring]) throws -> [(name: String, value: String)] {
        var headers: [(name: String, value: String)] = []
        for line in lines {
            if line.first == " " || line.first == "\t" {
                try #require(!headers.isEmpty, "continuation line before any header")
                headers[headers.count - 1].value += "\n" + line
                continue
            }
            let colon = try #require(line.firstIndex(of: ":"), "header line without a colon: \(line)")
            headers.append((String(line[..<colon]), String(line[line.index(after: colon)...])))
        }
        return headers
    }

    /// The request to sign: the body's SHA-256 as payload hash, the target split into path and query.
    func sigV4Request() -> SigV4Request {
        let parts = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        let query = parts.count > 1 ? parts[1].split(separator: "&").map(Self.queryItem) : []
        return SigV4Request(
            method: method, path: String(parts[0]), query: query, headers: headers,
            payloadHash: SHA256Digest.hex(of: body))
    }

    private static func queryItem(_ text: Substring) -> (name: String, value: String) {
        let pair = text.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
        return (String(pair[0]), pair.count > 1 ? String(pair[1]) : "")
    }

    /// The request in the suite's text form with `added` after its own headers.
    func rendered(addingHeaders added: [(name: String, value: String)]) -> String {
        render(target: target, headers: headers + added)
    }

    /// The request in the suite's text form with `items` appended to its query.
    func rendered(addingQuery items: [(name: String, value: String)]) -> String {
        let separator = target.contains("?") ? "&" : "?"
        let query = items.map { "\($0.name)=\($0.value)" }.joined(separator: "&")
        return render(target: target + separator + query, headers: headers)
    }

    private func render(target: String, headers: [(name: String, value: String)]) -> String {
        let head = "\(method) \(target) \(version)\n" + headers.map { "\($0.name):\($0.value)\n" }.joined()
        return head + "\n" + String(decoding: body, as: UTF8.self)
    }
}
