import Foundation
import ImagesKit
import ImagesKitStoreContract
import ImagesKitTestSupport
import Testing

@testable import ImagesKitS3

/// Virtual-hosted addressing against the real object store: the bucket travels in the host
/// name (`imageskit-tests.localhost`), which the server's `storage_domain` turns back into a
/// bucket, and every request is signed for that host.
@Suite(
    "S3 store with virtual-hosted addressing",
    .enabled(
        if: ProcessInfo.processInfo.environment["IMAGESKIT_S3_ENDPOINT"] == nil,
        "needs the object store of scripts/objectstore.sh, which takes bucket names in host names"))
struct S3VirtualHostedTests {
    static let factory = ImageStoreContract.Factory(
        makeStore: { try await S3TestBucket.store(try await virtualHosted()) },
        reopen: { store in try await S3TestBucket.store((store as! S3ImageStore).configuration) })

    /// A fresh prefix of the shared bucket, reached as `BUCKET.localhost:PORT`; curl, under
    /// URLSession, takes every name under `localhost` for the loopback address.
    static func virtualHosted() async throws -> S3Configuration {
        var configuration = try await S3TestBucket.configuration()
        var endpoint = URLComponents(url: configuration.endpoint, resolvingAgainstBaseURL: false)!
        endpoint.host = "localhost"
        configuration.endpoint = endpoint.url!
        configuration.addressing = .virtualHosted
        return configuration
    }

    @Test("passes the store contract", arguments: ImageStoreContract.checks)
    func contract(_ check: ImageStoreContract.Check) async throws {
        try await check.run(Self.factory)
    }

    @Test("requests name the bucket in the host, not in the path")
    func bucketInHost() async throws {
        let store = try await S3TestBucket.store(try await Self.virtualHosted())
        let address = S3Address(configuration: store.configuration)

        #expect(address.host.hasPrefix("\(S3TestBucket.bucket).localhost:"))
        #expect(address.path(key: "records/x.json") == "/records/x.json")
    }

    @Test("content of several parts goes up and comes back whole")
    func multipartRoundTrip() async throws {
        let store = try await S3TestBucket.store(try await Self.virtualHosted())
        let bytes = S3TestBucket.payload(11 << 20 + 4_321, seed: 11)

        let same = try await S3TestBucket.roundTrip(store, bytes, piece: 2_000_003)

        #expect(same)
    }
}
