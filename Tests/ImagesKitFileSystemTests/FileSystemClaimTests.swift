import Foundation
import ImagesKit
import ImagesKitFileSystem
import Testing

/// Processes sharing a folder store never work on the same image at once: a claim in one store
/// instance holds the image against every other instance over the same folder.
@Suite("Folder store claims")
struct FileSystemClaimTests {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("claims-\(UUID().uuidString)")

    @Test func aClaimedImageCanBeClaimedAgainOnlyOnceReleased() throws {
        let first = try FileSystemImageStore(folder: folder)
        let second = try FileSystemImageStore(folder: folder)
        defer { try? FileManager.default.removeItem(at: folder) }

        let claim = try #require(try first.claim(.private(7)))
        #expect(try second.claim(.private(7)) == nil)
        #expect(try first.claim(.private(7)) == nil)
        let other = try #require(try second.claim(.private(8)))

        claim.release()
        claim.release()
        let again = try #require(try Self.claimSoon(.private(7), in: second))
        again.release()
        other.release()
    }

    /// Claims an image, trying for up to a second: a process that other tests start at the
    /// same moment shares the lock file's descriptor until it runs its program, which keeps
    /// a released lock held for that instant.
    static func claimSoon(_ id: ImageID, in store: FileSystemImageStore) throws -> (any ImageClaim)? {
        for _ in 0..<100 {
            if let claim = try store.claim(id) { return claim }
            usleep(10_000)
        }
        return nil
    }

    @Test func anImageAnotherInstanceHoldsIsNeitherRemovedNorExpired() async throws {
        let holder = try FileSystemImageStore(folder: folder)
        let store = try FileSystemImageStore(folder: folder)
        defer { try? FileManager.default.removeItem(at: folder) }
        let service = ImageService(store: store, compressor: NoCodec(), clock: FixedTime(date: Self.start))
        let pending = try await service.createUpload(UploadRequest(label: "busy", region: "local")).image

        let claim = try #require(try holder.claim(pending.id))
        let refused = await #expect(throws: ImagesKitError.self) { try await service.delete(pending.id) }
        #expect(refused?.code == .conflict)
        #expect(refused?.message.contains("another process") == true)

        let late = ImageService(
            store: store, compressor: NoCodec(), clock: FixedTime(date: Self.start.addingTimeInterval(86_400)))
        #expect(try await late.expire().removed.isEmpty)
        #expect(try await store.record(pending.id) != nil)

        claim.release()
        #expect(try await late.expire().closedUploads.map(\.id) == [pending.id])
        #expect(try await store.record(pending.id) == nil)
    }

    static let start = Date(timeIntervalSince1970: 1_796_396_983)
}

/// A clock stopped at one moment.
struct FixedTime: ImagesClock {
    let date: Date

    func now() -> Date { date }
}

/// A codec that is never used: these tests store no content.
struct NoCodec: Compressor {
    var format: CompressionFormat { .gzip }

    func makeEncoder(level: Int) throws -> any CompressionEncoder {
        throw ImagesKitError(.unsupportedFormat, "no codec in this test")
    }

    func makeDecoder(outputLimit: UInt64) throws -> any CompressionDecoder {
        throw ImagesKitError(.unsupportedFormat, "no codec in this test")
    }
}

/// Content a crash left without its record goes when the store is opened, unless a running
/// process holds the image.
@Suite("Folder store orphans")
struct FileSystemOrphanTests {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("orphans-\(UUID().uuidString)")

    @Test func contentWithoutARecordIsRemovedOnOpenUnlessHeld() throws {
        let store = try FileSystemImageStore(folder: folder)
        defer { try? FileManager.default.removeItem(at: folder) }
        let content = folder.appendingPathComponent("content")
        try Data([1, 2, 3]).write(to: content.appendingPathComponent("4.data"))
        try Data([4, 5, 6]).write(to: content.appendingPathComponent("5.data"))
        let held = try #require(try store.claim(.private(5)))

        _ = try FileSystemImageStore(folder: folder)
        let left = try FileManager.default.contentsOfDirectory(atPath: content.path).sorted()
        #expect(left == ["5.data"])
        held.release()
        _ = try FileSystemImageStore(folder: folder)
        #expect(try FileManager.default.contentsOfDirectory(atPath: content.path).isEmpty)
    }

    @Test func contentBesideAPendingRecordIsRemovedAndCommittedOrDamagedRecordsKeepTheirs() async throws {
        let store = try FileSystemImageStore(folder: folder)
        defer { try? FileManager.default.removeItem(at: folder) }
        let service = ImageService(
            store: store, compressor: NoCodec(), clock: FixedTime(date: FileSystemClaimTests.start))
        // Killed between the two renames of an upload's commit: content in place, record still pending.
        let pending = try await service.createUpload(UploadRequest(label: "cut off", region: "local")).image
        var committed = try #require(try await store.record(pending.id))
        committed.image.id = .private(2)
        committed.image.status = .available
        committed.content = ImageContent(
            format: "gzip", sha256: "00", uncompressedByteCount: 3, compressedByteCount: 3, filesystem: "ext4",
            isExtFilesystem: true)
        try await store.save(committed)
        let content = folder.appendingPathComponent("content")
        for number in 1...3 { try Data([1, 2, 3]).write(to: content.appendingPathComponent("\(number).data")) }
        try Data("{".utf8).write(to: folder.appendingPathComponent("records/3.json"))

        _ = try FileSystemImageStore(folder: folder)
        let left = try FileManager.default.contentsOfDirectory(atPath: content.path).sorted()
        #expect(left == ["2.data", "3.data"])
        #expect(try await store.record(pending.id)?.image.status == .pendingUpload)
    }
}
