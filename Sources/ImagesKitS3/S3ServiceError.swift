import Foundation
import ImagesKit

/// A request the S3 service answered with an error, as the service described it.
public struct S3ServiceError: Error, Sendable, CustomStringConvertible {
    /// The HTTP status, such as 403.
    public let httpStatus: Int
    /// The S3 error code, such as `SignatureDoesNotMatch`; empty when the answer carried none.
    public let code: String
    /// The service's own words.
    public let message: String
    /// The request id to quote to the service's operators.
    public let requestID: String?
    /// The request, such as `PUT images/content/000000000007.data`.
    public let request: String

    /// Creates the error.
    public init(httpStatus: Int, code: String, message: String, requestID: String?, request: String) {
        self.httpStatus = httpStatus
        self.code = code
        self.message = message
        self.requestID = requestID
        self.request = request
    }

    /// The request, the status, the code, the service's message and the request id.
    public var description: String {
        let id = requestID.map { ", request id \($0)" } ?? ""
        let words = message.isEmpty ? "" : ": \(message)"
        return "\(request) answered HTTP \(httpStatus) \(code.isEmpty ? "without an error code" : code)\(words)\(id)"
    }

    /// Whether trying the same request again later may succeed: throttling, server errors,
    /// and requests whose bytes arrived late or damaged.
    public var isPassing: Bool {
        if httpStatus >= 500 || httpStatus == 429 { return true }
        return ["RequestTimeout", "SlowDown", "BadDigest", "XAmzContentSHA256Mismatch", "IncompleteBody"]
            .contains(code)
    }

    /// What the user should do about it, in a sentence.
    func advice(bucket: String) -> String {
        switch code {
        case "InvalidAccessKeyId":
            "the service does not know the access key id: check AWS_ACCESS_KEY_ID or the configured credentials"
        case "SignatureDoesNotMatch":
            "the secret key does not match the access key id: check AWS_SECRET_ACCESS_KEY or the configured secret"
        case "RequestTimeTooSkewed":
            "this machine's clock differs from the service's by more than 15 minutes: set the clock right (NTP)"
        case "ExpiredToken", "InvalidToken", "TokenRefreshRequired":
            "the session token is expired or invalid: get fresh temporary credentials (AWS_SESSION_TOKEN)"
        case "NoSuchBucket":
            "bucket \(bucket) does not exist: create it, or name an existing one in s3://BUCKET/PREFIX"
        case "AccessDenied", "AllAccessDisabled":
            "the credentials may not do this in bucket \(bucket): grant them object read, write, delete, "
                + "list and multipart upload rights"
        case "PermanentRedirect", "AuthorizationHeaderMalformed", "IllegalLocationConstraintException":
            "bucket \(bucket) lives in another region or endpoint: set the region and endpoint it lives in"
        default:
            isPassing
                ? "the service is throttling or failing: try again later, or ask its operators with the request id"
                : "the service refused the request: check the endpoint, bucket and credentials"
        }
    }
}

/// How a request failed before any answer arrived.
public struct S3TransportError: Error, Sendable, CustomStringConvertible {
    /// The request, such as `GET images/records/`.
    public let request: String
    /// The endpoint it went to.
    public let endpoint: String
    /// What the network layer said.
    public let reason: String
    /// Whether the same request may go through later: not when the service's certificate is
    /// not trusted.
    var isPassing = true

    /// The request, the endpoint and the reason.
    public var description: String { "\(request) to \(endpoint) got no answer: \(reason)" }
}

extension ImagesKitError {
    /// The store failure for an error answer, with the S3 code, the request id and advice.
    static func s3(_ error: S3ServiceError, bucket: String, attempts: Int) -> ImagesKitError {
        var context = ["s3_code": error.code, "http_status": String(error.httpStatus), "bucket": bucket]
        if let id = error.requestID { context["request_id"] = id }
        let tries = attempts > 1 ? " after \(attempts) attempts" : ""
        let facts = [
            error.code.isEmpty ? nil : error.code, "HTTP \(error.httpStatus)",
            error.requestID.map { "request id \($0)" },
        ]
        let said = facts.compactMap { $0 }.joined(separator: ", ")
        return ImagesKitError(
            .storeFailure, "S3 \(error.request) failed\(tries) (\(said)): \(error.advice(bucket: bucket))",
            cause: error, context: context)
    }

    /// The store failure for a request that got no answer.
    static func s3(_ error: S3TransportError, bucket: String, attempts: Int) -> ImagesKitError {
        let advice =
            error.isPassing
            ? "check the endpoint address and that the service is running and reachable"
            : "give the authority that signed the service's certificate as a PEM file in "
                + "S3Configuration.certificateAuthorities (imagesctl: AWS_CA_BUNDLE), or check the endpoint's host name"
        let tries = attempts == 1 ? "1 attempt" : "\(attempts) attempts"
        return ImagesKitError(
            .storeFailure,
            "S3 \(error.request) got no answer from \(error.endpoint) in \(tries) (\(error.reason)): \(advice)",
            cause: error, context: ["bucket": bucket, "endpoint": error.endpoint])
    }
}
