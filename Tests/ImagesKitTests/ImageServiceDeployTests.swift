import Foundation
import ImagesKit
import ImagesKitMemory
import ImagesKitTestSupport
import Testing

@Suite("Deploy and export")
struct ImageServiceDeployTests {
    let folder: ServiceTestFolder
    let shared: SharedExt4Image
    let harness: ServiceHarness

    init() throws {
        folder = try ServiceTestFolder()
        shared = try SharedExt4Image.get()
        let scratch = folder.path("scratch")
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        harness = ServiceHarness(scratchDirectory: scratch)
    }

    /// Uploads the shared ext4 image and returns its id.
    func uploadedExt4() async throws -> ImageID {
        try await harness.upload(shared.gzipped).id
    }

    /// Checks that `disk` holds an ext filesystem spanning all of it, clean and with the shared files.
    func expectDeployedFilesystem(on disk: MemoryDisk, files: [String: [UInt8]]) throws {
        let filesystem = try DiskProbe.capturableFilesystem(on: disk)
        #expect(filesystem.blockCount * UInt64(filesystem.blockSize) == disk.byteCount)
        let path = try disk.dump(to: "deployed.img", in: folder)
        #expect(try HostCheck.filesystemIsClean(at: path))
        let found = try HostCheck.extFiles(files.keys, inImageAt: path)
        for (name, bytes) in files { expectSameBytes(found[name], bytes, name) }
    }

    /// The number of 512-byte sectors of `bytes` that hold nothing but `byte`.
    static func sectors(of bytes: [UInt8], filledWith byte: UInt8) -> Int {
        stride(from: 0, to: bytes.count, by: 512).count { start in
            allBytes(of: bytes[start..<min(start + 512, bytes.count)], are: byte)
        }
    }

    @Test func deployGrowsTheFilesystemToFillALargerDisk() async throws {
        let id = try await uploadedExt4()
        let target = MemoryDisk(name: "target", byteCount: 32 << 20)
        try target.fill(with: 0xAA)
        let log = ProgressLog()
        try await harness.service.deploy(id, to: target, progress: log.handler)

        #expect(target.byteCount == 32 << 20)
        try expectDeployedFilesystem(on: target, files: shared.files)
        let phases = log.all.map(\.phase)
        #expect(phases.first == .writing && phases.last == .growing)
        #expect(log.all.last { $0.phase == .writing }?.completedBytes == UInt64(shared.raw.count))
    }

    @Test(arguments: ["memory", "file"])
    func deployLeavesNoOldContentOnTheTarget(_ kind: String) async throws {
        let id = try await uploadedExt4()
        let target: any DiskTarget
        if kind == "memory" {
            target = MemoryDisk(name: "target", byteCount: 32 << 20)
        } else {
            target = try FileDisk.create(path: folder.path("target.img"), byteCount: 32 << 20)
        }
        try target.fill(with: 0xAA)
        try await harness.service.deploy(id, to: target)

        let bytes = try target.allBytes()
        #expect(bytes.count == 32 << 20)
        #expect(Self.sectors(of: bytes, filledWith: 0xAA) == 0)
        expectAllBytes(bytes[(31 << 20)...], are: 0, "the last MiB is free space and reads as zeros")
    }

    @Test func deployOfACapturedImageRestoresTheFilesOnANewDiskFile() async throws {
        let files = ExtImageMaker.sampleFiles(seed: 77)
        let source = try ExtImageMaker.make(in: folder, name: "source.img", mebibytes: 24, files: files)
        let image = try await harness.service.capture(CaptureRequest(), from: try MemoryDisk(copying: source))
        try #require(UInt64(image.size) * 1_000_000 < 40 << 20)

        let path = folder.path("deployed.img")
        try await harness.service.deploy(image.id, toNewDiskAt: path, byteCount: 40 << 20)

        #expect(FileManager.default.sizeOfFile(path) == 40 << 20)
        let filesystem = try DiskProbe.capturableFilesystem(on: try FileDisk(path: path))
        #expect(filesystem.byteCount == 40 << 20)
        #expect(try HostCheck.filesystemIsClean(at: path))
        for (name, bytes) in files {
            expectSameBytes(try HostCheck.extFile(name, inImageAt: path), bytes, "\(name)")
        }
    }

    @Test func deployToANewDiskTakesTheImageSizeByDefault() async throws {
        let id = try await uploadedExt4()
        let path = folder.path("default-size.img")
        try await harness.service.deploy(id, toNewDiskAt: path)
        #expect(FileManager.default.sizeOfFile(path) == UInt64(shared.raw.count))
        #expect(try HostCheck.filesystemIsClean(at: path))
        expectSameBytes(try HostCheck.extFile("hello.txt", inImageAt: path), shared.files["hello.txt"] ?? [])
    }

    @Test func deployToASmallerDiskIsRefusedAndTheDiskUntouched() async throws {
        let id = try await uploadedExt4()
        let target = MemoryDisk(name: "small", byteCount: UInt64(shared.raw.count) - 4096)
        try target.fill(with: 0xAA)

        let error = await #expect(throws: ImagesKitError.self) { try await harness.service.deploy(id, to: target) }
        #expect(error?.code == .diskTooSmall)
        #expect(target.byteCount == UInt64(shared.raw.count) - 4096)
        expectAllBytes(try target.allBytes()[...], are: 0xAA)
    }

