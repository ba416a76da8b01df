import Foundation
import ImagesKit
import Testing

@testable import ImagesKitS3

/// Claims and the admission lock shared by stores over one prefix, as processes sharing a
/// bucket use them.
@Suite("S3 claims across stores")
struct S3ClaimTests {
    static func pair(lease: TimeInterval = 120) async throws -> (S3ImageStore, S3ImageStore) {
        var configuration = try await S3TestBucket.configuration()
        configuration.claimLease = lease
        return (try await S3TestBucket.store(configuration), try await S3TestBucket.store(configuration))
    }

    static func claimSoon(_ id: ImageID, in store: S3ImageStore) async throws -> (any ImageClaim)? {
        for _ in 0..<50 {
            if let claim = try await store.claim(id) { return claim }
            try await Task.sleep(nanoseconds: 100_000_000)
        }
        return nil
    }

    @Test("an image claimed by one store can't be claimed again until it is released")
    func claimsExclude() async throws {
        let (first, second) = try await Self.pair()
        let claim = try #require(try await first.claim(.private(7)))
        #expect(try await second.claim(.private(7)) == nil)
        #expect(try await first.claim(.private(7)) == nil)
        let other = try #require(try await second.claim(.private(8)))
        claim.release()
        claim.release()
        let again = try #require(try await Self.claimSoon(.private(7), in: second))
        again.release()
        other.release()
        #expect(try await Self.claimSoon(.private(7), in: first) != nil)
    }

    @Test("a claim left by a process that died expires and is cleared by the next claimant")
    func expiredClaimCleared() async throws {
        let (store, _) = try await Self.pair()
        let dead = S3Claims.Marker(
            folder: store.keys.claimsFolder + S3StoreKeys.digits(9) + "/", expiry: Date().addingTimeInterval(-1),
            token: "dead-process")
        try await store.client.put(dead.key, Data())
        let claim = try #require(try await store.claim(.private(9)))
        let markers = try await store.client.list(prefix: dead.folder).map(\.key)
        #expect(!markers.contains(dead.key) && markers.count == 1)
        claim.release()
    }

    // Timing-bound: on a loaded two-core machine renewals can lag past a short lease, so this
    // runs with the long tests; set IMAGESKIT_LONG_TESTS=1.
    @Test(
        "a held claim writes a fresh marker before its lease runs out, and keeps one",
        .enabled(if: S3LargeImageTests.runsLongTests, "set IMAGESKIT_LONG_TESTS=1 to watch a lease renew"))
    func heldClaimRenewed() async throws {
        let (first, second) = try await Self.pair(lease: 20)
        let claim = try #require(try await first.claim(.private(3)))
        let folder = first.keys.claimsFolder + S3StoreKeys.digits(3) + "/"
        let original = try #require(try await Self.markers(first, folder).first)

        var renewed: S3Claims.Marker?
        for _ in 0..<120 where renewed == nil {
            try await Task.sleep(nanoseconds: 500_000_000)
            renewed = try await Self.markers(first, folder).first { $0.expiry > original.expiry }
        }
        #expect(renewed?.token == original.token)
        #expect(try await second.claim(.private(3)) == nil)
        await claim.finish()
        var left = try await Self.markers(first, folder)
        for _ in 0..<50 where !left.isEmpty {  // listings may show a removal a moment late
            try await Task.sleep(nanoseconds: 100_000_000)
            left = try await Self.markers(first, folder)
        }
        #expect(left.isEmpty)
        #expect(try await Self.claimSoon(.private(3), in: second) != nil)
    }

    static func markers(_ store: S3ImageStore, _ folder: String) async throws -> [S3Claims.Marker] {
        try await store.client.list(prefix: folder).compactMap { S3Claims.Marker(key: $0.key, folder: folder) }
    }

    @Test("the admission lock is held by one store at a time; the other waits")
    func admissionWaits() async throws {
        let (first, second) = try await Self.pair()
        let held = try await first.holdAdmission()
        let waiter = Task {
            let lock = try await second.holdAdmission()
            let at = Date()
            lock.release()
            return at
        }
        try await Task.sleep(nanoseconds: 1_000_000_000)
        let released = Date()
        held.release()
        let acquired = try await waiter.value
        #expect(acquired >= released)
    }
}
