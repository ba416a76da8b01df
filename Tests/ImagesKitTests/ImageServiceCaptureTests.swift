import Foundation
import ImagesKit
import ImagesKitMemory
import ImagesKitTestSupport
import Testing

@Suite("Capture")
struct ImageServiceCaptureTests {
    let folder: ServiceTestFolder
    let scratch: String

    init() throws {
        folder = try ServiceTestFolder()
        scratch = folder.path("scratch")
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
    }

    func harness(limits: ImageLimits = ImageLimits()) -> ServiceHarness {
        ServiceHarness(limits: limits, scratchDirectory: scratch)
    }

    /// The uncompressed bytes of an image's stored content, decoded by `gzip -dc`.
    func decodedContent(of id: ImageID, in harness: ServiceHarness) throws -> [UInt8] {
        try HostCheck.gunzip(try #require(harness.store.storedBytes(of: id)), in: folder)
    }

    @Test func capturedDiskBecomesAnAvailableImageOfItsUsedData() async throws {
        let path = try ExtImageMaker.make(in: folder, label: "rootfs")
        let harness = harness()
        let request = CaptureRequest(
            description: "web tier", tags: ["web", "base", "web"], cloudInit: true, createdBy: "alice")
        let image = try await harness.service.capture(request, from: try ExtImageMaker.memoryDisk(path))

        let decoded = try decodedContent(of: image.id, in: harness)
        let content = try #require(try await harness.store.record(image.id)?.content)
        #expect(image.status == .available)
        #expect(image.size == Int((decoded.count + 999_999) / 1_000_000))
        #expect(image.size < 16 * 1_048_576 / 1_000_000, "the image holds used data, not the whole disk")
        #expect(content.uncompressedByteCount == UInt64(decoded.count))
        #expect(content.sha256 == (try HostCheck.sha256(decoded, in: folder)))
        #expect(content.compressedByteCount == UInt64(harness.store.storedBytes(of: image.id)?.count ?? 0))
        #expect(content.filesystem == "ext4")
        #expect(image.regions == [ImageRegion(region: "local", status: .available)])
        #expect(image.totalSize == image.size)
        #expect([image.label, image.description, image.createdBy] == ["rootfs", "web tier", "alice"])
        #expect(image.tags == ["base", "web"])
        #expect(image.capabilities == ["cloud-init", "distributed-sites"])
        #expect(try await harness.service.image(image.id) == image)
        #expect(try await harness.eventSummary(of: image.id) == ["disk_imagize started", "disk_imagize finished"])
        #expect(try folder.entries(of: "scratch").isEmpty)
    }

    @Test func capturedImageHoldsTheSameFilesAndACleanFilesystem() async throws {
        let files = ExtImageMaker.sampleFiles(seed: 99)
        let path = try ExtImageMaker.make(in: folder, mebibytes: 24, files: files, options: ["-b", "4096"])
        let harness = harness()
        let image = try await harness.service.capture(CaptureRequest(), from: try ExtImageMaker.memoryDisk(path))

        let imagePath = try folder.write(try decodedContent(of: image.id, in: harness), to: "decoded.img")
        #expect(try HostCheck.filesystemIsClean(at: imagePath))
        for (name, bytes) in files {
            expectSameBytes(try HostCheck.extFile(name, inImageAt: imagePath), bytes, "\(name)")
        }
        let filesystem = try DiskProbe.capturableFilesystem(on: try FileDisk(path: imagePath))
        #expect(filesystem.byteCount == FileManager.default.sizeOfFile(imagePath))
    }

    @Test func captureReportsIncreasingProgressInEachStep() async throws {
        let files = ["a.bin": SplitMix64(seed: 3).bytesOf(2_000_000), "b.txt": Array("b".utf8)]
        let path = try ExtImageMaker.make(in: folder, files: files)
        let log = ProgressLog()
        _ = try await harness().service.capture(
            CaptureRequest(), from: try ExtImageMaker.memoryDisk(path), progress: log.handler)

        let reports = log.all
        var phases: [OperationProgress.Phase] = []
        for report in reports where phases.last != report.phase { phases.append(report.phase) }
        #expect(phases == [.copying, .checking, .shrinking, .storing])

        for phase in [OperationProgress.Phase.copying, .storing] {
            let steps = reports.filter { $0.phase == phase }
            let counts = steps.map(\.completedBytes)
            #expect(counts.count >= 2, "\(phase)")
            #expect(zip(counts, counts.dropFirst()).allSatisfy { $0 <= $1 }, "\(phase): \(counts)")
            #expect(counts.last == steps.last?.totalBytes, "\(phase)")
        }
        let copying = reports.filter { $0.phase == .copying }.map(\.completedBytes)
        #expect(zip(copying, copying.dropFirst()).allSatisfy { $0 < $1 }, "\(copying)")
    }

    @Test(arguments: [("my-root.fs", "my-root.fs"), ("root/fs:1", "root_fs_1")])
    func labelDefaultsToTheFilesystemLabel(_ fsLabel: String, _ label: String) async throws {
        let path = try ExtImageMaker.make(in: folder, mebibytes: 8, label: fsLabel, files: [:])
        let disk = try ExtImageMaker.memoryDisk(path, name: "vm-disk")
        let image = try await harness().service.capture(CaptureRequest(), from: disk)
        #expect(image.label == label)
    }

    @Test(arguments: [("web-01 root", "web-01 root"), ("vm/disk:0", "vm_disk_0"), ("   ", "disk")])
    func labelFallsBackToTheDiskName(_ name: String, _ label: String) async throws {
        let path = try ExtImageMaker.make(in: folder, mebibytes: 8, files: [:])
        let image = try await harness().service.capture(
            CaptureRequest(), from: try ExtImageMaker.memoryDisk(path, name: name))
        #expect(image.label == label)
    }

    @Test func labelGivenInTheRequestWins() async throws {
        let path = try ExtImageMaker.make(in: folder, mebibytes: 8, label: "rootfs", files: [:])
        let image = try await harness().service.capture(
            CaptureRequest(label: "chosen"), from: try ExtImageMaker.memoryDisk(path))
        #expect(image.label == "chosen")
    }

    @Test func captureWithAnInvalidLabelLeavesNothing() async throws {
        let path = try ExtImageMaker.make(in: folder, mebibytes: 8, files: [:])
        let harness = harness()
        let error = await #expect(throws: ImagesKitError.self) {
            try await harness.service.capture(CaptureRequest(label: "a/b"), from: try ExtImageMaker.memoryDisk(path))
        }
        #expect(error?.code == .invalidArgument)
        #expect(try await harness.store.records().isEmpty)
        #expect(try await harness.store.events().isEmpty)
    }

