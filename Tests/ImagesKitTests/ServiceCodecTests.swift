import Foundation
import ImagesKit
import ImagesKitGzip
import ImagesKitMemory
import ImagesKitXz
import Testing

/// Images kept in the codec asked for, uploads in the formats accepted, exports in either
/// format, and files checked without storing: all checked with the real `gzip` and `xz`.
@Suite("Service codecs")
struct ServiceCodecTests {
    let folder: ServiceTestFolder
    let shared: SharedExt4Image

    init() throws {
        folder = try ServiceTestFolder()
        shared = try SharedExt4Image.get()
    }

    /// A service over a memory store with gzip first and xz beside it.
    static func service(acceptingXz: Bool = false) -> (ImageService, MemoryImageStore) {
        var configuration = ImageServiceConfiguration()
        if acceptingXz { configuration.uploadFormats.insert("xz") }
        let store = MemoryImageStore()
        let service = ImageService(
            store: store, compressor: GzipCompressor(), otherCodecs: [XzCompressor(threads: 2)],
            clock: SettableClock(serviceTestStart), configuration: configuration)
        return (service, store)
    }

    func upload(
        _ bytes: [UInt8], to service: ImageService, keptAs format: CompressionFormat? = nil
    ) async throws
        -> Image
    {
        let pending = try await service.createUpload(UploadRequest(label: "up", region: "us-east", format: format))
        return try await service.upload(pending.image.id, bytes: ChunkedBytes(bytes, seed: 3))
    }

    func xz(_ bytes: [UInt8]) throws -> [UInt8] {
        let path = try folder.write(bytes, to: "xz-input-\(UUID().uuidString)")
        defer { unlink(path) }
        return try HostTool.run("xz", ["-6", "-c", path])
    }

    func decodedByXz(_ bytes: [UInt8]) throws -> [UInt8] {
        let path = try folder.write(bytes, to: "xz-output-\(UUID().uuidString)")
        defer { unlink(path) }
        return try HostTool.run("xz", ["-dc", path])
    }

    @Test func aCaptureKeptAsXzIsAStandardXzFileAndDeploys() async throws {
        let (service, store) = Self.service()
        let disk = try ExtImageMaker.memoryDisk(try ExtImageMaker.make(in: folder, name: "c.img"))
        let image = try await service.capture(CaptureRequest(label: "xz", format: .xz), from: disk)

        let stored = try #require(store.storedBytes(of: image.id))
        #expect(CompressionFormat.xz.matches(stored))
        let raw = try decodedByXz(stored)
        #expect(try await store.record(image.id)?.content?.sha256 == (try HostCheck.sha256(raw, in: folder)))

        let target = MemoryDisk(name: "target", byteCount: 32 << 20)
        try await service.deploy(image.id, to: target)
        #expect(try HostCheck.filesystemIsClean(at: try target.dump(to: "deployed.img", in: folder)))
    }

    @Test func aGzipUploadKeptAsXzIsCompressedAgainWithTheSameData() async throws {
        let (service, store) = Self.service()
        let image = try await upload(shared.gzipped, to: service, keptAs: .xz)

        let stored = try #require(store.storedBytes(of: image.id))
        expectSameBytes(try decodedByXz(stored), shared.raw, "xz-decoded stored image")
        let content = try #require(try await store.record(image.id)?.content)
        #expect(content.format == "xz")
        #expect(content.compressedByteCount == UInt64(stored.count))
        #expect(content.sha256 == (try HostCheck.sha256(shared.raw, in: folder)))
    }

    @Test func anXzUploadIsRefusedUnlessTheServiceAcceptsXz() async throws {
        let file = try xz(shared.raw)
        let (strict, strictStore) = Self.service()
        let refused = await #expect(throws: ImagesKitError.self) { try await upload(file, to: strict) }
        #expect(refused?.code == .unsupportedFormat)
        #expect(refused?.message.contains("not gzip data") == true)
        #expect(try await strictStore.records().isEmpty)

        let (open, store) = Self.service(acceptingXz: true)
        let asGzip = try await upload(file, to: open, keptAs: .gzip)
        let keptGzip = try #require(store.storedBytes(of: asGzip.id))
        expectSameBytes(try HostCheck.gunzip(keptGzip, in: folder), shared.raw, "gzip-kept xz upload")

        let asItCame = try await upload(file, to: open)
        expectSameBytes(store.storedBytes(of: asItCame.id), file, "xz upload kept as it came")
        #expect(try await store.record(asItCame.id)?.content?.format == "xz")
    }

