import Foundation
import ImagesKit
import ImagesKitMemory
import ImagesKitTestSupport
import Testing

@Suite("Service quotas")
struct ServiceQuotaTests {
    let folder: ServiceTestFolder

    init() throws {
        folder = try ServiceTestFolder()
    }

    /// Expects a failed upload of `id` to have left no record, no content, and its failed event.
    func expectNothingLeft(of id: ImageID, in harness: ServiceHarness, because error: ImagesKitError?) async throws {
        #expect(try await harness.store.record(id) == nil)
        #expect(harness.store.storedBytes(of: id) == nil)
        #expect(try await harness.eventSummary(of: id) == ["image_upload started", "image_upload failed"])
        #expect(try await harness.service.events(for: id).last?.message == error?.message)
    }

    @Test func defaultLimitsAreTheProducts() {
        let limits = ImageLimits()
        #expect(limits.imageBytes == 6_000_000_000)
        #expect(limits.uploadBytes == 5_368_709_120)
        #expect(limits.manualImageCount == 25)
        #expect(limits.manualImageBytes == 150_000_000_000)
        #expect(ImageServiceConfiguration().limits == limits)
        #expect(ImageServiceConfiguration().uploadWindow == 24 * hour)
        #expect(RecoveryPolicy().minimumActiveTime == 12 * hour)
        #expect(RecoveryPolicy().maximumRetention == 7 * day)
    }

    @Test(arguments: [(UInt64(1_000_000), true), (1_000_001, false)])
    func imageAtTheLimitIsAcceptedAndOneByteMoreRefused(_ byteCount: UInt64, _ accepted: Bool) async throws {
        let harness = ServiceHarness(limits: ImageLimits(imageBytes: 1_000_000))
        let pending = try await harness.pendingUpload()
        let gzipped = try HostCheck.gzip(SplitMix64(seed: 4).bytesOf(Int(byteCount)), in: folder)
        let result = await outcome {
            try await harness.service.upload(pending.id, bytes: ChunkedBytes(gzipped, seed: 4))
        }

        if accepted {
            let image = try result.get()
            #expect(image.status == .available && image.size == 1)
            #expect(try await harness.record(pending.id).content?.uncompressedByteCount == byteCount)
        } else {
            let error = try #require(result.failureAsImagesKitError)
            #expect(error.code == .imageTooLarge)
            #expect(error.message.contains("1000000"), "\(error.message)")
            try await expectNothingLeft(of: pending.id, in: harness, because: error)
        }
    }

    @Test func twentyFifthManualImageIsAcceptedAndTheTwentySixthRefused() async throws {
        let harness = ServiceHarness()
        for number in 1...20 {
            _ = try await harness.uploadTiny(byteCount: 100, seed: UInt64(number), in: folder)
        }
        for _ in 21...24 { _ = try await harness.pendingUpload() }
        let twentyFifth = try await harness.pendingUpload(label: "twenty-fifth")
        #expect(twentyFifth.id == .private(25))

        let error = await expectImagesKitError { try await harness.pendingUpload(label: "twenty-sixth") }
        #expect(error?.code == .quotaExceeded)
        #expect(error?.message.contains("25") == true, "\(error?.message ?? "")")
        #expect(error?.context["limit"] == "25")
        #expect(try await harness.store.records().count == 25)
        let refusedCapture = await expectImagesKitError {
            try await harness.service.capture(CaptureRequest(), from: try SmallDisk.ext(in: folder))
        }
        #expect(refusedCapture?.code == .quotaExceeded)
        #expect(try await harness.store.records().count == 25)
    }

    @Test func recoveryImagesCountTowardNoAccountLimit() async throws {
        let harness = ServiceHarness(limits: ImageLimits(manualImageCount: 3, manualImageBytes: 1))
        _ = try await harness.pendingUpload()
        _ = try await harness.pendingUpload()
        let disk = try SmallDisk.ext(in: folder)
        let recovery = try await harness.deleteServer(disks: [ServerDisk(disk), ServerDisk(disk)])
        #expect(recovery.images.count == 2 && recovery.skipped.isEmpty)
        #expect(recovery.images.allSatisfy { $0.type == .automatic && $0.size > 0 })

        let third = try await harness.pendingUpload(label: "third")
        #expect(third.status == .pendingUpload, "recovery images hold bytes, yet manual images still fit")
        let fourth = await expectImagesKitError { try await harness.pendingUpload(label: "fourth") }
        #expect(fourth?.code == .quotaExceeded)
        #expect(fourth?.message.contains("already has 3 manual images") == true, "\(fourth?.message ?? "")")
    }

    @Test func captureOverTheStorageQuotaIsRefusedBeforeAnythingIsStored() async throws {
        let scratch = folder.path("scratch")
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        let files = ["data.bin": SplitMix64(seed: 8).bytesOf(2_000_000)]
        let disk = try SmallDisk.ext(in: folder, files: files)
        let used = try DiskProbe.capturableFilesystem(on: disk).usedByteCount
        let harness = ServiceHarness(
            limits: ImageLimits(manualImageBytes: 500_000 + used - 1), scratchDirectory: scratch)
        let first = try await harness.uploadTiny(byteCount: 500_000, in: folder)

        let error = await expectImagesKitError { try await harness.service.capture(CaptureRequest(), from: disk) }
        #expect(error?.code == .quotaExceeded)
        #expect(error?.context["limit"] == String(500_000 + used - 1))
        #expect(error?.context["bytes"] == String(500_000 + used))
        let refused = ImageID.private(2)
        #expect(try await harness.storedIDs() == [first.id])
        #expect(harness.store.storedBytes(of: refused) == nil)
        let events = try await harness.service.events(for: refused)
        #expect(events.map(describe) == ["disk_imagize failed: \(error?.message ?? "")"])
        #expect(try folder.entries(of: "scratch").isEmpty)
    }

