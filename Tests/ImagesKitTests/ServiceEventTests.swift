import Foundation
import ImagesKit
import ImagesKitMemory
import ImagesKitTestSupport
import Testing

@Suite("Service events")
struct ServiceEventTests {
    let folder: ServiceTestFolder

    init() throws {
        folder = try ServiceTestFolder()
    }

    /// The moment `minutes` minutes after the test clock's start.
    static func at(_ minutes: Int) -> Date {
        serviceTestStart.addingTimeInterval(TimeInterval(minutes) * 60)
    }

    @Test func everyChangeRecordsItsEvent() async throws {
        let harness = ServiceHarness()
        let shared = try SharedExt4Image.get()
        let captured = try await harness.service.capture(CaptureRequest(), from: try SmallDisk.ext(in: folder))
        harness.clock.set(Self.at(1))
        let pending = try await harness.pendingUpload()
        harness.clock.set(Self.at(2))
        let uploaded = try await harness.service.upload(pending.id, bytes: ChunkedBytes(shared.gzipped, seed: 5))
        harness.clock.set(Self.at(3))
        _ = try await harness.service.update(pending.id, ImageUpdate(label: "renamed"))
        harness.clock.set(Self.at(4))
        try await harness.service.delete(captured.id)
        let closing = try await harness.pendingUpload()
        harness.clock.set(Self.at(5 + 24 * 60))
        try await harness.service.expire()

        let expected = [
            ImageEvent(
                action: .diskImagize, entity: captured.id, status: .started, message: "capturing disk small.img",
                created: Self.at(0)),
            ImageEvent(
                action: .diskImagize, entity: captured.id, status: .finished,
                message: "available, \(captured.size) MB", created: Self.at(0)),
            ImageEvent(
                action: .imageUpload, entity: pending.id, status: .started,
                message: "waiting for the file until \(APITimestamp.format(Self.at(1 + 24 * 60)))", created: Self.at(1)),
            ImageEvent(
                action: .imageUpload, entity: pending.id, status: .finished,
                message: "available, \(uploaded.size) MB", created: Self.at(2)),
            ImageEvent(
                action: .imageUpdate, entity: pending.id, status: .finished, message: "label changed",
                created: Self.at(3)),
            ImageEvent(
                action: .imageDelete, entity: captured.id, status: .finished,
                message: "deleted with every regional copy", created: Self.at(4)),
            ImageEvent(
                action: .imageUpload, entity: closing.id, status: .started,
                message: "waiting for the file until \(APITimestamp.format(Self.at(4 + 24 * 60)))", created: Self.at(4)),
            ImageEvent(
                action: .imageUpload, entity: closing.id, status: .failed, message: "upload window expired",
                created: Self.at(5 + 24 * 60)),
            ImageEvent(
                action: .imageExpire, entity: closing.id, status: .finished, message: "upload window expired",
                created: Self.at(5 + 24 * 60)),
        ]
        #expect(try await harness.service.events() == expected)
        #expect(try await harness.service.events(for: pending.id) == expected.filter { $0.entity == pending.id })
    }

    @Test func expiredRecoveryImageRecordsAnExpireEvent() async throws {
        let harness = ServiceHarness()
        let outcome = try await harness.deleteServer(disks: [ServerDisk(try SmallDisk.ext(in: folder))])
        let image = try #require(outcome.images.first)
        harness.clock.advance(by: 12 * hour)
        try await harness.service.expire()

        let last = try #require(try await harness.service.events(for: image.id).last)
        #expect(
            last
                == ImageEvent(
                    action: .imageExpire, entity: image.id, status: .finished, message: "recovery image expired",
                    created: serviceTestStart.addingTimeInterval(12 * hour)))
    }

    @Test func eventUpdatesDeliversOnlyEventsRecordedAfterSubscribing() async throws {
        let harness = ServiceHarness()
        let pending = try await harness.pendingUpload()
        let stream = harness.service.eventUpdates()
        harness.clock.set(Self.at(7))
        _ = try await harness.service.update(pending.id, ImageUpdate(label: "renamed"))
        let second = try await harness.pendingUpload()

        let events = await firstEvents(2, of: stream)
        #expect(
            events == [
                ImageEvent(
                    action: .imageUpdate, entity: pending.id, status: .finished, message: "label changed",
                    created: Self.at(7)),
                ImageEvent(
                    action: .imageUpload, entity: second.id, status: .started,
                    message: "waiting for the file until \(APITimestamp.format(Self.at(7 + 24 * 60)))",
                    created: Self.at(7)),
            ])
    }

    @Test func eventUpdatesForOneImageDeliversOnlyItsEvents() async throws {
        let harness = ServiceHarness()
        let watched = try await harness.pendingUpload(label: "watched")
        let other = try await harness.pendingUpload(label: "other")
        let stream = harness.service.eventUpdates(for: watched.id)

        _ = try await harness.service.update(other.id, ImageUpdate(label: "other renamed"))
        _ = try await harness.service.update(watched.id, ImageUpdate(label: "watched renamed"))
        try await harness.service.delete(other.id)
        try await harness.service.delete(watched.id)
        _ = try await harness.pendingUpload(label: "later")

        let events = await firstEvents(2, of: stream)
        #expect(events.map(\.entity) == [watched.id, watched.id])
        #expect(
            events.map(describe) == [
                "image_update finished: label changed", "image_delete finished: deleted with every regional copy",
            ])
    }

    @Test func slowSubscriberKeepsTheNewestEventsUpToItsBuffer() async throws {
        let harness = ServiceHarness()
        let stream = harness.service.eventUpdates(bufferLimit: 2)
        var ids: [ImageID] = []
        for number in 1...5 { ids.append(try await harness.pendingUpload(label: "pending \(number)").id) }

        let events = await firstEvents(2, of: stream)
        #expect(events.map(\.entity) == Array(ids.suffix(2)))
    }
}