    @Test func anImageExportsInEitherFormatWhateverItIsKeptIn() async throws {
        let (service, _) = Self.service()
        for kept in [CompressionFormat.gzip, .xz] {
            let image = try await upload(shared.gzipped, to: service, keptAs: kept)
            let gzipPath = folder.path("\(kept.name).img.gz")
            let xzPath = folder.path("\(kept.name).img.xz")
            try await service.export(image.id, to: gzipPath, format: .gzip)
            try await service.export(image.id, to: xzPath, format: .xz)

            try HostTool.run("gzip", ["-t", gzipPath])
            try HostTool.run("xz", ["-t", xzPath])
            expectSameBytes(try HostTool.run("gzip", ["-dc", gzipPath]), shared.raw, "gzip export of \(kept)")
            expectSameBytes(try HostTool.run("xz", ["-dc", xzPath]), shared.raw, "xz export of \(kept)")
        }
    }

    @Test func verifyChecksEitherFormatAndStoresNothing() async throws {
        let (service, store) = Self.service()
        let digest = try HostCheck.sha256(shared.raw, in: folder)
        for (format, file) in [(CompressionFormat.gzip, shared.gzipped), (.xz, try xz(shared.raw))] {
            let checked = try await service.verify(bytes: ChunkedBytes(file, seed: 9))
            #expect(checked.format == format)
            #expect(checked.compressedByteCount == UInt64(file.count))
            #expect(checked.uncompressedByteCount == UInt64(shared.raw.count))
            #expect(checked.sha256 == digest)
            #expect(checked.filesystem == "ext4" && checked.isExtFilesystem)
        }
        #expect(try await store.records().isEmpty)
        #expect(try await store.events().isEmpty)
    }

    @Test func verifyRefusesDamagedAndForeignFilesWithTheirKind() async throws {
        let (service, _) = Self.service()
        var damaged = try xz(shared.raw)
        damaged[damaged.count / 2] ^= 0x40
        let cases: [([UInt8], ImagesKitError.Code)] = [
            (damaged, .corruptData), (Array(shared.gzipped.dropLast(9)), .truncatedData),
            (shared.gzipped + [1, 2, 3], .trailingData), (shared.raw, .unsupportedFormat), ([], .emptyInput),
        ]
        for (file, code) in cases {
            let error = await #expect(throws: ImagesKitError.self) {
                try await service.verify(bytes: ChunkedBytes(file, seed: 4))
            }
            #expect(error?.code == code)
        }
    }

    @Test func anXzImageWithoutAnyCheckStillHasItsDamageCaughtBeforeADiskIsTouched() async throws {
        let path = try folder.write(shared.raw, to: "nocheck.img")
        let file = try HostTool.run("xz", ["-6", "--check=none", "-c", path])
        let (service, store) = Self.service(acceptingXz: true)
        let image = try await upload(file, to: service, keptAs: .xz)

        var damaged = try #require(store.storedBytes(of: image.id))
        damaged[damaged.count / 2] ^= 0x10
        store.replaceStoredBytes(damaged, of: image.id)
        let target = MemoryDisk(name: "old", byteCount: 32 << 20)
        try target.fill(with: 0xAB)

        let error = await #expect(throws: ImagesKitError.self) { try await service.deploy(image.id, to: target) }
        #expect(error?.code == .digestMismatch)
        expectAllBytes(try target.allBytes()[...], are: 0xAB, "target after a refused deploy")
    }

    @Test func anUploadFromSomethingThatIsNoFileFailsAndLeavesNoImage() async throws {
        let (service, store) = Self.service()
        let fifo = folder.path("fifo")
        #expect(mkfifo(fifo, 0o600) == 0)
        for path in [fifo, folder.url.path, folder.path("missing.img.gz")] {
            let pending = try await service.createUpload(UploadRequest(label: "odd", region: "us-east"))
            let error = await #expect(throws: ImagesKitError.self) {
                try await service.upload(pending.image.id, fileAt: path)
            }
            #expect(error?.code == .invalidArgument || error?.code == .ioFailure)
            #expect(try await service.events(for: pending.image.id).map(\.status) == [.started, .failed])
        }
        #expect(try await store.records().isEmpty)
    }

    @Test func aServiceWithoutTheImagesCodecSaysWhichItLacks() async throws {
        let (service, store) = Self.service()
        let image = try await upload(shared.gzipped, to: service, keptAs: .xz)
        let gzipOnly = ImageService(store: store, compressor: GzipCompressor())

        let error = await #expect(throws: ImagesKitError.self) {
            try await gzipOnly.deploy(image.id, to: MemoryDisk(name: "t", byteCount: 32 << 20))
        }
        #expect(error?.code == .unsupportedFormat)
        #expect(error?.message.contains("no xz codec") == true)
    }
}
