import Foundation
import ImagesKit
import ImagesKitGzip
import ImagesKitMemory
import ImagesKitTestSupport
import Testing

@Suite("Service lifecycle")
struct ServiceLifecycleTests {
    let folder: ServiceTestFolder

    init() throws {
        folder = try ServiceTestFolder()
    }

    /// What a progress handler saw of the image's record while a capture ran.
    struct Sighting: Hashable, Sendable {
        var status: ImageStatus
        var size: Int
        var regions: [ImageRegion]
        var capabilities: [String]
        var hasContent: Bool
    }

    @Test func captureShowsCreatingWithTheDiskSizeThenAvailableWithTheImageSize() async throws {
        let store = ObservedStore(MemoryImageStore(region: "local"))
        let clock = SettableClock(serviceTestStart)
        let service = ImageService(store: store, compressor: GzipCompressor(), clock: clock)
        let disk = try ExtImageMaker.memoryDisk(try ExtImageMaker.make(in: folder, mebibytes: 16))
        let id = ImageID.private(1)
        let sightings = Gathered<Sighting>()
        let image = try await service.capture(CaptureRequest(cloudInit: true), from: disk) { _ in
            guard let record = store.current(id) else { return }
            let image = record.image
            sightings.append(
                Sighting(
                    status: image.status, size: image.size, regions: image.regions,
                    capabilities: image.capabilities, hasContent: record.content != nil))
        }

        let running = Sighting(
            status: .creating, size: 17, regions: [], capabilities: ["cloud-init"], hasContent: false)
        #expect(sightings.all.count > 3)
        #expect(Set(sightings.all) == [running], "16 MiB is 16.78 MB, so the source disk shows as 17")

        let content = try #require(try await store.record(id)?.content)
        #expect(image.id == id)
        #expect(image.status == .available)
        #expect(image.size == Image.megabytes(content.uncompressedByteCount))
        #expect(image.size < 17, "the finished image holds the used data, not the disk")
        #expect(image.regions == [ImageRegion(region: "local", status: .available)])
        #expect(image.totalSize == image.size)
        #expect(image.capabilities == ["cloud-init", "distributed-sites"])
        #expect(image.type == .manual && image.expiry == nil)
        #expect(try await service.image(id) == image)
    }

    @Test func pendingUploadHasNoSizeNoRegionsAndIsNotYetDistributed() async throws {
        let harness = ServiceHarness()
        let pending = try await harness.service.createUpload(
            UploadRequest(label: "pending", region: "local", cloudInit: true))
        #expect(pending.image.status == .pendingUpload)
        #expect(pending.image.size == 0 && pending.image.totalSize == 0)
        #expect(pending.image.regions.isEmpty)
        #expect(pending.image.capabilities == ["cloud-init"])
        #expect(try await harness.service.image(pending.image.id) == pending.image)

        let plain = try await harness.uploadTiny(in: folder)
        #expect(plain.capabilities == ["distributed-sites"])
        #expect(plain.regions == [ImageRegion(region: "local", status: .available)])
        #expect(plain.size == 1)
    }

    @Test func updateChangesOnlyLabelDescriptionAndTags() async throws {
        let harness = ServiceHarness()
        let before = try await harness.uploadTiny(in: folder)
        let recordBefore = try await harness.record(before.id)
        let bytesBefore = try #require(harness.store.storedBytes(of: before.id))
        harness.clock.advance(by: 90)

        let update = ImageUpdate(label: "renamed", description: "now described", tags: ["zeta", "alpha", "zeta"])
        let updated = try await harness.service.update(before.id, update)

        var expected = before
        expected.label = "renamed"
        expected.description = "now described"
        expected.tags = ["alpha", "zeta"]
        expected.updated = serviceTestStart.addingTimeInterval(90)
        #expect(updated == expected)
        #expect(try await harness.service.image(before.id) == expected)
        let recordAfter = try await harness.record(before.id)
        #expect(recordAfter.content == recordBefore.content)
        #expect(recordAfter.homeRegion == recordBefore.homeRegion)
        expectSameBytes(harness.store.storedBytes(of: before.id), bytesBefore, "stored content")

        harness.clock.advance(by: 10)
        let cleared = try await harness.service.update(before.id, ImageUpdate(description: ""))
        expected.description = nil
        expected.updated = serviceTestStart.addingTimeInterval(100)
        #expect(cleared == expected, "an empty description clears it; the label and tags stay")
    }

