import Foundation
import ImagesKit

extension SigV4Signer {
    /// Where the signature travels.
    public enum Form: Sendable, Hashable {
        /// In the `Authorization` header, with `X-Amz-Date` and the other signed headers.
        case authorizationHeader
        /// In the query string of a URL valid for `expires` seconds.
        case presignedQuery(expires: Int)
    }

    /// The intermediate strings and the result of one signing.
    public struct Signing: Sendable, Hashable {
        /// The signing time as sent in `X-Amz-Date`: `YYYYMMDD'T'HHMMSS'Z'`, UTC.
        public var timestamp: String
        /// `YYYYMMDD/region/service/aws4_request`.
        public var credentialScope: String
        /// The lowercase names of the signed headers, sorted and separated by `;`.
        public var signedHeaders: String
        /// The canonical request whose SHA-256 is signed.
        public var canonicalRequest: String
        /// The string the signing key authenticates.
        public var stringToSign: String
        /// The signature: 64 lowercase hexadecimal digits.
        public var signature: String

        /// A signing whose canonical request, string to sign and signature are still to be filled in.
        init(timestamp: String, credentialScope: String, signedHeaders: String) {
            self.timestamp = timestamp
            self.credentialScope = credentialScope
            self.signedHeaders = signedHeaders
            canonicalRequest = ""
            stringToSign = ""
            signature = ""
        }
    }

    /// Signs `request` and returns every intermediate string along with the signature.
    ///
    /// - Parameters:
    ///   - request: The request to sign.
    ///   - date: The signing time; only its whole seconds count.
    ///   - form: Whether the signature goes in the `Authorization` header or in the query string.
    /// - Returns: The canonical request, string to sign and signature.
    public func signing(
        for request: SigV4Request, at date: Date, form: Form = .authorizationHeader
    ) -> Signing {
        let time = SigV4Timestamp(date)
        let headers = SigV4Canonical.headers(headersToSign(request, form: form, timestamp: time.instant))
        var signing = Signing(
            timestamp: time.instant, credentialScope: "\(time.day)/\(region)/\(service)/aws4_request",
            signedHeaders: headers.map(\.name).joined(separator: ";"))
        var query = request.query
        if case .presignedQuery(let expires) = form {
            query += presignItems(signing, expires: expires, withToken: signsSessionToken)
        }
        signing.canonicalRequest = canonicalRequest(request, query: query, headers: headers, signing: signing)
        let canonicalHash = SHA256Digest.hex(of: Array(signing.canonicalRequest.utf8))
        signing.stringToSign = [Self.algorithm, time.instant, signing.credentialScope, canonicalHash]
            .joined(separator: "\n")
        let mac = HMACSHA256.mac(key: signingKey(day: time.day), signing.stringToSign)
        signing.signature = LowercaseHex.string(mac)
        return signing
    }

    /// The request headers that are signed, plus those the header form adds before signing.
    func headersToSign(
        _ request: SigV4Request, form: Form, timestamp: String
    ) -> [(name: String, value: String)] {
        var added: [(name: String, value: String)] = []
        if form == .authorizationHeader {
            if let token = sessionToken, signsSessionToken { added.append((HeaderName.securityToken, token)) }
            added.append((HeaderName.date, timestamp))
            if signsPayloadHeader { added.append((HeaderName.contentSHA256, request.payloadHash)) }
        }
        let skipped = unsignedHeaderNames.union(ownedHeaderNames(form: form))
        return request.headers.filter { !skipped.contains(SigV4Canonical.lowercased($0.name)) } + added
    }

    /// Lowercase names of the headers the signer itself sends in `form`, which the request's own
    /// headers must not duplicate.
    private func ownedHeaderNames(form: Form) -> Set<String> {
        guard form == .authorizationHeader else { return ["authorization"] }
        var names: Set<String> = ["authorization", "x-amz-date"]
        if sessionToken != nil { names.insert("x-amz-security-token") }
        if signsPayloadHeader { names.insert("x-amz-content-sha256") }
        return names
    }

    /// The presigned-URL items before the signature, values encoded, in the order they are sent.
    func presignItems(
        _ signing: Signing, expires: Int, withToken: Bool
    ) -> [(name: String, value: String)] {
        var items: [(name: String, value: String)] = [
            (QueryName.algorithm, Self.algorithm),
            (QueryName.credential, SigV4Canonical.percentEncoded(credential(signing))),
            (QueryName.date, signing.timestamp),
            (QueryName.signedHeaders, SigV4Canonical.percentEncoded(signing.signedHeaders)),
            (QueryName.expires, String(expires)),
        ]
        if withToken, let token = sessionToken {
            items.append((QueryName.securityToken, SigV4Canonical.percentEncoded(token)))
        }
        return items
    }

    /// The six lines of the canonical request.
    private func canonicalRequest(
        _ request: SigV4Request, query: [(name: String, value: String)],
        headers: [(name: String, value: String)], signing: Signing
    ) -> String {
        let path = SigV4Canonical.path(
            request.path, normalizing: normalizesPath, encodingAgain: encodesPathTwice)
        let headerLines = headers.map { "\($0.name):\($0.value)\n" }.joined()
        return [
            request.method, path, SigV4Canonical.query(query), headerLines, signing.signedHeaders,
            request.payloadHash,
        ].joined(separator: "\n")
    }

    /// The key derived from the secret for one day, region and service.
    private func signingKey(day: String) -> [UInt8] {
        let secret = Array("AWS4\(credentials.secretAccessKey)".utf8)
        let dayKey = HMACSHA256.mac(key: secret, day)
        let regionKey = HMACSHA256.mac(key: dayKey, region)
        let serviceKey = HMACSHA256.mac(key: regionKey, service)
        return HMACSHA256.mac(key: serviceKey, "aws4_request")
    }
}
