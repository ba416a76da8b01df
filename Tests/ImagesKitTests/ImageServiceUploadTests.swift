import Foundation
import ImagesKit
import ImagesKitMemory
import ImagesKitTestSupport
import Testing

@Suite("Upload")
struct ImageServiceUploadTests {
    let folder: ServiceTestFolder
    /// A 16 MiB raw ext4 disk image holding the sample files.
    let raw: [UInt8]
    /// `raw` compressed by `gzip -6`.
    let gzipped: [UInt8]

    init() throws {
        folder = try ServiceTestFolder()
        let shared = try SharedExt4Image.get()
        raw = shared.raw
        gzipped = shared.gzipped
    }

    static let request = UploadRequest(
        label: "uploaded-img", region: "us-east", description: "from a file", tags: ["upload", "disk", "upload"],
        cloudInit: true, createdBy: "carol")

    /// Sends `bytes` to a new pending upload and returns the id and the error it raised.
    func failedUpload(
        _ bytes: ChunkedBytes, harness: ServiceHarness
    ) async throws -> (ImageID, ImagesKitError?) {
        let id = try await harness.service.createUpload(Self.request).image.id
        let error = await #expect(throws: ImagesKitError.self) {
            try await harness.service.upload(id, bytes: bytes)
        }
        return (id, error)
    }

    /// Checks that a failed upload left no image and a failed event giving `reason`.
    func expectDiscarded(
        _ id: ImageID, because reason: String?, in harness: ServiceHarness,
        events expected: [String] = ["image_upload started", "image_upload failed"]
    ) async throws {
        let gone = await #expect(throws: ImagesKitError.self) { try await harness.service.image(id) }
        #expect(gone?.code == .imageNotFound)
        #expect(harness.store.storedBytes(of: id)?.count == nil)
        #expect(try await harness.store.records().isEmpty)
        let events = try await harness.service.events(for: id)
        #expect(events.map { "\($0.action.rawValue) \($0.status.rawValue)" } == expected)
        #expect(events.first { $0.status == .failed }?.message == reason)
    }

    /// An upload fed by the test: the first piece is sent, the upload has taken it, more can follow.
    struct RunningUpload {
        let task: Task<Image, any Error>
        let feed: AsyncStream<[UInt8]>.Continuation

        init(_ id: ImageID, first: [UInt8], harness: ServiceHarness) async throws {
            let (stream, feed) = AsyncStream.makeStream(of: [UInt8].self)
            let log = ProgressLog()
            task = Task { try await harness.service.upload(id, bytes: stream, progress: log.handler) }
            self.feed = feed
            feed.yield(first)
            while log.all.isEmpty { try await Task.sleep(for: .milliseconds(2)) }
        }

        func finish(with rest: [UInt8]) async throws -> Image {
            feed.yield(rest)
            feed.finish()
            return try await task.value
        }
    }

    @Test func createUploadMakesAPendingImageWithA24HourWindow() async throws {
        let harness = ServiceHarness()
        let pending = try await harness.service.createUpload(Self.request)

        let image = pending.image
        #expect(image.id == .private(1))
        #expect(image.status == .pendingUpload)
        #expect(image.size == 0 && image.totalSize == 0)
        #expect(image.regions.isEmpty)
        #expect(image.created == serviceTestStart && image.updated == serviceTestStart)
        #expect(pending.deadline == serviceTestStart.addingTimeInterval(24 * 3600))
        #expect([image.label, image.description, image.createdBy] == ["uploaded-img", "from a file", "carol"])
        #expect(image.tags == ["disk", "upload"])
        #expect(image.capabilities == ["cloud-init"])
        #expect(image.type == .manual && image.expiry == nil)
        let record = try #require(try await harness.store.record(image.id))
        #expect(record.uploadDeadline == pending.deadline)
        #expect(record.homeRegion == "us-east")
        #expect(record.content == nil)
        #expect(try await harness.eventSummary(of: image.id) == ["image_upload started"])
    }

    @Test(arguments: ["", "us east", "us/east", "ü-west", String(repeating: "r", count: 65)])
    func createUploadRefusesABadRegion(_ region: String) async throws {
        let harness = ServiceHarness()
        let error = await #expect(throws: ImagesKitError.self) {
            try await harness.service.createUpload(UploadRequest(label: "ok", region: region))
        }
        #expect(error?.code == .invalidArgument)
        #expect(error?.context["field"] == "region")
        #expect(try await harness.store.records().isEmpty)
    }

    @Test func createUploadRefusesABadLabel() async throws {
        let harness = ServiceHarness()
        let error = await #expect(throws: ImagesKitError.self) {
            try await harness.service.createUpload(UploadRequest(label: "../../etc/passwd", region: "us-east"))
        }
        #expect(error?.context["field"] == "label")
        #expect(try await harness.store.records().isEmpty)
        #expect(try await harness.store.events().isEmpty)
    }

    @Test(arguments: [(UInt64(1), 64), (2, 4096), (3, 200_000), (4, 3_000_000)])
    func gzippedExt4ImageBecomesAvailable(_ seed: UInt64, _ largest: Int) async throws {
        let harness = ServiceHarness()
        let id = try await harness.service.createUpload(Self.request).image.id
        harness.clock.advance(by: 3600)
        let image = try await harness.service.upload(id, bytes: ChunkedBytes(gzipped, seed: seed, largest: largest))

        #expect(image.status == .available)
        #expect(image.size == 17, "16 MiB is 16.78 MB, rounded up")
        #expect(image.regions == [ImageRegion(region: "us-east", status: .available)])
        #expect(image.totalSize == 17)
        #expect(image.updated == serviceTestStart.addingTimeInterval(3600))
        #expect(image.label == "uploaded-img")
        let record = try #require(try await harness.store.record(id))
        let content = try #require(record.content)
        #expect(content.sha256 == (try HostCheck.sha256(raw, in: folder)))
        #expect(content.uncompressedByteCount == UInt64(raw.count))
        #expect(content.compressedByteCount == UInt64(gzipped.count))
        #expect(content.filesystem == "ext4" && content.isExtFilesystem)
        #expect(record.uploadDeadline == nil)
        expectSameBytes(harness.store.storedBytes(of: id), gzipped)
        #expect(try await harness.service.image(id) == image)
        #expect(try await harness.eventSummary(of: id) == ["image_upload started", "image_upload finished"])
    }

    @Test func concatenatedMembersAreOneImage() async throws {
        let half = raw.count / 2
        let members =
            try HostCheck.gzip(Array(raw[..<half]), in: folder)
            + (try HostCheck.gzip(Array(raw[half...]), level: 1, in: folder))
        let harness = ServiceHarness()
        let image = try await harness.upload(members, seed: 9)

        let content = try #require(try await harness.store.record(image.id)?.content)
        #expect(content.uncompressedByteCount == UInt64(raw.count))
        #expect(content.sha256 == (try HostCheck.sha256(raw, in: folder)))
        expectSameBytes(harness.store.storedBytes(of: image.id), members)
    }

    @Test func availableUploadStartsBillingAndDeleteEndsIt() async throws {
        let billing = RecordingBilling()
        let harness = ServiceHarness(billing: billing)
        let image = try await harness.upload(gzipped, region: "eu-west")
        #expect(billing.all.map(\.kind) == [.started])
        harness.clock.advance(by: 7200)
        try await harness.service.delete(image.id)

        let records = billing.all
        #expect(records.map(\.kind) == [.started, .ended])
        #expect(records.allSatisfy { $0.image == image.id && $0.region == "eu-west" && $0.type == .manual })
        #expect(records.allSatisfy { $0.byteCount == UInt64(raw.count) })
        #expect(records.map(\.time) == [serviceTestStart, serviceTestStart.addingTimeInterval(7200)])
    }

    @Test func failedUploadIsNeverBilled() async throws {
        let billing = RecordingBilling()
        let harness = ServiceHarness(billing: billing)
        _ = try await failedUpload(ChunkedBytes(Array(gzipped.dropLast(5)), seed: 10), harness: harness)
        #expect(billing.all.isEmpty)
    }

    @Test func uploadReportsTheCompressedBytesReceived() async throws {
        let harness = ServiceHarness()
        let id = try await harness.service.createUpload(Self.request).image.id
        let log = ProgressLog()
        _ = try await harness.service.upload(id, bytes: ChunkedBytes(gzipped, seed: 8), progress: log.handler)

        let counts = log.all.map(\.completedBytes)
        #expect(log.all.allSatisfy { $0.phase == .receiving })
        #expect(counts.count > 1)
        #expect(zip(counts, counts.dropFirst()).allSatisfy { $0 < $1 })
        #expect(counts.last == UInt64(gzipped.count))
    }

    @Test(arguments: [UInt64(11), 12])
    func zeroPaddingIsAcceptedAndNotStored(_ seed: UInt64) async throws {
        let harness = ServiceHarness()
        let padded = gzipped + [UInt8](repeating: 0, count: 1000)
        let image = try await harness.upload(padded, seed: seed)

        #expect(image.status == .available)
        expectSameBytes(harness.store.storedBytes(of: image.id), gzipped)
        #expect(try await harness.store.record(image.id)?.content?.compressedByteCount == UInt64(gzipped.count))
    }

    @Test func paddingInAPieceOfItsOwnIsNotStored() async throws {
        let harness = ServiceHarness()
        let pending = try await harness.service.createUpload(Self.request)
        let pieces = [Array(gzipped[..<100]), Array(gzipped[100...]) + [0, 0], [UInt8](repeating: 0, count: 512)]
        _ = try await harness.service.upload(pending.image.id, bytes: ChunkedBytes(chunks: pieces))
        expectSameBytes(harness.store.storedBytes(of: pending.image.id), gzipped)
    }

    /// An upload that must fail, with the code it must fail with.
    enum BadUpload: String, CaseIterable, Sendable {
        case corruptCRC, corruptLength, truncatedMiddle, truncatedTrailer, headerOnly, oneByte
        case trailingGarbage, garbageAfterPadding, plainExt4, plainExt4InSmallPieces, qcow2, empty
        case onlyEmptyPieces

        func bytes(_ gzipped: [UInt8], raw: [UInt8]) -> ChunkedBytes {
            var damaged = gzipped
            switch self {
            case .corruptCRC: damaged[damaged.count - 8] ^= 0x01
            case .corruptLength: damaged[damaged.count - 4] ^= 0x01
            case .truncatedMiddle: damaged.removeLast(damaged.count / 2)
            case .truncatedTrailer: damaged.removeLast(3)
            case .headerOnly: damaged.removeLast(damaged.count - 10)
            case .oneByte: damaged = [0x1f]
            case .trailingGarbage: damaged += Array("garbage!".utf8)
            case .garbageAfterPadding: damaged += [0, 0, 0, 0] + Array("x".utf8)
            case .plainExt4: damaged = raw
            case .plainExt4InSmallPieces: return ChunkedBytes(raw, seed: 21, largest: 700)
            case .qcow2: damaged = [0x51, 0x46, 0x49, 0xFB, 0, 0, 0, 3] + [UInt8](repeating: 0, count: 4096)
            case .empty: damaged = []
            case .onlyEmptyPieces: return ChunkedBytes(chunks: [[], []])
            }
            return ChunkedBytes(damaged, seed: 20)
        }

        var expected: (code: ImagesKitError.Code, mentioning: String) {
            switch self {
            case .corruptCRC, .corruptLength: (.corruptData, "")
            case .truncatedMiddle, .truncatedTrailer, .headerOnly, .oneByte: (.truncatedData, "")
            case .trailingGarbage, .garbageAfterPadding: (.trailingData, "")
            case .plainExt4, .plainExt4InSmallPieces: (.unsupportedFormat, "ext4")
            case .qcow2: (.unsupportedFormat, "qcow2")
            case .empty, .onlyEmptyPieces: (.emptyInput, "")
            }
        }
    }

    @Test(arguments: BadUpload.allCases)
    func badUploadDeletesTheImageAndRecordsWhy(_ kind: BadUpload) async throws {
        let harness = ServiceHarness()
        let (id, error) = try await failedUpload(kind.bytes(gzipped, raw: raw), harness: harness)
        #expect(error?.code == kind.expected.code, "\(error?.description ?? "")")
        let mentioning = kind.expected.mentioning
        #expect(mentioning.isEmpty || error?.message.contains(mentioning) == true, "\(error?.message ?? "")")
        try await expectDiscarded(id, because: error?.message, in: harness)
    }

    @Test(arguments: [
        ("mkfs.btrfs", ["-q", "-f"], 128, "btrfs"), ("mkfs.xfs", ["-q", "-f"], 300, "xfs"),
        ("mkswap", ["-q"], 1, "swap space"),
    ])
    func rawDiskOfAnotherKindIsRefusedNamingIt(
        _ tool: String, _ options: [String], _ mebibytes: Int, _ name: String
    ) async throws {
        let path = folder.path("other.img")
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        try FileHandle(forWritingTo: URL(fileURLWithPath: path)).truncate(atOffset: UInt64(mebibytes) << 20)
        try HostTool.run(tool, options + [path])
        let start = Array(try folder.read("other.img").prefix(1 << 20))

        let harness = ServiceHarness()
        let (id, error) = try await failedUpload(ChunkedBytes(start, seed: 22, largest: 4096), harness: harness)
        #expect(error?.code == .unsupportedFormat)
        #expect(error?.message.contains(name) == true, "\(error?.message ?? "")")
        try await expectDiscarded(id, because: error?.message, in: harness)
    }

    @Test func xzCompressedImageIsRefusedNamingIt() async throws {
        let path = try folder.write(raw, to: "raw.img")
        let compressed = try HostTool.run("xz", ["-1", "-c", path])
        let harness = ServiceHarness()
        let (id, error) = try await failedUpload(ChunkedBytes(compressed, seed: 23, largest: 3), harness: harness)
        #expect(error?.code == .unsupportedFormat)
        #expect(error?.message.contains("xz") == true, "\(error?.message ?? "")")
        try await expectDiscarded(id, because: error?.message, in: harness)
    }

    @Test func uploadOverTheCompressedLimitIsRefused() async throws {
        let harness = ServiceHarness(limits: ImageLimits(uploadBytes: UInt64(gzipped.count) - 1))
        let (id, error) = try await failedUpload(ChunkedBytes(gzipped, seed: 30), harness: harness)
        #expect(error?.code == .uploadTooLarge)
        try await expectDiscarded(id, because: error?.message, in: harness)
    }

    @Test func uploadExactlyAtTheCompressedLimitIsAccepted() async throws {
        let harness = ServiceHarness(limits: ImageLimits(uploadBytes: UInt64(gzipped.count)))
        #expect(try await harness.upload(gzipped).status == .available)
    }

    @Test func smallFileThatInflatesOverTheImageLimitIsRefused() async throws {
        let bomb = try HostCheck.gzip([UInt8](repeating: 0, count: 8_000_000), level: 9, in: folder)
        try #require(bomb.count < 20_000)
        let harness = ServiceHarness(limits: ImageLimits(imageBytes: 1_000_000))
        let (id, error) = try await failedUpload(ChunkedBytes(bomb, seed: 31), harness: harness)
        #expect(error?.code == .imageTooLarge)
        try await expectDiscarded(id, because: error?.message, in: harness)
    }

    @Test func uploadAfterTheWindowClosedIsRefusedAndTheImageDeleted() async throws {
        let harness = ServiceHarness()
        let id = try await harness.service.createUpload(Self.request).image.id
        harness.clock.advance(by: 24 * 3600 + 1)

        let error = await #expect(throws: ImagesKitError.self) {
            try await harness.service.upload(id, bytes: ChunkedBytes(gzipped, seed: 40))
        }
        #expect(error?.code == .uploadWindowExpired)
        try await expectDiscarded(
            id, because: "upload window expired", in: harness,
            events: ["image_upload started", "image_upload failed", "image_expire finished"])
    }

    @Test func uploadInTheLastSecondOfTheWindowIsAccepted() async throws {
        let harness = ServiceHarness()
        let id = try await harness.service.createUpload(Self.request).image.id
        harness.clock.advance(by: 24 * 3600 - 1)
        #expect(try await harness.service.upload(id, bytes: ChunkedBytes(gzipped, seed: 41)).status == .available)
    }

    @Test func uploadToAnAvailableImageIsRefusedAndKeepsIt() async throws {
        let harness = ServiceHarness()
        let image = try await harness.upload(gzipped)
        let other = try HostCheck.gzip(Array("other".utf8), in: folder)

        let error = await #expect(throws: ImagesKitError.self) {
            try await harness.service.upload(image.id, bytes: ChunkedBytes(other, seed: 50))
        }
        #expect(error?.code == .invalidState)
        #expect(try await harness.service.image(image.id) == image)
        expectSameBytes(harness.store.storedBytes(of: image.id), gzipped)
    }

    @Test func uploadToAnUnknownImageIsNotFound() async throws {
        let error = await #expect(throws: ImagesKitError.self) {
            try await ServiceHarness().service.upload(.private(9), bytes: ChunkedBytes(gzipped, seed: 51))
        }
        #expect(error?.code == .imageNotFound)
    }

    @Test func uploadToADistributionImageIsNotModifiable() async throws {
        let id = try #require(ImageID("linode/debian12"))
        let error = await #expect(throws: ImagesKitError.self) {
            try await ServiceHarness().service.upload(id, bytes: ChunkedBytes(gzipped, seed: 52))
        }
        #expect(error?.code == .notModifiable)
    }

    @Test func gzippedDataThatIsNotAFilesystemIsStoredAsAvailable() async throws {
        let data = SplitMix64(seed: 60).bytesOf(300_000)
        let compressed = try HostCheck.gzip(data, in: folder)
        let harness = ServiceHarness()
        let image = try await harness.upload(compressed)

        #expect(image.status == .available)
        #expect(image.size == 1)
        let content = try #require(try await harness.store.record(image.id)?.content)
        #expect(!content.isExtFilesystem)
        #expect(content.sha256 == (try HostCheck.sha256(data, in: folder)))
        expectSameBytes(harness.store.storedBytes(of: image.id), compressed)
    }

    @Test func uploadFromAFileIsStoredWhole() async throws {
        let path = try folder.write(gzipped, to: "disk.img.gz")
        let harness = ServiceHarness(chunkSize: 100_000)
        let id = try await harness.service.createUpload(Self.request).image.id
        let image = try await harness.service.upload(id, fileAt: path)

        #expect(image.status == .available)
        expectSameBytes(harness.store.storedBytes(of: id), gzipped)
        #expect(try await harness.store.record(id)?.content?.uncompressedByteCount == UInt64(raw.count))
    }

    @Test func secondUploadToTheSameImageWhileOneRunsIsAConflict() async throws {
        let harness = ServiceHarness()
        let id = try await harness.service.createUpload(Self.request).image.id
        let upload = try await RunningUpload(id, first: Array(gzipped[..<1000]), harness: harness)

        let error = await #expect(throws: ImagesKitError.self) {
            try await harness.service.upload(id, bytes: ChunkedBytes(gzipped, seed: 70))
        }
        #expect(error?.code == .conflict)
        #expect(try await upload.finish(with: Array(gzipped[1000...])).status == .available)
        expectSameBytes(harness.store.storedBytes(of: id), gzipped)
    }

    @Test func cancelledUploadLeavesNoImageEvenAtTheEndOfAMember() async throws {
        let harness = ServiceHarness()
        let id = try await harness.service.createUpload(Self.request).image.id
        let first = try HostCheck.gzip(Array(raw[..<(8 << 20)]), in: folder)
        let upload = try await RunningUpload(id, first: first, harness: harness)
        upload.task.cancel()

        let error = await #expect(throws: ImagesKitError.self) { try await upload.task.value }
        #expect(error?.code == .cancelled)
        try await expectDiscarded(id, because: error?.message, in: harness)
    }

    @Test func deleteWhileAnUploadRunsNeverLetsTheImageComeBack() async throws {
        let harness = ServiceHarness()
        let id = try await harness.service.createUpload(Self.request).image.id
        let upload = try await RunningUpload(id, first: Array(gzipped[..<1000]), harness: harness)

        let deleted = await outcome { try await harness.service.delete(id) }
        let uploaded = await outcome { try await upload.finish(with: Array(gzipped[1000...])) }
        let stored = try await harness.store.record(id)
        switch deleted {
        case .success:
            #expect(stored == nil, "a deleted image came back when its upload finished")
            #expect(throws: (any Error).self) { try uploaded.get() }
        case .failure(let error):
            #expect((error as? ImagesKitError)?.code == .conflict)
            #expect(stored?.image.status == .available)
        }
    }

    @Test func updateWhileAnUploadRunsIsNeverLost() async throws {
        let harness = ServiceHarness()
        let id = try await harness.service.createUpload(Self.request).image.id
        let upload = try await RunningUpload(id, first: Array(gzipped[..<1000]), harness: harness)

        let updated = await outcome { try await harness.service.update(id, ImageUpdate(label: "renamed")) }
        let image = try await upload.finish(with: Array(gzipped[1000...]))
        switch updated {
        case .success:
            #expect(image.label == "renamed")
            #expect(try await harness.service.image(id).label == "renamed")
        case .failure(let error):
            #expect((error as? ImagesKitError)?.code == .conflict)
            #expect(image.label == Self.request.label)
        }
    }
}