    /// A damaged record whose size, counted once per region, passes 2^64 bytes fills the quota;
    /// the count must not wrap around to a small number that lets more images in.
    @Test func aRecordTooLargeToCountFillsTheQuotaInsteadOfWrappingAround() async throws {
        let harness = ServiceHarness()
        let huge = Image(
            id: .private(90), label: "damaged", created: serviceTestStart, size: 1, status: .available,
            regions: [ImageRegion(region: "local", status: .available), ImageRegion(region: "far", status: .available)])
        let content = ImageContent(
            format: "gzip", sha256: String(repeating: "0", count: 64), uncompressedByteCount: UInt64.max / 2 + 1,
            compressedByteCount: 1, filesystem: "ext4", isExtFilesystem: true)
        try await harness.store.save(StoredImage(image: huge, homeRegion: "local", content: content))

        let error = await expectImagesKitError {
            try await harness.service.createUpload(UploadRequest(label: "next", region: "local"))
        }
        #expect(error?.code == .quotaExceeded)
        #expect(error?.context["bytes"] == String(UInt64.max))
    }

    @Test func uploadOverTheRemainingStorageStopsAndLeavesNothing() async throws {
        let harness = ServiceHarness(limits: ImageLimits(manualImageBytes: 3_000_000))
        let first = try await harness.uploadTiny(byteCount: 2_000_000, seed: 1, in: folder)
        let second = try await harness.pendingUpload()
        let gzipped = try HostCheck.gzip(SplitMix64(seed: 2).bytesOf(1_000_001), in: folder)

        let error = await expectImagesKitError {
            try await harness.service.upload(second.id, bytes: ChunkedBytes(gzipped, seed: 2))
        }
        #expect(error?.code == .quotaExceeded)
        #expect(error?.context["limit"] == "1000000", "the quota leaves 1,000,000 bytes")
        try await expectNothingLeft(of: second.id, in: harness, because: error)
        #expect(try await harness.storedIDs() == [first.id])
    }

    @Test func uploadFillingTheStorageExactlyIsAcceptedAndThenNothingMoreFits() async throws {
        let harness = ServiceHarness(limits: ImageLimits(manualImageBytes: 3_000_000))
        _ = try await harness.uploadTiny(byteCount: 2_000_000, seed: 1, in: folder)
        let second = try await harness.uploadTiny(byteCount: 1_000_000, seed: 2, in: folder)
        #expect(second.status == .available)

        let error = await expectImagesKitError { try await harness.pendingUpload() }
        #expect(error?.code == .quotaExceeded)
        #expect(error?.context["bytes"] == "3000000")
        #expect(try await harness.store.records().count == 2)
    }

    @Test func eachRegionCopyCountsTowardTheStorageQuota() async throws {
        let harness = ServiceHarness(limits: ImageLimits(manualImageBytes: 2_500_000))
        let image = try await harness.uploadTiny(byteCount: 1_000_000, in: folder)
        let twoRegions = try await harness.service.replicate(image.id, to: ["local", "eu-west"])
        #expect(twoRegions.regions.count == 2)

        let before = try await harness.record(image.id)
        let third = await expectImagesKitError {
            try await harness.service.replicate(image.id, to: ["local", "eu-west", "ap-south"])
        }
        #expect(third?.code == .quotaExceeded)
        #expect(third?.context["bytes"] == "3000000")
        #expect(try await harness.record(image.id) == before, "a refused replication changes nothing")

        let tooBig = try await harness.pendingUpload()
        let gzipped = try HostCheck.gzip(SplitMix64(seed: 3).bytesOf(500_001), in: folder)
        let error = await expectImagesKitError {
            try await harness.service.upload(tooBig.id, bytes: ChunkedBytes(gzipped, seed: 3))
        }
        #expect(error?.code == .quotaExceeded, "two copies of 1,000,000 bytes leave 500,000")
        #expect(try await harness.uploadTiny(byteCount: 500_000, seed: 4, in: folder).status == .available)
    }

    @Test func deletedImageFreesItsPlaceInTheImageCount() async throws {
        let harness = ServiceHarness(limits: ImageLimits(manualImageCount: 1))
        let first = try await harness.pendingUpload()
        let refused = await expectImagesKitError { try await harness.pendingUpload() }
        #expect(refused?.code == .quotaExceeded)

        try await harness.service.delete(first.id)
        #expect(try await harness.pendingUpload().status == .pendingUpload)
    }

    @Test func deletedImageFreesItsStorage() async throws {
        let harness = ServiceHarness(limits: ImageLimits(manualImageBytes: 1_000_000))
        let first = try await harness.uploadTiny(byteCount: 1_000_000, seed: 1, in: folder)
        let refused = await expectImagesKitError { try await harness.pendingUpload() }
        #expect(refused?.code == .quotaExceeded)

        try await harness.service.delete(first.id)
        let second = try await harness.uploadTiny(byteCount: 1_000_000, seed: 2, in: folder)
        #expect(second.status == .available)
    }
}

extension Result {
    /// The error as an ``ImagesKitError``, or `nil` for a success or another error.
    var failureAsImagesKitError: ImagesKitError? {
        guard case .failure(let error) = self else { return nil }
        return error as? ImagesKitError
    }
}
