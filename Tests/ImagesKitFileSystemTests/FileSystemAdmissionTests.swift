import Foundation
import ImagesKit
import ImagesKitFileSystem
import Synchronization
import Testing

/// Quota checks hold across processes sharing a folder store: each store instance over the same
/// folder stands for another process, since `flock` locks belong to the open file.
@Suite("Folder store admission")
struct FileSystemAdmissionTests {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("admission-\(UUID().uuidString)")

    @Test func anotherInstanceWaitsWhileTheAdmissionLockIsHeld() async throws {
        let holder = try FileSystemImageStore(folder: folder)
        let service = try makeService(limits: ImageLimits())
        defer { try? FileManager.default.removeItem(at: folder) }
        let held = try await holder.holdAdmission()
        let admitted = Atomic(false)

        let waiting = Task {
            let image = try await service.createUpload(UploadRequest(label: "waits", region: "local")).image
            admitted.store(true, ordering: .sequentiallyConsistent)
            return image
        }
        try await Task.sleep(for: .milliseconds(300))
        let admittedEarly = admitted.load(ordering: .sequentiallyConsistent)
        #expect(!admittedEarly)
        #expect(try await holder.records().isEmpty)

        held.release()
        let image = try await waiting.value
        let admittedLate = admitted.load(ordering: .sequentiallyConsistent)
        #expect(admittedLate)
        #expect(try await holder.record(image.id)?.image.status == .pendingUpload)
    }

    @Test func theImageCountQuotaHoldsAcrossInstances() async throws {
        let limits = ImageLimits(manualImageCount: 4)
        let services = [try makeService(limits: limits), try makeService(limits: limits)]
        defer { try? FileManager.default.removeItem(at: folder) }

        let outcomes = await withTaskGroup(of: ImagesKitError.Code?.self) { group in
            for index in 0..<12 {
                let service = services[index % 2]
                group.addTask {
                    do {
                        _ = try await service.createUpload(UploadRequest(label: "u\(index)", region: "local"))
                        return nil
                    } catch let error as ImagesKitError {
                        return error.code
                    } catch {
                        return .storeFailure
                    }
                }
            }
            return await group.reduce(into: [ImagesKitError.Code?]()) { $0.append($1) }
        }

        #expect(outcomes.count { $0 == nil } == 4)
        #expect(outcomes.count { $0 == .quotaExceeded } == 8)
        #expect(try await FileSystemImageStore(folder: folder).records().count == 4)
    }

    @Test func aCaptureRunningInAnotherProcessHoldsItsClaimedBytes() async throws {
        let other = try FileSystemImageStore(folder: folder)
        let service = try makeService(limits: ImageLimits(manualImageBytes: 1_000_000))
        defer { try? FileManager.default.removeItem(at: folder) }
        let id = ImageID.private(try await other.reserveImageNumber())
        let claim = try #require(try other.claim(id))
        defer { claim.release() }
        let creating = Image(id: id, label: "busy", created: Self.start, size: 1, status: .creating)
        try await other.save(StoredImage(image: creating, homeRegion: "local", claimedByteCount: 1_000_000))

        let refused = await #expect(throws: ImagesKitError.self) {
            try await service.createUpload(UploadRequest(label: "late", region: "local"))
        }

        #expect(refused?.code == .quotaExceeded)
        #expect(refused?.context["bytes"] == "1000000")
        #expect(try await other.records().map(\.image.id) == [id])
    }

    @Test func theClaimedBytesSurviveAReadBack() async throws {
        let store = try FileSystemImageStore(folder: folder)
        defer { try? FileManager.default.removeItem(at: folder) }
        let creating = Image(id: .private(3), label: "busy", created: Self.start, size: 1, status: .creating)

        try await store.save(StoredImage(image: creating, homeRegion: "local", claimedByteCount: 123_456))

        #expect(try await store.record(.private(3))?.claimedByteCount == 123_456)
    }

    private func makeService(limits: ImageLimits) throws -> ImageService {
        var configuration = ImageServiceConfiguration()
        configuration.limits = limits
        return ImageService(
            store: try FileSystemImageStore(folder: folder), compressor: NoCodec(),
            clock: FixedTime(date: Self.start), configuration: configuration)
    }

    static let start = Date(timeIntervalSince1970: 1_796_396_983)
}
