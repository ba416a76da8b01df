import Foundation
import ImagesKit
import ImagesKitS3
import Testing

/// What the client retries, when it gives up, and how it words each failure, against scripted
/// answers.
@Suite("S3 retries, timeouts and errors")
struct S3RetryTests {
    static func store(_ server: ScriptedHTTPServer, idleTimeout: TimeInterval = 30) throws -> S3ImageStore {
        try store(endpoint: server.endpoint, idleTimeout: idleTimeout)
    }

    static func store(endpoint: URL, idleTimeout: TimeInterval = 30) throws -> S3ImageStore {
        try store(endpoint: endpoint, idleTimeout: idleTimeout, requestTimeout: 600)
    }

    static func store(endpoint: URL, idleTimeout: TimeInterval, requestTimeout: TimeInterval) throws -> S3ImageStore {
        var configuration = S3Configuration(
            endpoint: endpoint, bucket: "scripted",
            credentials: S3Credentials(accessKeyID: "AKID", secretAccessKey: "secret"))
        configuration.retryPolicy = S3RetryPolicy(maximumAttempts: 3, initialDelay: 0.05, maximumDelay: 0.1)
        configuration.idleTimeout = idleTimeout
        configuration.requestTimeout = requestTimeout
        return try S3ImageStore(configuration: configuration)
    }

    static func failure(_ body: () async throws -> Void) async -> ImagesKitError? {
        await #expect(throws: ImagesKitError.self) { try await body() }
    }

    @Test("throttling and server errors are retried until an answer succeeds")
    func passingErrorsRetried() async throws {
        let server = try ScriptedHTTPServer([
            .init(status: 503, body: ScriptedHTTPServer.error("SlowDown")),
            .init(status: 500, body: ScriptedHTTPServer.error("InternalError")),
            .init(status: 200, body: ScriptedHTTPServer.emptyListing),
        ])
        try await Self.store(server).checkAccess()
        #expect(server.requests.count == 3)
    }

    @Test("client errors are not retried", arguments: ["InvalidArgument", "AccessDenied", "SignatureDoesNotMatch"])
    func clientErrorsNotRetried(_ code: String) async throws {
        let server = try ScriptedHTTPServer([
            .init(status: code == "InvalidArgument" ? 400 : 403, body: ScriptedHTTPServer.error(code))
        ])
        let error = await Self.failure { try await Self.store(server).checkAccess() }
        #expect(server.requests.count == 1)
        #expect(error?.code == .storeFailure)
        #expect(error?.context["s3_code"] == code)
        #expect(error?.context["request_id"] == "req-1")
    }

    @Test("retries end after the policy's attempts with the code, the request id and advice")
    func retriesEnd() async throws {
        let server = try ScriptedHTTPServer([
            .init(status: 503, body: ScriptedHTTPServer.error("SlowDown", requestID: "tx9"))
        ])
        let error = await Self.failure { try await Self.store(server).checkAccess() }
        #expect(server.requests.count == 3)
        #expect(error?.message.contains("after 3 attempts") == true)
        #expect(error?.message.contains("request id tx9") == true)
        #expect(error?.message.contains("try again later") == true)
        #expect(error?.cause is S3ServiceError)
    }

    @Test(
        "each refusal says what to do",
        arguments: [
            ("RequestTimeTooSkewed", 403, "clock"), ("NoSuchBucket", 404, "create it"),
            ("InvalidAccessKeyId", 403, "AWS_ACCESS_KEY_ID"), ("SignatureDoesNotMatch", 403, "AWS_SECRET_ACCESS_KEY"),
            ("ExpiredToken", 400, "AWS_SESSION_TOKEN"),
        ])
    func advice(_ code: String, _ status: Int, _ words: String) async throws {
        let server = try ScriptedHTTPServer([.init(status: status, body: ScriptedHTTPServer.error(code))])
        let error = await Self.failure { try await Self.store(server).checkAccess() }
        #expect(error?.message.contains(words) == true, "\(error?.message ?? "")")
        #expect(error?.message.contains(code) == true)
    }

    @Test("an answer without an error document still names the status and the request id")
    func answerWithoutDocument() async throws {
        let server = try ScriptedHTTPServer([.init(status: 418, body: "no xml here")])
        let error = await Self.failure { try await Self.store(server).checkAccess() }
        #expect(server.requests.count == 1)
        #expect(error?.message.contains("HTTP 418") == true)
        #expect(error?.context["request_id"] == "header-request-id")
    }

    @Test("a service that never answers times out, and the timeout is retried", arguments: [(1.0, 600.0), (60, 2)])
    func silentServiceTimesOut(idle: TimeInterval, whole: TimeInterval) async throws {
        let server = try ScriptedHTTPServer([.init(status: 200, body: ScriptedHTTPServer.emptyListing, delay: 900)])
        let store = try Self.store(endpoint: server.endpoint, idleTimeout: idle, requestTimeout: whole)
        let started = Date()
        let error = await Self.failure { try await store.checkAccess() }
        // Without timeouts the three attempts would take 2700 s; a busy test machine may hold
        // this task back for a minute or two after the error.
        #expect(Date().timeIntervalSince(started) < 600)
        #expect(server.requests.count == 3)
        #expect(error?.message.contains("timed out") == true, "\(error?.message ?? "")")
    }

    @Test("an endpoint where nothing listens fails after every attempt, naming the endpoint")
    func nothingListens() async throws {
        let port = try ScriptedHTTPServer.freePort()
        let error = await Self.failure {
            try await Self.store(endpoint: URL(string: "http://127.0.0.1:\(port)")!).checkAccess()
        }
        #expect(error?.code == .storeFailure)
        #expect(error?.message.contains("127.0.0.1:\(port)") == true)
        #expect(error?.message.contains("3 attempts") == true)
        #expect(error?.cause is S3TransportError)
    }

    @Test("a cancelled request stops retrying and says it was cancelled")
    func cancelledWhileRetrying() async throws {
        let server = try ScriptedHTTPServer([.init(status: 503, body: ScriptedHTTPServer.error("SlowDown"))])
        var configuration = try Self.store(server).configuration
        configuration.retryPolicy = S3RetryPolicy(maximumAttempts: 50, initialDelay: 0.2, maximumDelay: 0.2)
        let store = try S3ImageStore(configuration: configuration)
        let task = Task { try await store.checkAccess() }
        try await Task.sleep(nanoseconds: 500_000_000)
        task.cancel()
        let error = await #expect(throws: ImagesKitError.self) { try await task.value }
        #expect(error?.code == .cancelled)
        #expect(server.requests.count < 10)
    }
}

extension ScriptedHTTPServer {
    /// A port of 127.0.0.1 nothing listens on.
    static func freePort() throws -> Int {
        let socket = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(socket, $0, length) == 0 && getsockname(socket, $0, &length) == 0
            }
        }
        guard bound else { throw CocoaError(.fileReadUnknown) }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