    /// A disk a capture must refuse, made with the real tools.
    enum RefusedDisk: String, CaseIterable, Sendable {
        case ext2, allZero, mbr, gpt

        func make(in folder: ServiceTestFolder) throws -> MemoryDisk {
            switch self {
            case .ext2:
                return try ExtImageMaker.memoryDisk(try ExtImageMaker.make(in: folder, mebibytes: 8, type: "ext2"))
            case .allZero:
                return MemoryDisk(name: "blank", byteCount: 8 << 20)
            case .mbr, .gpt:
                let path = folder.path("partitioned.img")
                _ = FileManager.default.createFile(atPath: path, contents: nil)
                try FileHandle(forWritingTo: URL(fileURLWithPath: path)).truncate(atOffset: 4 << 20)
                let script = try folder.write(Array("label: \(self == .mbr ? "dos" : "gpt")\n,,L\n".utf8), to: "s")
                try HostTool.run("sfdisk", ["--no-reread", "--no-tell-kernel", "-q", path], input: script)
                return try MemoryDisk(copying: path)
            }
        }

        var expected: (code: ImagesKitError.Code, named: String) {
            switch self {
            case .ext2: (.unsupportedFilesystem, "ext2")
            case .allZero: (.unsupportedFilesystem, "no filesystem")
            case .mbr: (.partitionedDisk, "MBR")
            case .gpt: (.partitionedDisk, "GPT")
            }
        }
    }

