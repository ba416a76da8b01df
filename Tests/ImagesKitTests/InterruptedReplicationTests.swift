import Foundation
import ImagesKit
import ImagesKitMemory
import Testing

/// A replication a crash cut off leaves no region half-made once recovery has run.
@Suite("Interrupted replication")
struct InterruptedReplicationTests {
    let folder: ServiceTestFolder

    init() throws {
        folder = try ServiceTestFolder()
    }

    /// Saves the image's record with `regions`, as a killed replication left it.
    private func leave(
        _ regions: KeyValuePairs<String, RegionStatus>, on image: Image, in harness: ServiceHarness
    ) async throws {
        var record = try await harness.record(image.id)
        record.image.regions = regions.map { ImageRegion(region: $0.key, status: $0.value) }
        try await harness.store.save(record)
    }

    @Test func whileCopyingUnfinishedCopiesGoAndDroppedRegionsComeBack() async throws {
        let replication = ScriptedReplication()
        let harness = ServiceHarness(replication: replication)
        let image = try await harness.uploadTiny(in: folder)
        try await leave(
            [
                "local": .pendingDeletion, "us-east": .available, "eu-west": .replicating,
                "ap-south": .pendingReplication,
            ],
            on: image, in: harness)

        #expect(try await harness.service.recoverInterruptedWork().isEmpty)
        let regions = try await harness.record(image.id).image.regions
        #expect(regions == ServiceReplicationTests.regions(["local": .available, "us-east": .available]))
        #expect(replication.calls == ["remove eu-west", "remove ap-south"])
        let events = try await harness.service.events(for: image.id)
        let expected = "image_update failed: the replication was interrupted; the image is in local, us-east"
        #expect(events.last.map(describe) == expected + ": replicate again")
    }

    @Test func onceEveryCopyWasMadeTheDroppedRegionsAreRemovedAndTheirBillingEnds() async throws {
        let replication = ScriptedReplication()
        let billing = RecordingBilling()
        let harness = ServiceHarness(billing: billing, replication: replication)
        let image = try await harness.uploadTiny(in: folder)
        try await leave(["local": .pendingDeletion, "us-east": .available], on: image, in: harness)

        try await harness.service.recoverInterruptedWork()
        let regions = try await harness.record(image.id).image.regions
        #expect(regions == ServiceReplicationTests.regions(["us-east": .available]))
        #expect(replication.calls == ["remove local"])
        let ended = billing.all.filter { $0.kind == .ended }.map(\.region)
        #expect(ended == ["local"])
        #expect(try await harness.service.recoverInterruptedWork().isEmpty)
        #expect(try await harness.service.events(for: image.id).filter { $0.status == .failed }.count == 1)
    }

    @Test func aReplicationStillRunningIsLeftAlone() async throws {
        let services = Gathered<ImageService>()
        let seen = Gathered<RegionStatus>()
        let replication = ScriptedReplication { record, _, region in
            let service = try #require(services.all.first)
            try await service.recoverInterruptedWork()
            let regions = try await service.image(record.image.id).regions
            seen.append(try #require(regions.first { $0.region == region }).status)
        }
        let harness = ServiceHarness(replication: replication)
        services.append(harness.service)
        let image = try await harness.uploadTiny(in: folder)

        let replicated = try await harness.service.replicate(image.id, to: ["local", "eu-west"])
        #expect(seen.all == [.replicating])
        #expect(replicated.regions == ServiceReplicationTests.regions(["local": .available, "eu-west": .available]))
    }
}

/// A delete or expiry a crash cut off is finished by recovery, billing included.
@Suite("Interrupted removal")
struct InterruptedRemovalTests {
    let folder: ServiceTestFolder

    init() throws {
        folder = try ServiceTestFolder()
    }

    @Test func aRecordMarkedAsBeingRemovedGoesEverywhereAndItsBillingEnds() async throws {
        let replication = ScriptedReplication()
        let billing = RecordingBilling()
        let harness = ServiceHarness(billing: billing, replication: replication)
        let image = try await harness.uploadTiny(in: folder)
        var record = try await harness.record(image.id)
        record.isBeingRemoved = true
        try await harness.store.save(record)

        try await harness.service.recoverInterruptedWork()
        #expect(try await harness.store.record(image.id) == nil)
        #expect(replication.calls == ["remove local"])
        #expect(billing.all.map(\.kind) == [.started, .ended])
        #expect(try await harness.eventSummary(of: image.id).last == "image_delete finished")
    }

    @Test func aDeleteMarksTheRecordAndEndsBillingBeforeTheRecordGoes() async throws {
        let billing = RecordingBilling()
        let seen = Gathered<Bool>()
        let harness = ServiceHarness(billing: billing)
        let image = try await harness.uploadTiny(in: folder)
        let store = harness.store
        let watching = ImageService(
            store: store, compressor: harness.service.compressor, billing: billing,
            replication: RemovalWatch { id in seen.append(try await store.record(id)?.isBeingRemoved == true) })

        try await watching.delete(image.id)
        #expect(seen.all == [true])
        #expect(billing.all.map(\.kind) == [.started, .ended])
        #expect(try await store.record(image.id) == nil)
    }
}

/// A replication that runs a closure when a copy is removed.
struct RemovalWatch: RegionReplication {
    let onRemove: @Sendable (ImageID) async throws -> Void

    func checkServes(_ region: String) throws {}

    func copy(
        _ record: StoredImage, from source: any ImageStore, to region: String, progress: ProgressHandler
    ) async throws {}

    func remove(_ id: ImageID, from region: String) async throws {
        try await onRemove(id)
    }
}
