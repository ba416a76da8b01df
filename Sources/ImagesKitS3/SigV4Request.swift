/// A request as it goes on the wire, before signing.
public struct SigV4Request: Sendable {
    /// The HTTP method, such as `GET` or `PUT`, as sent on the request line.
    public var method: String
    /// The path as sent on the request line: already percent-encoded, no query.
    public var path: String
    /// Query parameters as sent on the request line (names and values already percent-encoded), in order.
    public var query: [(name: String, value: String)]
    /// Headers in the order sent; names in any case. Must include Host.
    public var headers: [(name: String, value: String)]
    /// Hex SHA-256 of the body, or "UNSIGNED-PAYLOAD".
    public var payloadHash: String

    /// Creates a request to sign.
    ///
    /// - Parameters:
    ///   - method: The HTTP method.
    ///   - path: The percent-encoded path, without the query.
    ///   - query: The percent-encoded query parameters, in the order sent.
    ///   - headers: The headers in the order sent, Host among them.
    ///   - payloadHash: The lowercase hexadecimal SHA-256 of the body, or `UNSIGNED-PAYLOAD`.
    public init(
        method: String, path: String, query: [(name: String, value: String)] = [],
        headers: [(name: String, value: String)], payloadHash: String
    ) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.payloadHash = payloadHash
    }
}
