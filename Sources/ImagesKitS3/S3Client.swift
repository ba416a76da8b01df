import Foundation
import ImagesKit

/// One request to the service, before signing.
struct S3Call: Sendable {
    /// The HTTP method.
    var method: String
    /// The whole object key, prefix included; `nil` for a request on the bucket.
    var key: String?
    /// Query parameters, not yet encoded.
    var query: [(name: String, value: String)] = []
    /// Headers besides those the signer adds.
    var headers: [(name: String, value: String)] = []
    /// The body.
    var body = Data()
    /// The statuses that mean success; any other is an error.
    var accepted: Set<Int> = [200]

    /// The method and the object's address, such as `PUT s3://images/records/000000000007.json`,
    /// for messages.
    func summary(bucket: String) -> String {
        "\(method) s3://\(bucket)/\(key ?? "")"
    }
}

/// The service's answer to a successful request.
struct S3Reply: Sendable {
    /// The HTTP status.
    var status: Int
    /// The headers, by lowercase name.
    var headers: [String: String]
    /// The body.
    var body: Data

    /// The header with this lowercase name.
    func header(_ name: String) -> String? { headers[name] }
}

/// Signs requests, sends them with libcurl and retries those that failed for a passing reason;
/// every failure comes out as an ``ImagesKitError`` with `store_failure`.
final class S3Client: Sendable {
    let configuration: S3Configuration
    private let handles: S3CurlPool
    private let signer: SigV4Signer

    init(configuration: S3Configuration) {
        self.configuration = configuration
        self.handles = S3CurlPool(capacity: max(configuration.partsInFlight, configuration.rangesInFlight) + 4)
        self.signer = SigV4Signer(credentials: configuration.credentials, region: configuration.region)
    }

    /// Sends `call`, trying again with growing waits while it fails for a passing reason.
    ///
    /// - Parameters:
    ///   - call: The request.
    ///   - payloadHash: The body's SHA-256 in hexadecimal, when the caller has it already.
    /// - Returns: The answer, whose status is one `call` accepts.
    /// - Throws: ``ImagesKitError`` with `store_failure`, or `cancelled`.
    func send(_ call: S3Call, payloadHash: String? = nil) async throws -> S3Reply {
        let hash = payloadHash ?? Self.sha256(of: call.body)
        let policy = configuration.retryPolicy
        var attempt = 1
        while true {
            do {
                return try await sendOnce(call, payloadHash: hash)
            } catch let error as S3ServiceError {
                guard error.isPassing, attempt < policy.maximumAttempts else {
                    throw ImagesKitError.s3(error, bucket: configuration.bucket, attempts: attempt)
                }
            } catch let error as S3TransportError {
                guard error.isPassing, attempt < policy.maximumAttempts else {
                    throw ImagesKitError.s3(error, bucket: configuration.bucket, attempts: attempt)
                }
            }
            attempt += 1
            try await Self.wait(policy.delay(beforeAttempt: attempt))
        }
    }

    /// Sends `call` once.
    private func sendOnce(_ call: S3Call, payloadHash: String) async throws -> S3Reply {
        try Self.checkCancellation()
        let handle = handles.take()
        let answer: S3WireAnswer
        do {
            answer = try await S3Transfer(makeRequest(call, payloadHash: payloadHash), on: handle).run(
                idleTimeout: configuration.idleTimeout, deadline: configuration.requestTimeout,
                certificateAuthorities: configuration.certificateAuthorities?.path)
        } catch let failure as S3WireFailure {
            try Self.checkCancellation()
            throw S3TransportError(
                request: call.summary(bucket: configuration.bucket), endpoint: configuration.endpoint.absoluteString,
                reason: failure.reason, isPassing: failure.isPassing)
        }
        handles.give(handle)
        return try reply(to: call, answer)
    }

    /// Checks the answer's status and body, turning error answers into ``S3ServiceError``.
    private func reply(to call: S3Call, _ answer: S3WireAnswer) throws -> S3Reply {
        let reply = S3Reply(status: answer.status, headers: answer.headers, body: answer.body)
        if call.accepted.contains(reply.status), !Self.isErrorDocument(reply.body, from: call) { return reply }
        throw serviceError(call, reply)
    }

    /// Whether a 200 answer to a multipart completion or copy carries an error instead.
    private static func isErrorDocument(_ body: Data, from call: S3Call) -> Bool {
        guard call.method == "POST", body.count < 65_536 else { return false }
        return S3XMLElement.parse(body)?.name == "Error"
    }

