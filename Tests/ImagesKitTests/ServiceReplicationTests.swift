import Foundation
import ImagesKit
import ImagesKitMemory
import ImagesKitTestSupport
import Testing

@Suite("Service replication")
struct ServiceReplicationTests {
    let folder: ServiceTestFolder

    init() throws {
        folder = try ServiceTestFolder()
    }

    static func regions(_ pairs: KeyValuePairs<String, RegionStatus>) -> [ImageRegion] {
        pairs.map { ImageRegion(region: $0.key, status: $0.value) }
    }

    @Test func emptyRegionSetIsRefused() async throws {
        let harness = ServiceHarness()
        let image = try await harness.uploadTiny(in: folder)
        let error = await expectImagesKitError { try await harness.service.replicate(image.id, to: []) }
        #expect(error?.code == .invalidArgument)
        #expect(error?.context["field"] == "regions")
        #expect(try await harness.service.image(image.id) == image)
    }

    @Test func setWithoutAnAvailableCopyIsRefusedAndChangesNothing() async throws {
        let harness = ServiceHarness()
        let image = try await harness.uploadTiny(in: folder)
        let record = try await harness.record(image.id)
        let events = try await harness.service.events()
        harness.clock.advance(by: 60)

        let error = await expectImagesKitError { try await harness.service.replicate(image.id, to: ["eu-west"]) }
        #expect(error?.code == .invalidArgument)
        #expect(error?.message.contains("local") == true, "\(error?.message ?? "")")
        #expect(try await harness.record(image.id) == record)
        #expect(try await harness.service.events() == events)
    }