    @Test func deployToASmallerNewDiskIsRefusedAndMakesNoFile() async throws {
        let id = try await uploadedExt4()
        let path = folder.path("small.img")
        let error = await #expect(throws: ImagesKitError.self) {
            try await harness.service.deploy(id, toNewDiskAt: path, byteCount: 8 << 20)
        }
        #expect(error?.code == .diskTooSmall)
        #expect(!FileManager.default.fileExists(atPath: path))
    }

    /// Ways the stored bytes of an image can be damaged.
    enum Damage: String, CaseIterable, Sendable {
        /// One byte in the middle of the compressed data flipped.
        case flippedByte
        /// Valid gzip of the same length of data, one byte of it different.
        case otherContent

        func apply(to shared: SharedExt4Image, in folder: ServiceTestFolder) throws -> [UInt8] {
            switch self {
            case .flippedByte:
                var bytes = shared.gzipped
                bytes[bytes.count / 2] ^= 0x40
                return bytes
            case .otherContent:
                var raw = shared.raw
                raw[raw.count - 1] ^= 0x01
                return try HostCheck.gzip(raw, in: folder)
            }
        }
    }

    @Test(arguments: Damage.allCases)
    func deployOfDamagedContentFailsWithDigestMismatch(_ damage: Damage) async throws {
        let id = try await uploadedExt4()
        harness.store.replaceStoredBytes(try damage.apply(to: shared, in: folder), of: id)
        let target = MemoryDisk(name: "target", byteCount: 32 << 20)

        let error = await #expect(throws: ImagesKitError.self) { try await harness.service.deploy(id, to: target) }
        #expect(error?.code == .digestMismatch, "\(error?.description ?? "")")
    }

    @Test(arguments: Damage.allCases)
    func deployOfDamagedContentToANewDiskRemovesTheFile(_ damage: Damage) async throws {
        let id = try await uploadedExt4()
        harness.store.replaceStoredBytes(try damage.apply(to: shared, in: folder), of: id)
        let path = folder.path("new.img")

        let error = await #expect(throws: ImagesKitError.self) {
            try await harness.service.deploy(id, toNewDiskAt: path, byteCount: 32 << 20)
        }
        #expect(error?.code == .digestMismatch)
        #expect(!FileManager.default.fileExists(atPath: path))
    }

    @Test func deployOfContentThatIsNotAFilesystemWritesItAsIs() async throws {
        let data = SplitMix64(seed: 88).bytesOf(1_500_000)
        let image = try await harness.upload(try HostCheck.gzip(data, in: folder))
        let target = MemoryDisk(name: "target", byteCount: 4 << 20)
        try target.fill(with: 0xAA)
        try await harness.service.deploy(image.id, to: target)

        let bytes = try target.allBytes()
        expectSameBytes(Array(bytes[..<data.count]), data)
        expectAllBytes(bytes[data.count...], are: 0)
    }

    @Test func exportWritesAGzipFileOfTheRecordedContent() async throws {
        let id = try await uploadedExt4()
        let path = folder.path("export.img.gz")
        _ = FileManager.default.createFile(atPath: path, contents: Data("old export".utf8))
        let log = ProgressLog()
        try await harness.service.export(id, to: path, progress: log.handler)

        try HostTool.run("gzip", ["-t", path])
        let decoded = try HostTool.run("gzip", ["-dc", path])
        let recorded = try #require(try await harness.store.record(id)?.content?.sha256)
        #expect(try HostCheck.sha256(decoded, in: folder) == recorded)
        #expect(try folder.entries() == ["export.img.gz", "scratch"])
        #expect(log.all.allSatisfy { $0.phase == .exporting } && !log.all.isEmpty)
    }

    @Test func exportIntoAMissingFolderFailsWithAnIOError() async throws {
        let id = try await uploadedExt4()
        let error = await #expect(throws: ImagesKitError.self) {
            try await harness.service.export(id, to: folder.path("missing/export.img.gz"))
        }
        #expect(error?.code == .ioFailure)
        #expect(try folder.entries() == ["scratch"])
    }

    @Test(arguments: Damage.allCases)
    func exportOfDamagedContentFailsAndLeavesNoFile(_ damage: Damage) async throws {
        let id = try await uploadedExt4()
        harness.store.replaceStoredBytes(try damage.apply(to: shared, in: folder), of: id)
        let path = folder.path("export.img.gz")

        let error = await #expect(throws: ImagesKitError.self) { try await harness.service.export(id, to: path) }
        #expect(error?.code == .digestMismatch)
        #expect(try folder.entries() == ["scratch"])
    }

    @Test func pendingImageCannotBeDeployedOrExported() async throws {
        let id = try await harness.service.createUpload(UploadRequest(label: "p", region: "us-east")).image.id
        let deploy = await #expect(throws: ImagesKitError.self) {
            try await harness.service.deploy(id, to: MemoryDisk(byteCount: 1 << 20))
        }
        #expect(deploy?.code == .invalidState)
        let export = await #expect(throws: ImagesKitError.self) {
            try await harness.service.export(id, to: folder.path("x.img.gz"))
        }
        #expect(export?.code == .invalidState)
        #expect(try folder.entries() == ["scratch"])
    }

    @Test func deployOfAnUnknownImageIsNotFound() async throws {
        let error = await #expect(throws: ImagesKitError.self) {
            try await harness.service.deploy(.private(3), to: MemoryDisk(byteCount: 1 << 20))
        }
        #expect(error?.code == .imageNotFound)
    }
}
