import Foundation
import ImagesKit
import ImagesKitS3
import Testing

/// The examples of the Amazon S3 documentation on SigV4, and S3 defaults the suite does not cover.
@Suite("SigV4 for S3")
struct SigV4S3Tests {
    static let credentials = S3Credentials(
        accessKeyID: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    /// 2013-05-24T00:00:00Z, the time of the documentation's examples.
    static let exampleDate = Date(timeIntervalSince1970: 1_369_353_600)
    static let emptyHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    @Test("GET /test.txt with a Range header, signed in the Authorization header")
    func getObjectExample() {
        let signer = SigV4Signer(credentials: Self.credentials, region: "us-east-1")
        let request = SigV4Request(
            method: "GET", path: "/test.txt",
            headers: [("Host", "examplebucket.s3.amazonaws.com"), ("Range", "bytes=0-9")], payloadHash: Self.emptyHash)
        let signing = signer.signing(for: request, at: Self.exampleDate)
        #expect(
            signing.canonicalRequest == """
                GET
                /test.txt

                host:examplebucket.s3.amazonaws.com
                range:bytes=0-9
                x-amz-content-sha256:\(Self.emptyHash)
                x-amz-date:20130524T000000Z

                host;range;x-amz-content-sha256;x-amz-date
                \(Self.emptyHash)
                """)
        #expect(signing.signature == "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
        let headers = signer.authorizationHeaders(for: request, at: Self.exampleDate)
        #expect(headers.map(\.name) == ["X-Amz-Date", "x-amz-content-sha256", "Authorization"])
        #expect(headers.map(\.value).first == "20130524T000000Z")
        #expect(
            headers.last?.value
                == "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
                + "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
                + "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
    }

    @Test("PUT of a key with a reserved character: the encoded path is signed as sent")
    func putObjectExample() {
        let signer = SigV4Signer(credentials: Self.credentials, region: "us-east-1")
        let body = Array("Welcome to Amazon S3.".utf8)
        let request = SigV4Request(
            method: "PUT", path: "/test%24file.text",
            headers: [
                ("Host", "examplebucket.s3.amazonaws.com"), ("Date", "Fri, 24 May 2013 00:00:00 GMT"),
                ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
            ], payloadHash: SHA256Digest.hex(of: body))
        let signing = signer.signing(for: request, at: Self.exampleDate)
        #expect(signing.canonicalRequest.split(separator: "\n").dropFirst().first == "/test%24file.text")
        #expect(signing.signedHeaders == "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class")
        #expect(signing.signature == "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd")
    }

    @Test("presigned GET /test.txt valid one day, unsigned payload")
    func presignedExample() {
        let signer = SigV4Signer(credentials: Self.credentials, region: "us-east-1")
        let request = SigV4Request(
            method: "GET", path: "/test.txt", headers: [("Host", "examplebucket.s3.amazonaws.com")],
            payloadHash: "UNSIGNED-PAYLOAD")
        let items = signer.presignedQuery(for: request, at: Self.exampleDate, expires: 86400)
        #expect(
            items.map(\.name) == [
                "X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-SignedHeaders", "X-Amz-Expires",
                "X-Amz-Signature",
            ])
        #expect(items[1].value == "AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request")
        #expect(items.last?.value == "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404")
    }

    @Test("a session token is sent and signed; headers the signer owns are not taken from the request")
    func sessionTokenAndOwnedHeaders() {
        var credentials = Self.credentials
        credentials.sessionToken = "token/with+reserved="
        let signer = SigV4Signer(credentials: credentials, region: "eu-west-1")
        let request = SigV4Request(
            method: "HEAD", path: "/bucket/key",
            headers: [
                ("host", "s3.eu-west-1.amazonaws.com"), ("X-Amz-Date", "19990101T000000Z"),
                ("User-Agent", "ImagesKit"), ("Authorization", "stale"),
            ], payloadHash: Self.emptyHash)
        let signing = signer.signing(for: request, at: Self.exampleDate)
        #expect(signing.signedHeaders == "host;x-amz-content-sha256;x-amz-date;x-amz-security-token")
        #expect(signing.canonicalRequest.contains("x-amz-security-token:token/with+reserved=\n"))
        #expect(!signing.canonicalRequest.contains("19990101"))
        let headers = signer.authorizationHeaders(for: request, at: Self.exampleDate)
        #expect(headers.first?.name == "X-Amz-Security-Token")
        #expect(headers.first?.value == "token/with+reserved=")
        let query = signer.presignedQuery(for: request, at: Self.exampleDate, expires: 60)
        #expect(query.first { $0.name == "X-Amz-Security-Token" }?.value == "token%2Fwith%2Breserved%3D")
    }

    @Test("the timestamp is UTC, truncated to the second, whatever the machine's settings")
    func timestampIsUTC() {
        let signer = SigV4Signer(credentials: Self.credentials, region: "us-east-1")
        let request = SigV4Request(method: "GET", path: "/", headers: [("Host", "h")], payloadHash: Self.emptyHash)
        // 2024-02-29T23:59:59.999Z: a leap day, the last second before midnight.
        let signing = signer.signing(for: request, at: Date(timeIntervalSince1970: 1_709_251_199.999))
        #expect(signing.timestamp == "20240229T235959Z")
        #expect(signing.credentialScope == "20240229/us-east-1/s3/aws4_request")
    }

    @Test("S3 defaults: no path normalization, no second encoding, query re-encoded and sorted")
    func s3PathAndQuery() {
        let signer = SigV4Signer(credentials: Self.credentials, region: "us-east-1")
        let request = SigV4Request(
            method: "GET", path: "/bucket/a/../b//c%2Fd",
            query: [("prefix", "x%2fy"), ("list-type", "2"), ("delimiter", "%2F"), ("a", "")],
            headers: [("Host", "h")], payloadHash: "UNSIGNED-PAYLOAD")
        let lines = signer.signing(for: request, at: Self.exampleDate).canonicalRequest.split(
            separator: "\n", omittingEmptySubsequences: false)
        #expect(lines[1] == "/bucket/a/../b//c%2Fd")
        #expect(lines[2] == "a=&delimiter=%2F&list-type=2&prefix=x%2Fy")
    }
}
