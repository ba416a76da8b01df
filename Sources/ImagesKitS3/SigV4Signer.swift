import Foundation

/// Signs requests with AWS Signature Version 4 (`AWS4-HMAC-SHA256`), either in the
/// `Authorization` header or in the query string of a presigned URL.
///
/// The defaults are S3's: the path is signed as sent (no dot-segment normalization, no second
/// percent-encoding) and the payload hash is sent and signed in `x-amz-content-sha256`.
/// Other AWS services usually want `normalizesPath` and `encodesPathTwice` on and
/// `signsPayloadHeader` off.
///
/// Query names and values are percent-decoded and encoded again for the canonical query, so
/// `%2f` and `%2F` sign alike; `+` is a literal plus sign, so send spaces as `%20`. Header values
/// are signed trimmed, with each run of whitespace inside them as one space; repeated headers are
/// signed as one, their values joined by commas in the order sent.
public struct SigV4Signer: Sendable {
    /// The algorithm name that opens the string to sign and the `Authorization` header.
    public static let algorithm = "AWS4-HMAC-SHA256"

    /// Header names, lowercase, never signed by default: hop-by-hop headers and headers that
    /// proxies or HTTP stacks often add or rewrite.
    public static let defaultUnsignedHeaderNames: Set<String> = [
        "authorization", "connection", "expect", "transfer-encoding", "user-agent", "x-amzn-trace-id",
    ]

    /// The keys that sign.
    public var credentials: S3Credentials
    /// The region of the credential scope, such as `us-east-1`.
    public var region: String
    /// The service of the credential scope, such as `s3`.
    public var service: String
    /// Whether to remove `.` and `..` segments and merge repeated slashes of the path before
    /// signing. S3 signs the path as sent: `false`.
    public var normalizesPath = false
    /// Whether the canonical path is the sent path percent-encoded once more. S3: `false`.
    public var encodesPathTwice = false
    /// Whether the header form sends and signs `x-amz-content-sha256` with the payload hash.
    /// S3 requires it: `true`.
    public var signsPayloadHeader = true
    /// Whether the session token, when there is one, is part of the signature. When `false` it is
    /// still sent, but added after signing, as a few services require. S3: `true`.
    public var signsSessionToken = true
    /// Lowercase names of request headers left out of the signature.
    public var unsignedHeaderNames = defaultUnsignedHeaderNames

    /// Creates a signer with S3's behaviour.
    ///
    /// - Parameters:
    ///   - credentials: The keys that sign.
    ///   - region: The region of the credential scope.
    ///   - service: The service of the credential scope.
    public init(credentials: S3Credentials, region: String, service: String = "s3") {
        self.credentials = credentials
        self.region = region
        self.service = service
    }

    /// Headers to add for the Authorization-header form: X-Amz-Date, X-Amz-Security-Token (when a token exists),
    /// X-Amz-Content-Sha256 (when `signsPayloadHeader` — always true for S3), Authorization.
    ///
    /// They come in this order: `X-Amz-Security-Token`, `X-Amz-Date`, `x-amz-content-sha256`,
    /// `Authorization`. Headers of `request` with these names are ignored: the signer owns them.
    ///
    /// - Parameters:
    ///   - request: The request to sign.
    ///   - date: The signing time; only its whole seconds count.
    /// - Returns: The headers to send in addition to `request.headers`.
    public func authorizationHeaders(for request: SigV4Request, at date: Date) -> [(name: String, value: String)] {
        let signing = signing(for: request, at: date)
        var headers: [(name: String, value: String)] = []
        if let token = sessionToken { headers.append((HeaderName.securityToken, token)) }
        headers.append((HeaderName.date, signing.timestamp))
        if signsPayloadHeader { headers.append((HeaderName.contentSHA256, request.payloadHash)) }
        headers.append((HeaderName.authorization, authorization(signing)))
        return headers
    }

    /// Query items (already encoded) to append for a presigned URL valid `expires` seconds.
    ///
    /// They come in this order: `X-Amz-Algorithm`, `X-Amz-Credential`, `X-Amz-Date`,
    /// `X-Amz-SignedHeaders`, `X-Amz-Expires`, `X-Amz-Security-Token` (when a token exists),
    /// `X-Amz-Signature`. The payload hash signed is `request.payloadHash`; presigned S3 URLs
    /// normally use `UNSIGNED-PAYLOAD`.
    ///
    /// - Parameters:
    ///   - request: The request to sign; its query must not already hold these items.
    ///   - date: The signing time; only its whole seconds count.
    ///   - expires: How many seconds the URL stays valid; S3 accepts 1 to 604800.
    /// - Returns: The items to append after `request.query`.
    public func presignedQuery(
        for request: SigV4Request, at date: Date, expires: Int
    ) -> [(name: String, value: String)] {
        let signing = signing(for: request, at: date, form: .presignedQuery(expires: expires))
        return presignItems(signing, expires: expires, withToken: true)
            + [(QueryName.signature, signing.signature)]
    }

    /// The value of the `Authorization` header for a header-form signing.
    ///
    /// - Parameter signing: The result of ``signing(for:at:form:)`` in the header form.
    /// - Returns: `AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`.
    public func authorization(_ signing: Signing) -> String {
        "\(Self.algorithm) Credential=\(credential(signing)), "
            + "SignedHeaders=\(signing.signedHeaders), Signature=\(signing.signature)"
    }

    /// `accessKeyID/credentialScope`, unencoded.
    func credential(_ signing: Signing) -> String {
        "\(credentials.accessKeyID)/\(signing.credentialScope)"
    }

    /// The session token, when the credentials hold a non-empty one.
    var sessionToken: String? {
        guard let token = credentials.sessionToken, !token.isEmpty else { return nil }
        return token
    }
}

/// Header names the signer adds.
enum HeaderName {
    static let authorization = "Authorization"
    static let date = "X-Amz-Date"
    static let securityToken = "X-Amz-Security-Token"
    static let contentSHA256 = "x-amz-content-sha256"
}

/// Query parameter names of a presigned URL.
enum QueryName {
    static let algorithm = "X-Amz-Algorithm"
    static let credential = "X-Amz-Credential"
    static let date = "X-Amz-Date"
    static let expires = "X-Amz-Expires"
    static let securityToken = "X-Amz-Security-Token"
    static let signedHeaders = "X-Amz-SignedHeaders"
    static let signature = "X-Amz-Signature"
}