    @Test func replicatingAddsThenRemovesRegions() async throws {
        let harness = ServiceHarness()
        let image = try await harness.uploadTiny(byteCount: 1_500_000, in: folder)
        #expect(image.size == 2 && image.totalSize == 2)

        harness.clock.advance(by: 60)
        let both = try await harness.service.replicate(image.id, to: ["local", "eu-west"])
        #expect(both.regions == Self.regions(["local": .available, "eu-west": .available]))
        #expect(both.size == 2 && both.totalSize == 4)
        #expect(both.status == .available)
        #expect(both.updated == serviceTestStart.addingTimeInterval(60))

        harness.clock.advance(by: 60)
        let moved = try await harness.service.replicate(image.id, to: ["eu-west"])
        #expect(moved.regions == Self.regions(["eu-west": .available]))
        #expect(moved.totalSize == 2)
        #expect(try await harness.service.image(image.id) == moved)
        #expect(harness.store.storedBytes(of: image.id) != nil, "the service's store keeps the first copy")

        let events = try await harness.service.events(for: image.id).filter { $0.action == .imageUpdate }
        #expect(
            events.map(describe) == [
                "image_update started: replicating to eu-west", "image_update finished: replicating to eu-west",
                "image_update started: removing from local", "image_update finished: removing from local",
            ])
    }

    @Test func sameSetAgainChangesNothing() async throws {
        let harness = ServiceHarness()
        let image = try await harness.uploadTiny(in: folder)
        let events = try await harness.service.events()
        harness.clock.advance(by: 60)
        #expect(try await harness.service.replicate(image.id, to: ["local", "local"]) == image)
        #expect(try await harness.service.events() == events)
    }

    @Test func newRegionsPassThroughPendingReplicationAndReplicating() async throws {
        let sightings = Gathered<String>()
        let replication = ScriptedReplication { record, source, region in
            let stored = try await source.record(record.image.id)
            let regions = stored?.image.regions.map { "\($0.region) \($0.status.rawValue)" } ?? []
            sightings.append("\(region): \(stored?.image.status.rawValue ?? "gone") \(regions)")
        }
        let harness = ServiceHarness(replication: replication)
        let image = try await harness.uploadTiny(in: folder)
        _ = try await harness.service.replicate(image.id, to: ["local", "eu-west"])

        let final = try await harness.service.replicate(image.id, to: ["eu-west", "ap-south", "us-east"])
        #expect(
            sightings.all == [
                #"eu-west: available ["local available", "eu-west replicating"]"#,
                #"ap-south: available ["local pending deletion", "eu-west available", "ap-south replicating", "#
                    + #""us-east pending replication"]"#,
                #"us-east: available ["local pending deletion", "eu-west available", "ap-south available", "#
                    + #""us-east replicating"]"#,
            ])
        #expect(final.regions == Self.regions(["eu-west": .available, "ap-south": .available, "us-east": .available]))
        #expect(replication.calls == ["copy eu-west", "copy ap-south", "copy us-east", "remove local"])
    }

    @Test func failedCopyPutsTheRegionsBackAndRecordsTheFailure() async throws {
        let billing = RecordingBilling()
        let replication = ScriptedReplication { _, _, region in
            guard region != "ap-south" else { throw ImagesKitError(.storeFailure, "ap-south store is offline") }
        }
        let harness = ServiceHarness(billing: billing, replication: replication)
        let image = try await harness.uploadTiny(in: folder)
        harness.clock.advance(by: 60)

        let error = await expectImagesKitError {
            try await harness.service.replicate(image.id, to: ["local", "eu-west", "ap-south"])
        }
        #expect(error?.code == .storeFailure)
        var expected = image
        expected.updated = harness.clock.now()
        #expect(try await harness.service.image(image.id) == expected)
        #expect(replication.calls == ["copy eu-west", "copy ap-south", "remove eu-west", "remove ap-south"])
        let updates = try await harness.service.events(for: image.id).filter { $0.action == .imageUpdate }
        #expect(
            updates.map(describe) == [
                "image_update started: replicating to eu-west, ap-south",
                "image_update failed: ap-south store is offline",
            ])
        #expect(
            billing.all.map { "\($0.kind.rawValue) \($0.region)" } == [
                "started local", "started eu-west", "ended eu-west",
            ])
    }

    @Test func onlyAvailableImagesCanBeReplicated() async throws {
        let harness = ServiceHarness()
        let pending = try await harness.pendingUpload()
        let error = await expectImagesKitError {
            try await harness.service.replicate(pending.id, to: ["local", "eu-west"])
        }
        #expect(error?.code == .invalidState)
        #expect(try await harness.service.image(pending.id) == pending)
    }

    @Test func unknownImageIsNotFound() async throws {
        let error = await expectImagesKitError {
            try await ServiceHarness().service.replicate(.private(7), to: ["local"])
        }
        #expect(error?.code == .imageNotFound)
    }

    @Test func storePerRegionReplicationKeepsTheCopyInTheRegionsStore() async throws {
        let euWest = MemoryImageStore(region: "eu-west")
        let replication = StorePerRegionReplication(stores: ["eu-west": euWest], chunkSize: 4096)
        let harness = ServiceHarness(replication: replication)
        let image = try await harness.uploadTiny(byteCount: 300_000, in: folder)
        let stored = try #require(harness.store.storedBytes(of: image.id))

        _ = try await harness.service.replicate(image.id, to: ["local", "eu-west"])
        expectSameBytes(euWest.storedBytes(of: image.id), stored, "the eu-west copy")
        let replica = try #require(try await euWest.record(image.id))
        #expect(replica.homeRegion == "eu-west")
        #expect(replica.content == (try await harness.record(image.id)).content)

        _ = try await harness.service.replicate(image.id, to: ["local"])
        #expect(euWest.storedBytes(of: image.id) == nil)
        #expect(try await euWest.records().isEmpty)
        expectSameBytes(harness.store.storedBytes(of: image.id), stored, "the first copy")
    }

    @Test func deleteRemovesEveryRegionsCopy() async throws {
        let euWest = MemoryImageStore(region: "eu-west")
        let harness = ServiceHarness(replication: StorePerRegionReplication(stores: ["eu-west": euWest]))
        let image = try await harness.uploadTiny(in: folder)
        _ = try await harness.service.replicate(image.id, to: ["local", "eu-west"])
        #expect(euWest.storedBytes(of: image.id) != nil)

        try await harness.service.delete(image.id)
        #expect(euWest.storedBytes(of: image.id) == nil)
        #expect(harness.store.storedBytes(of: image.id) == nil)
    }

    @Test func onlyListedRegionsAndThoseAlreadyHoldingACopyAreServed() async throws {
        let euWest = MemoryImageStore(region: "eu-west")
        let replication = StorePerRegionReplication(stores: ["eu-west": euWest], servesOnlyListedRegions: true)
        let harness = ServiceHarness(replication: replication)
        let image = try await harness.service.capture(CaptureRequest(), from: try SmallDisk.ext(in: folder))
        #expect(image.regions == Self.regions(["local": .available]))

        let error = await expectImagesKitError {
            try await harness.service.replicate(image.id, to: ["local", "mars-1"])
        }
        #expect(error?.code == .invalidArgument)
        #expect(error?.message.contains("mars-1") == true, "\(error?.message ?? "")")
        #expect(try await harness.service.image(image.id) == image)

        let replicated = try await harness.service.replicate(image.id, to: ["local", "eu-west"])
        #expect(replicated.regions == Self.regions(["local": .available, "eu-west": .available]))
        expectSameBytes(euWest.storedBytes(of: image.id), try #require(harness.store.storedBytes(of: image.id)))
    }

    @Test func billingFollowsEachRegionsCopy() async throws {
        let billing = RecordingBilling()
        let harness = ServiceHarness(billing: billing)
        let image = try await harness.uploadTiny(byteCount: 1_500_000, in: folder)
        harness.clock.advance(by: hour)
        _ = try await harness.service.replicate(image.id, to: ["local", "eu-west"])
        harness.clock.advance(by: hour)
        _ = try await harness.service.replicate(image.id, to: ["eu-west"])
        harness.clock.advance(by: hour)
        try await harness.service.delete(image.id)

        let records = billing.all
        #expect(
            records.map { "\($0.kind.rawValue) \($0.region)" } == [
                "started local", "started eu-west", "ended local", "ended eu-west",
            ])
        #expect(records.map(\.time) == (0...3).map { serviceTestStart.addingTimeInterval(TimeInterval($0) * hour) })
        #expect(records.allSatisfy { $0.byteCount == 1_500_000 && $0.type == .manual && $0.image == image.id })
    }
}