    private func serviceError(_ call: S3Call, _ reply: S3Reply) -> S3ServiceError {
        let document = S3XMLElement.parse(reply.body)
        let code = document?.value("Code") ?? Self.codeForStatus(reply.status)
        let message = document?.value("Message") ?? ""
        let requestID = document?.value("RequestId") ?? reply.header("x-amz-request-id") ?? reply.header("x-trans-id")
        return S3ServiceError(
            httpStatus: reply.status, code: code, message: message, requestID: requestID,
            request: call.summary(bucket: configuration.bucket))
    }

    /// The code S3 gives a status when an answer carries no body, as answers to HEAD do.
    private static func codeForStatus(_ status: Int) -> String {
        switch status {
        case 301: "PermanentRedirect"
        case 403: "AccessDenied"
        case 404: "NotFound"
        case 412: "PreconditionFailed"
        case 416: "InvalidRange"
        case 503: "SlowDown"
        default: status >= 500 ? "InternalError" : ""
        }
    }
}

extension S3Client {
    /// The signed request for `call`.
    private func makeRequest(_ call: S3Call, payloadHash: String) -> S3WireRequest {
        let address = S3Address(configuration: configuration)
        let path = address.path(key: call.key)
        let query = call.query.map { (name: S3Address.encode($0.name), value: S3Address.encode($0.value)) }
        let headers = [(name: "Host", value: address.host)] + call.headers
        let signing = SigV4Request(
            method: call.method, path: path, query: query, headers: headers, payloadHash: payloadHash)
        return S3WireRequest(
            method: call.method, url: address.url(path: path, query: query).absoluteString,
            headers: headers + signer.authorizationHeaders(for: signing, at: Date()), body: call.body)
    }

    /// The SHA-256 of `data` in hexadecimal.
    static func sha256(of data: Data) -> String {
        let digest = SHA256Digest()
        data.withUnsafeBytes { digest.update($0) }
        return digest.finalize()
    }

    static func checkCancellation() throws {
        if Task.isCancelled {
            throw ImagesKitError(.cancelled, "the operation was cancelled; nothing it started was kept")
        }
    }

    private static func wait(_ seconds: TimeInterval) async throws {
        do {
            try await Task.sleep(nanoseconds: UInt64(seconds * 1e9))
        } catch {
            try checkCancellation()
        }
    }
}

/// How the configured endpoint, bucket and keys become request addresses.
struct S3Address {
    let configuration: S3Configuration

    /// The `Host` header: the endpoint's host, with the bucket in front when virtual-hosted,
    /// and the port when it is not the scheme's default.
    var host: String {
        let endpoint = configuration.endpoint
        let name = endpoint.host ?? ""
        let bracketed = name.contains(":") && !name.hasPrefix("[") ? "[\(name)]" : name
        let base = configuration.addressing == .virtualHosted ? "\(configuration.bucket).\(bracketed)" : bracketed
        guard let port = endpoint.port, port != (endpoint.scheme?.lowercased() == "https" ? 443 : 80) else {
            return base
        }
        return "\(base):\(port)"
    }

    /// The request path, encoded: `/BUCKET/KEY` path-style, `/KEY` virtual-hosted.
    func path(key: String?) -> String {
        let object = key.map { "/" + Self.encode($0, keepingSlashes: true) } ?? ""
        switch configuration.addressing {
        case .pathStyle: return "/\(configuration.bucket)\(object)"
        case .virtualHosted: return object.isEmpty ? "/" : object
        }
    }

    /// The whole address for an encoded path and query.
    func url(path: String, query: [(name: String, value: String)]) -> URL {
        let scheme = configuration.endpoint.scheme?.lowercased() ?? "https"
        let text = query.map { $0.value.isEmpty ? $0.name : "\($0.name)=\($0.value)" }.joined(separator: "&")
        return URL(string: "\(scheme)://\(host)\(path)\(text.isEmpty ? "" : "?" + text)")!
    }

    /// `text` percent-encoded as SigV4 requires: every byte but letters, digits and `-._~`
    /// (and `/` when `keepingSlashes`) becomes `%XX` with capital hexadecimal digits.
    static func encode(_ text: String, keepingSlashes: Bool = false) -> String {
        var result = ""
        for byte in text.utf8 {
            let character = Character(Unicode.Scalar(byte))
            if byte < 0x80,
                character.isLetter || character.isNumber || "-._~".contains(character)
                    || (keepingSlashes && byte == UInt8(ascii: "/"))
            {
                result.append(character)
            } else {
                result += String(format: "%%%02X", byte)
            }
        }
        return result
    }
}
