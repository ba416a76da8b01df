import Foundation
import ImagesKit
import ImagesKitMemory
import Testing

/// What a crash leaves half-made is removed on recovery; what is still running is left alone.
@Suite("Interrupted work")
struct InterruptedWorkTests {
    let folder: ServiceTestFolder

    init() throws {
        folder = try ServiceTestFolder()
    }

    @Test func aCreatingImageNoCaptureHoldsIsRemovedWithAFailedEvent() async throws {
        let harness = ServiceHarness()
        let orphan = Image(
            id: .private(try await harness.store.reserveImageNumber()), label: "cut off", created: serviceTestStart,
            size: 32, status: .creating)
        try await harness.store.save(StoredImage(image: orphan, homeRegion: "local"))
        let pending = try await harness.pendingUpload()

        let removed = try await harness.service.recoverInterruptedWork()
        #expect(removed.map(\.id) == [orphan.id])
        #expect(try await harness.store.records().map(\.image.id) == [pending.id])
        let events = try await harness.service.events(for: orphan.id)
        #expect(events.map(\.status) == [.failed])
        #expect(events.first?.message?.contains("capture the disk again") == true)
        #expect(try await harness.service.recoverInterruptedWork().isEmpty)
    }

    @Test func aCaptureStillRunningIsLeftAlone() async throws {
        let harness = ServiceHarness()
        let disk = try SmallDisk.ext(in: folder)
        let service = harness.service
        let midway = RecoveryDuringCapture()
        let image = try await service.capture(CaptureRequest(label: "running"), from: disk) { progress in
            guard progress.phase == .copying else { return }
            midway.runOnce {
                let status = try await harness.store.records().first?.image.status
                return (status, try await service.recoverInterruptedWork().map(\.id))
            }
        }
        #expect(image.status == .available)
        #expect(midway.statusSeen == .creating)
        #expect(midway.removed == [])
    }
}

/// Runs a recovery once from inside a capture's progress handler, holding the capture until it
/// is done, and keeps what it saw.
final class RecoveryDuringCapture: @unchecked Sendable {
    private let lock = NSLock()
    private var started = false
    private(set) var statusSeen: ImageStatus?
    private(set) var removed: [ImageID]?

    func runOnce(_ recover: @escaping @Sendable () async throws -> (ImageStatus?, [ImageID])) {
        let first = lock.withLock {
            defer { started = true }
            return !started
        }
        guard first else { return }
        let done = DispatchSemaphore(value: 0)
        Task.detached {
            let result = try? await recover()
            self.lock.withLock {
                self.statusSeen = result?.0
                self.removed = result?.1
            }
            done.signal()
        }
        _ = done.wait(timeout: .now() + 30)
    }
}