    @Test(arguments: RefusedDisk.allCases)
    func unsupportedDiskIsRefusedLeavingOnlyAFailedEvent(_ kind: RefusedDisk) async throws {
        let disk = try kind.make(in: folder)
        let harness = harness()
        let error = await #expect(throws: ImagesKitError.self) {
            try await harness.service.capture(CaptureRequest(), from: disk)
        }
        #expect(error?.code == kind.expected.code)
        #expect(error?.message.contains(kind.expected.named) == true, "\(error?.message ?? "")")
        #expect(try await harness.store.records().isEmpty)
        let events = try await harness.store.events()
        #expect(events.map(\.status) == [.failed] && events.first?.message == error?.message)
    }

    @Test func diskWithMoreUsedDataThanTheLimitIsRefusedBeforeAnyRecord() async throws {
        let path = try ExtImageMaker.make(in: folder, files: ["big.bin": SplitMix64(seed: 5).bytesOf(3_000_000)])
        let harness = harness(limits: ImageLimits(imageBytes: 2_000_000))
        let error = await #expect(throws: ImagesKitError.self) {
            try await harness.service.capture(CaptureRequest(), from: try ExtImageMaker.memoryDisk(path))
        }
        #expect(error?.code == .imageTooLarge)
        #expect(error?.context["limit"] == "2000000")
        #expect(try await harness.store.records().isEmpty)
        #expect(try await harness.store.events().map(\.action) == [.diskImagize])
        #expect(try folder.entries(of: "scratch").isEmpty)
    }

    @Test func cancelledCaptureLeavesNoImageNoContentAndNoScratch() async throws {
        let path = try ExtImageMaker.make(in: folder)
        let disk = try ExtImageMaker.memoryDisk(path)
        let harness = harness()
        let log = ProgressLog()
        let record = log.handler
        let task = Task {
            try await harness.service.capture(CaptureRequest(), from: disk) { report in
                record(report)
                withUnsafeCurrentTask { $0?.cancel() }
            }
        }

        let error = await #expect(throws: ImagesKitError.self) { try await task.value }
        #expect(error?.code == .cancelled)
        #expect(try await harness.store.records().isEmpty)
        #expect(harness.store.storedBytes(of: .private(1))?.count == nil)
        let events = try await harness.store.events()
        #expect(
            events.map { "\($0.action.rawValue) \($0.status.rawValue)" } == [
                "disk_imagize started", "disk_imagize failed",
            ])
        #expect(events.last?.message == error?.message)
        #expect(!log.all.contains { $0.phase == .storing }, "the capture stopped soon after it was cancelled")
        #expect(try folder.entries(of: "scratch").isEmpty)
    }

    @Test func runningCaptureShowsCreatingWithTheDiskSize() async throws {
        let disk = try ExtImageMaker.memoryDisk(try ExtImageMaker.make(in: folder))
        let harness = harness()
        let log = ProgressLog()
        let capture = Task { try await harness.service.capture(CaptureRequest(), from: disk, progress: log.handler) }
        while log.all.isEmpty { try await Task.sleep(for: .milliseconds(1)) }

        let running = try await harness.service.image(.private(1))
        let finished = try await capture.value
        if running.status == .creating {
            #expect(running.size == 17, "16 MiB of disk is 16.78 MB, rounded up")
            #expect(running.regions.isEmpty && running.totalSize == 0)
        } else {
            #expect(running == finished)
        }
        #expect(finished.size < 17)
    }

    @Test func deleteWhileACaptureRunsNeverLetsTheImageComeBack() async throws {
        let disk = try ExtImageMaker.memoryDisk(try ExtImageMaker.make(in: folder))
        let harness = harness()
        let log = ProgressLog()
        let capture = Task { try await harness.service.capture(CaptureRequest(), from: disk, progress: log.handler) }
        while log.all.isEmpty { try await Task.sleep(for: .milliseconds(1)) }

        let deleted = await outcome { try await harness.service.delete(.private(1)) }
        let captured = await outcome { try await capture.value }
        let stored = try await harness.store.record(.private(1))
        switch deleted {
        case .success:
            #expect(stored == nil, "a deleted image came back when its capture finished")
        case .failure(let error):
            #expect((error as? ImagesKitError)?.code == .conflict)
            #expect(stored?.image == (try? captured.get()))
        }
    }

    @Test func deletedFileDataNeverTravelsIntoTheImage() async throws {
        let path = try ExtImageMaker.make(in: folder)
        let secret = SplitMix64(seed: 0x5EC2E7).bytesOf(512 * 1024)
        let secretPath = try folder.write(secret, to: "secret.bin")
        try HostTool.run("debugfs", ["-w", "-R", "write \(secretPath) secret.bin", path])
        try HostTool.run("debugfs", ["-w", "-R", "rm secret.bin", path])
        let windows = SecretWindows(secret)
        let source = try folder.read("disk.img")
        try #require(windows.occurrences(in: source) > 1000, "the deleted data is still on the source disk")

        let harness = harness()
        let image = try await harness.service.capture(CaptureRequest(), from: try MemoryDisk(copying: path))

        #expect(windows.occurrences(in: try decodedContent(of: image.id, in: harness)) == 0)
    }

    @Test func ext3DiskInAFileIsCapturedAndTheFileIsOnlyRead() async throws {
        let path = try ExtImageMaker.make(in: folder, name: "ext3.img", mebibytes: 24, type: "ext3")
        let before = try HostCheck.sha256(ofFile: path)
        let harness = harness()
        let image = try await harness.service.capture(CaptureRequest(), from: try FileDisk(path: path))

        #expect(image.label == "ext3.img")
        #expect(try await harness.store.record(image.id)?.content?.filesystem == "ext3")
        #expect(try HostCheck.sha256(ofFile: path) == before)
    }
}
