import Foundation
import ImagesKit
import ImagesKitFileSystem
import Testing

/// A filesystem that fills up in the middle of a write: the error names ENOSPC and says what
/// to do, the partial image or file is gone, and every other image still reads back whole.
@Suite(
    "A full filesystem under the store or the target", .serialized,
    .disabled(if: SmallFilesystem.skipped, "IMAGESKIT_SKIP_MOUNT_TESTS=1: tests that mount a tmpfs are skipped"))
struct FullDiskTests {
    @Test("a capture into a full store fails naming ENOSPC and leaves only the images before it")
    func captureIntoAFullStore() async throws {
        let small = try SmallFilesystem(megabytes: 6)
        let fixture = try StoreFixture(storeFolder: small.folder.appendingPathComponent("store"))
        let first = try await fixture.uploadDisk(named: "first", seed: 1)
        let before = try fixture.snapshot()
        let disk = try fixture.makeExt4Disk(named: "big", seed: 9, randomBytes: 3 << 20)
        try small.fill(leaving: 128 << 10)

        let error = await #expect(throws: ImagesKitError.self) {
            try await fixture.service.capture(CaptureRequest(label: "big"), from: try FileDisk(path: disk))
        }
        try await expectStoreKeptOnly(first, fixture, small, before, error)
    }

    @Test("an upload into a full store fails naming ENOSPC and leaves only the images before it")
    func uploadIntoAFullStore() async throws {
        let small = try SmallFilesystem(megabytes: 6)
        let fixture = try StoreFixture(storeFolder: small.folder.appendingPathComponent("store"))
        let first = try await fixture.uploadDisk(named: "first", seed: 1)
        let before = try fixture.snapshot()
        try small.fill(leaving: 128 << 10)

        let error = await #expect(throws: ImagesKitError.self) {
            _ = try await fixture.uploadDisk(named: "big", seed: 9, randomBytes: 3 << 20)
        }
        try await expectStoreKeptOnly(first, fixture, small, before, error)
    }

    @Test("a deploy to a new disk on a full filesystem fails naming ENOSPC and leaves no file")
    func deployOntoAFullFilesystem() async throws {
        let small = try SmallFilesystem(megabytes: 4)
        let fixture = try StoreFixture()
        let image = try await fixture.uploadDisk(named: "image", seed: 4, randomBytes: 1 << 20)
        try small.fill(leaving: 64 << 10)
        let target = small.folder.appendingPathComponent("new.img").path

        let error = await #expect(throws: ImagesKitError.self) {
            try await fixture.service.deploy(image, toNewDiskAt: target)
        }
        expectNoSpace(error, naming: target)
        #expect(small.names() == ["filler"])
    }

    @Test(
        "an export to a full filesystem fails naming ENOSPC and leaves no file, as is or compressed again",
        arguments: ["out.img.gz", "out.img.xz"])
    func exportOntoAFullFilesystem(name: String) async throws {
        let small = try SmallFilesystem(megabytes: 4)
        let fixture = try StoreFixture()
        let image = try await fixture.uploadDisk(named: "image", seed: 5, randomBytes: 1 << 20)
        try small.fill(leaving: 64 << 10)
        let target = small.folder.appendingPathComponent(name).path
        let format: CompressionFormat = name.hasSuffix(".xz") ? .xz : .gzip

        let error = await #expect(throws: ImagesKitError.self) {
            try await fixture.service.export(image, to: target, format: format)
        }
        expectNoSpace(error, naming: target)
        #expect(small.names() == ["filler"])
        try await fixture.service.export(image, to: fixture.path(name), format: format)
    }

    private func expectStoreKeptOnly(
        _ first: ImageID, _ fixture: StoreFixture, _ small: SmallFilesystem, _ before: [String: Data],
        _ error: ImagesKitError?
    ) async throws {
        #expect(error?.code == .storeFailure, "\(error?.description ?? "")")
        #expect(error?.message.contains("ENOSPC") == true, "\(error?.message ?? "")")
        #expect(error?.message.contains("free space") == true)
        #expect(try fixture.snapshot() == before, "the store kept part of the failed image")
        #expect(small.names(under: "store/staging").isEmpty)
        #expect(try await fixture.service.images().data.map(\.id) == [first])

        // The store is still full: reading the other images needs no room.
        try await fixture.service.export(first, to: fixture.path("first.img.gz"))
        try Tool.run("gzip", "-t", fixture.path("first.img.gz"))
    }

    private func expectNoSpace(_ error: ImagesKitError?, naming path: String) {
        #expect(error?.code == .ioFailure, "\(error?.description ?? "")")
        #expect(error?.message.contains("ENOSPC") == true, "\(error?.message ?? "")")
        #expect(error?.message.contains(path) == true, "\(error?.message ?? "")")
    }
}
