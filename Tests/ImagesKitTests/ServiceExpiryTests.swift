import Foundation
import ImagesKit
import ImagesKitMemory
import ImagesKitTestSupport
import Testing

@Suite("Service expiry sweep")
struct ServiceExpiryTests {
    let folder: ServiceTestFolder

    init() throws {
        folder = try ServiceTestFolder()
    }

    /// Makes one recovery image per disk of a server active 12 hours, so they expire 12 hours
    /// after the clock's current time.
    func recoveryImages(_ count: Int, in harness: ServiceHarness) async throws -> [Image] {
        let disk = try SmallDisk.ext(in: folder)
        let disks = Array(repeating: ServerDisk(disk), count: count)
        let images = try await harness.deleteServer(disks: disks, activeTime: 12 * hour).images
        try #require(images.count == count)
        return images
    }

    @Test(arguments: [0, 1])
    func recoveryImageIsKeptUntilItsExpiryAndRemovedFromThen(_ secondsLate: Int) async throws {
        let harness = ServiceHarness()
        let image = try #require(try await recoveryImages(1, in: harness).first)
        let expiry = try #require(image.expiry)

        harness.clock.set(expiry.addingTimeInterval(-1))
        #expect(try await harness.service.expire() == ExpirySweep())
        #expect(try await harness.service.image(image.id) == image)

        harness.clock.set(expiry.addingTimeInterval(TimeInterval(secondsLate)))
        let sweep = try await harness.service.expire()
        #expect(sweep.expiredRecoveryImages == [image])
        #expect(sweep.closedUploads.isEmpty)
        #expect(try await harness.store.records().isEmpty)
        #expect(harness.store.storedBytes(of: image.id) == nil)
        let expired = try #require(try await harness.service.events(for: image.id).last)
        #expect(describe(expired) == "image_expire finished: recovery image expired")
        #expect(expired.created == harness.clock.now())
    }

    @Test func pendingUploadIsRemovedWhenItsWindowCloses() async throws {
        let harness = ServiceHarness()
        let pending = try await harness.pendingUpload()

        harness.clock.set(serviceTestStart.addingTimeInterval(24 * hour - 1))
        #expect(try await harness.service.expire().removed.isEmpty)
        #expect(try await harness.service.image(pending.id).status == .pendingUpload)

        harness.clock.set(serviceTestStart.addingTimeInterval(24 * hour))
        let sweep = try await harness.service.expire()
        #expect(sweep.closedUploads == [pending])
        #expect(sweep.expiredRecoveryImages.isEmpty)
        #expect(try await harness.store.records().isEmpty)
        let events = try await harness.service.events(for: pending.id)
        #expect(
            events.map(describe) == [
                "image_upload started: waiting for the file until 2026-12-05T15:09:43",
                "image_upload failed: upload window expired",
                "image_expire finished: upload window expired",
            ])
        #expect(events.dropFirst().allSatisfy { $0.created == serviceTestStart.addingTimeInterval(24 * hour) })
    }

    @Test func manualAvailableImagesAreNeverSwept() async throws {
        let harness = ServiceHarness()
        let uploaded = try await harness.uploadTiny(in: folder)
        let captured = try await harness.service.capture(CaptureRequest(), from: try SmallDisk.ext(in: folder))

        harness.clock.advance(by: 400 * day)
        #expect(try await harness.service.expire() == ExpirySweep())
        #expect(try await harness.service.image(uploaded.id) == uploaded)
        #expect(try await harness.service.image(captured.id) == captured)
        #expect(try await harness.store.events().allSatisfy { $0.action != .imageExpire })
    }

    @Test func secondSweepRemovesNothing() async throws {
        let harness = ServiceHarness()
        let recovery = try await recoveryImages(1, in: harness)
        let pending = try await harness.pendingUpload()
        let kept = try await harness.uploadTiny(in: folder)

        harness.clock.advance(by: 2 * day)
        let first = try await harness.service.expire()
        #expect(first.removed.map(\.id) == [recovery[0].id, pending.id])
        let events = try await harness.service.events()

        #expect(try await harness.service.expire() == ExpirySweep())
        #expect(try await harness.service.events() == events)
        #expect(try await harness.storedIDs() == [kept.id])
    }

    @Test func concurrentSweepsRemoveEachDueImageExactlyOnce() async throws {
        let harness = ServiceHarness()
        let recovery = try await recoveryImages(2, in: harness)
        var pending: [Image] = []
        for number in 1...6 { pending.append(try await harness.pendingUpload(label: "pending \(number)")) }
        let kept = try await harness.uploadTiny(in: folder)
        let due = Set((recovery + pending).map(\.id))

        harness.clock.advance(by: 2 * day)
        let sweeps = await withTaskGroup(of: ExpirySweep?.self) { group in
            for _ in 0..<6 { group.addTask { try? await harness.service.expire() } }
            return await group.reduce(into: [ExpirySweep?]()) { $0.append($1) }
        }

        #expect(sweeps.allSatisfy { $0 != nil })
        let removed = sweeps.compactMap { $0 }.flatMap(\.removed).map(\.id)
        #expect(removed.count == due.count && Set(removed) == due, "\(removed)")
        let expireEvents = try await harness.service.events().filter { $0.action == .imageExpire }
        #expect(expireEvents.count == due.count && Set(expireEvents.map(\.entity)) == due)
        let closedEvents = try await harness.service.events().filter {
            $0.action == .imageUpload && $0.status == .failed
        }
        #expect(closedEvents.count == pending.count)
        #expect(try await harness.storedIDs() == [kept.id])
    }
}