    /// An update that breaks a rule, and the field its error must name.
    static let invalidUpdates: [(ImageUpdate, String)] = [
        (ImageUpdate(label: ""), "label"),
        (ImageUpdate(label: "a/b"), "label"),
        (ImageUpdate(label: String(repeating: "x", count: 51)), "label"),
        (ImageUpdate(description: String(repeating: "d", count: 65_001)), "description"),
        (ImageUpdate(tags: ["ok-tag", "ab"]), "tags"),
        (ImageUpdate(tags: (0..<501).map { "tag-\($0)" }), "tags"),
    ]

    @Test(arguments: invalidUpdates)
    func invalidUpdateNamesTheFieldAndChangesNothing(_ update: ImageUpdate, _ field: String) async throws {
        let harness = ServiceHarness()
        let before = try await harness.uploadTiny(in: folder)
        let eventsBefore = try await harness.service.events()
        harness.clock.advance(by: 60)

        let error = await expectImagesKitError { try await harness.service.update(before.id, update) }
        #expect(error?.code == .invalidArgument)
        #expect(error?.context["field"] == field)
        #expect(error?.message.hasPrefix(field) == true, "\(error?.message ?? "")")
        #expect(try await harness.service.image(before.id) == before)
        #expect(try await harness.service.events() == eventsBefore)
    }

    @Test func unknownImageIsNotFoundForGetUpdateAndDelete() async throws {
        let harness = ServiceHarness()
        _ = try await harness.uploadTiny(in: folder)
        let missing = ImageID.private(42)

        let got = await expectImagesKitError { try await harness.service.image(missing) }
        let updated = await expectImagesKitError {
            try await harness.service.update(missing, ImageUpdate(label: "x"))
        }
        let deleted = await expectImagesKitError { try await harness.service.delete(missing) }
        #expect([got?.code, updated?.code, deleted?.code] == [.imageNotFound, .imageNotFound, .imageNotFound])
        #expect(try await harness.storedIDs() == [.private(1)])
    }

    @Test func distributionImagesAreNotModifiable() async throws {
        let harness = ServiceHarness()
        let id = try #require(ImageID("linode/debian12"))

        let updated = await expectImagesKitError { try await harness.service.update(id, ImageUpdate(label: "x")) }
        let deleted = await expectImagesKitError { try await harness.service.delete(id) }
        let replicated = await expectImagesKitError { try await harness.service.replicate(id, to: ["local"]) }
        #expect([updated?.code, deleted?.code, replicated?.code] == [.notModifiable, .notModifiable, .notModifiable])
        let got = await expectImagesKitError { try await harness.service.image(id) }
        #expect(got?.code == .imageNotFound)
        #expect(try await harness.store.events().isEmpty)
    }

    @Test func deleteRemovesTheRecordAndItsContent() async throws {
        let harness = ServiceHarness()
        let kept = try await harness.uploadTiny(seed: 1, in: folder)
        let doomed = try await harness.uploadTiny(seed: 2, in: folder)
        try await harness.service.delete(doomed.id)

        #expect(try await harness.storedIDs() == [kept.id])
        #expect(harness.store.storedBytes(of: doomed.id) == nil)
        #expect(harness.store.storedBytes(of: kept.id) != nil)
        let again = await expectImagesKitError { try await harness.service.delete(doomed.id) }
        #expect(again?.code == .imageNotFound)
    }

    @Test func listFiltersBySizeRange() async throws {
        let harness = ServiceHarness()
        let pending = try await harness.pendingUpload()
        let one = try await harness.uploadTiny(byteCount: 1_000_000, seed: 1, in: folder)
        let two = try await harness.uploadTiny(byteCount: 1_000_001, seed: 2, in: folder)
        let four = try await harness.uploadTiny(byteCount: 3_500_000, seed: 3, in: folder)
        let sizes: [Int] = [pending.size, one.size, two.size, four.size]
        #expect(sizes == [0, 1, 2, 4])

        func ids(_ size: ClosedRange<Int>) async throws -> [ImageID] {
            try await harness.service.images(ImageQuery(size: size)).data.map(\.id)
        }
        #expect(try await ids(0...0) == [pending.id])
        #expect(try await ids(1...2) == [one.id, two.id])
        #expect(try await ids(2...4) == [two.id, four.id])
        #expect(try await ids(3...3) == [])
        #expect(try await ids(0...100) == [pending.id, one.id, two.id, four.id])
        let page = try await harness.service.images(ImageQuery(size: 1...1))
        #expect(page.results == 1 && page.pages == 1)
    }
}
