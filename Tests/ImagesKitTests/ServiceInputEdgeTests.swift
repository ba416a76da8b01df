import Foundation
import ImagesKit
import ImagesKitMemory
import Testing

/// Inputs at the edges of the rules: odd regions, huge labels, too many regions, refused
/// uploads, and events that say what happened.
@Suite("Service input edges")
struct ServiceInputEdgeTests {
    let folder: ServiceTestFolder

    init() throws {
        folder = try ServiceTestFolder()
    }

    @Test(arguments: [
        "US-EAST", "us east", "", "a/b", "../x", "ü", "-", "us-", "-us", String(repeating: "a", count: 65),
    ])
    func aMalformedRegionIsRefusedEverywhere(region: String) async throws {
        let harness = ServiceHarness()
        let disk = try SmallDisk.ext(in: folder)

        let capture = await expectImagesKitError {
            try await harness.service.capture(CaptureRequest(region: region), from: disk)
        }
        let upload = await expectImagesKitError {
            try await harness.service.createUpload(UploadRequest(label: "u", region: region))
        }
        let recovery = await expectImagesKitError {
            try await harness.service.serverDeleted(
                DeletedServer(label: "web", disks: [ServerDisk(disk)], activeTime: 13 * 3600, region: region))
        }
        for error in [capture, upload, recovery] {
            #expect(error?.code == .invalidArgument)
            #expect(error?.context["field"] == "region")
        }
        #expect(try await harness.store.records().isEmpty)
    }

    @Test func aServerWithAHugeLabelStillGetsItsRecoveryImage() async throws {
        let harness = ServiceHarness()
        let label = String(repeating: "a", count: 70_000) + "\n\u{1B}[2J"
        let outcome = try await harness.deleteServer(label, disks: [ServerDisk(try SmallDisk.ext(in: folder))])

        let image = try #require(outcome.images.first)
        #expect(outcome.skipped.isEmpty)
        #expect(image.label.count <= 50)
        let description = try #require(image.description)
        #expect(description.count < 600)
        #expect(!description.unicodeScalars.contains { $0.properties.generalCategory == .control })
    }

    @Test func replicationToMoreThanAHundredRegionsIsRefused() async throws {
        let harness = ServiceHarness()
        let image = try await harness.uploadTiny(in: folder)
        let regions = ["local"] + (1...100).map { "region-\($0)" }

        let error = await expectImagesKitError { try await harness.service.replicate(image.id, to: regions) }
        #expect(error?.code == .invalidArgument)
        #expect(error?.message.contains("at most 100 regions") == true)
        #expect(try await harness.service.image(image.id).regions.count == 1)
    }

    @Test func anUploadRefusedByTheImageQuotaRecordsWhy() async throws {
        let harness = ServiceHarness(limits: ImageLimits(manualImageCount: 1))
        _ = try await harness.pendingUpload(label: "first")

        let error = await expectImagesKitError { try await harness.pendingUpload(label: "second") }
        #expect(error?.code == .quotaExceeded)
        let failed = try await harness.service.events().filter { $0.status == .failed }
        #expect(failed.map(\.action) == [.imageUpload])
        #expect(failed.first?.message == error?.message)
        #expect(try await harness.store.records().count == 1)
    }

    @Test func aReplicationOfAnImageStillArrivingSaysToWait() async throws {
        let harness = ServiceHarness()
        let pending = try await harness.pendingUpload()
        let error = await expectImagesKitError { try await harness.service.replicate(pending.id, to: ["local"]) }
        #expect(error?.code == .invalidState)
        #expect(error?.message.contains("wait until its capture or upload has finished") == true)
    }
}
