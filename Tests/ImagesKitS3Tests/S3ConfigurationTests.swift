import Foundation
import ImagesKit
import Testing

@testable import ImagesKitS3

@Suite("S3 configuration and addresses")
struct S3ConfigurationTests {
    static let credentials = S3Credentials(accessKeyID: "AKID", secretAccessKey: "secret")

    static func configuration(
        _ endpoint: String, bucket: String = "images", prefix: String = "", addressing: S3Configuration.Addressing
    ) -> S3Configuration {
        S3Configuration(
            endpoint: URL(string: endpoint)!, bucket: bucket, prefix: prefix, credentials: credentials,
            addressing: addressing)
    }

    @Test("s3://BUCKET/PREFIX names a bucket and a folder of keys")
    func storeAddresses() {
        #expect(S3Configuration.parseStoreAddress("s3://images")! == ("images", ""))
        #expect(S3Configuration.parseStoreAddress("s3://images/")! == ("images", ""))
        #expect(S3Configuration.parseStoreAddress("s3://images/prod/eu")! == ("images", "prod/eu/"))
        #expect(S3Configuration.parseStoreAddress("s3://images//prod/")! == ("images", "prod/"))
        #expect(S3Configuration.parseStoreAddress("s3://") == nil)
        #expect(S3Configuration.parseStoreAddress("/var/lib/images") == nil)
    }

    @Test("path-style and virtual-hosted addresses, with the port only when it is not the default")
    func addresses() {
        let path = S3Address(configuration: Self.configuration("http://127.0.0.1:9000", addressing: .pathStyle))
        #expect(path.host == "127.0.0.1:9000")
        #expect(path.path(key: "a/b c.json") == "/images/a/b%20c.json")
        #expect(path.path(key: nil) == "/images")
        let virtual = S3Address(
            configuration: Self.configuration("https://s3.eu-west-1.amazonaws.com:443", addressing: .virtualHosted))
        #expect(virtual.host == "images.s3.eu-west-1.amazonaws.com")
        #expect(virtual.path(key: "records/1.json") == "/records/1.json")
        #expect(virtual.path(key: nil) == "/")
        let url = virtual.url(path: "/k", query: [("uploads", ""), ("prefix", "a%2Fb")])
        #expect(url.absoluteString == "https://images.s3.eu-west-1.amazonaws.com/k?uploads&prefix=a%2Fb")
    }

    @Test("keys and query values are encoded as SigV4 requires")
    func encoding() {
        #expect(S3Address.encode("AZaz09-._~") == "AZaz09-._~")
        #expect(S3Address.encode("a b/c+d=é") == "a%20b%2Fc%2Bd%3D%C3%A9")
        #expect(S3Address.encode("a b/c", keepingSlashes: true) == "a%20b/c")
    }

    @Test("configurations that can't work are refused before any request")
    func problems() throws {
        var bad = Self.configuration("ftp://host", addressing: .pathStyle)
        #expect(bad.problem?.contains("http") == true)
        bad = Self.configuration("http://host", bucket: "Bad_Bucket", addressing: .pathStyle)
        #expect(bad.problem?.contains("bucket") == true)
        bad = Self.configuration("http://host", addressing: .pathStyle)
        bad.partByteCount = 1 << 20
        #expect(bad.problem?.contains("5 MiB") == true)
        let error = #expect(throws: ImagesKitError.self) { try S3ImageStore(configuration: bad) }
        #expect(error?.code == .invalidArgument)
        #expect(Self.configuration("http://host", prefix: "x", addressing: .pathStyle).prefix == "x/")
        #expect(Self.configuration("http://host", addressing: .pathStyle).problem == nil)
    }

    @Test("the retry waits grow, stay under the most, and vary")
    func retryDelays() {
        let policy = S3RetryPolicy(maximumAttempts: 8, initialDelay: 0.5, maximumDelay: 4)
        let second = (0..<50).map { _ in policy.delay(beforeAttempt: 2) }
        #expect(second.allSatisfy { (0.25...0.5).contains($0) })
        #expect(Set(second).count > 1)
        #expect((0..<50).map { _ in policy.delay(beforeAttempt: 8) }.allSatisfy { (2...4).contains($0) })
    }
}
