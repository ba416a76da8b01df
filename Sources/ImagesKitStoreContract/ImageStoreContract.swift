import Foundation
import ImagesKit

/// The behaviour every ``ImageStore`` must show, as named checks any test framework can run.
///
/// Each check receives a fresh, empty store from the factory and throws
/// ``ContractViolation`` when the store breaks the contract. A check that needs a restart
/// calls the factory's `reopen` to get a second store over the same data.
public enum ImageStoreContract {
    /// Makes stores for the checks.
    public struct Factory: Sendable {
        /// Makes a fresh, empty store.
        public var makeStore: @Sendable () async throws -> any ImageStore
        /// Opens the same data again as a new store instance, as after a restart; `nil` when the
        /// store keeps nothing across instances.
        public var reopen: (@Sendable (any ImageStore) async throws -> any ImageStore)?

        /// Creates a factory.
        public init(
            makeStore: @escaping @Sendable () async throws -> any ImageStore,
            reopen: (@Sendable (any ImageStore) async throws -> any ImageStore)? = nil
        ) {
            self.makeStore = makeStore
            self.reopen = reopen
        }
    }

    /// A named check of the contract.
    public struct Check: Sendable, CustomStringConvertible {
        /// What the check pins down.
        public let name: String
        /// Runs the check.
        public let run: @Sendable (Factory) async throws -> Void

        /// The check's name.
        public var description: String { name }
    }

    /// Every check of the contract.
    public static let checks: [Check] = [
        Check(name: "numbers are positive and never handed out twice", run: numbersAreUnique),
        Check(name: "a saved record reads back equal", run: savedRecordReadsBack),
        Check(name: "records list in id order", run: recordsListInOrder),
        Check(name: "content is invisible until committed", run: contentInvisibleUntilCommit),
        Check(name: "committed content reads back whole and from an offset", run: committedContentReadsBack),
        Check(name: "aborted content leaves nothing", run: abortedContentLeavesNothing),
        Check(name: "remove takes record and content and is idempotent", run: removeTakesEverything),
        Check(name: "events append in order", run: eventsAppendInOrder),
        Check(name: "everything survives a reopen", run: survivesReopen),
    ]

    static func numbersAreUnique(_ factory: Factory) async throws {
        let store = try await factory.makeStore()
        var seen: Set<Int> = []
        for _ in 0..<20 {
            let number = try await store.reserveImageNumber()
            try expect(number > 0, "reserved number \(number) is not positive")
            try expect(seen.insert(number).inserted, "number \(number) was handed out twice")
        }
        let record = sampleRecord(number: 3)
        try await store.save(record)
        try await store.remove(record.image.id)
        let next = try await store.reserveImageNumber()
        try expect(!seen.contains(next), "number \(next) was reused after a removal")
    }

    static func savedRecordReadsBack(_ factory: Factory) async throws {
        let store = try await factory.makeStore()
        let record = sampleRecord(number: try await store.reserveImageNumber())
        try await store.save(record)
        let read = try await store.record(record.image.id)
        try expect(read == record, "record read back differs: \(String(describing: read))")
        try expect(try await store.record(.private(999_999)) == nil, "an unknown id returned a record")
    }

    static func recordsListInOrder(_ factory: Factory) async throws {
        let store = try await factory.makeStore()
        for number in [12, 3, 7] {
            try await store.save(sampleRecord(number: number))
        }
        let ids = try await store.records().map(\.image.id)
        try expect(ids == [.private(3), .private(7), .private(12)], "records listed as \(ids)")
    }

    static func contentInvisibleUntilCommit(_ factory: Factory) async throws {
        let store = try await factory.makeStore()
        let record = sampleRecord(number: try await store.reserveImageNumber())
        try await store.save(record)
        let writer = try await store.beginContent(for: record.image.id)
        try await writer.write(Array(repeating: 7, count: 1000))
        try await expectNoContent(store, record.image.id, "content was readable before commit")
        try expect(try await store.record(record.image.id) == record, "record changed before commit")
        await writer.abort()
    }

    static func committedContentReadsBack(_ factory: Factory) async throws {
        let store = try await factory.makeStore()
        let bytes = samplePayload(count: 300_000)
        let committed = try await commit(bytes, to: store)
        try expect(try await store.record(committed.image.id) == committed, "record not updated by commit")
        try expect(try await readAll(store, committed.image.id, from: 0) == bytes, "content differs after commit")
        let tail = try await readAll(store, committed.image.id, from: 123_457)
        try expect(tail == Array(bytes[123_457...]), "content read from an offset differs")
    }

    static func abortedContentLeavesNothing(_ factory: Factory) async throws {
        let store = try await factory.makeStore()
        let record = sampleRecord(number: try await store.reserveImageNumber())
        try await store.save(record)
        let writer = try await store.beginContent(for: record.image.id)
        try await writer.write(samplePayload(count: 5000))
        await writer.abort()
        await writer.abort()
        try await expectNoContent(store, record.image.id, "aborted content is readable")
        let failedCommit: Bool
        do {
            try await writer.commit(record)
            failedCommit = false
        } catch {
            failedCommit = true
        }
        try expect(failedCommit, "commit after abort succeeded")
    }

    static func removeTakesEverything(_ factory: Factory) async throws {
        let store = try await factory.makeStore()
        let committed = try await commit(samplePayload(count: 10_000), to: store)
        try await store.remove(committed.image.id)
        try expect(try await store.record(committed.image.id) == nil, "record still there after remove")
        try await expectNoContent(store, committed.image.id, "content still readable after remove")
        try await store.remove(committed.image.id)
        try expect(try await store.records().isEmpty, "records remain after remove")
    }

    static func eventsAppendInOrder(_ factory: Factory) async throws {
        let store = try await factory.makeStore()
        let events = (1...5).map {
            ImageEvent(
                action: .imageUpload, entity: .private($0), status: .finished, message: "event \($0)",
                created: Date(timeIntervalSince1970: 1_800_000_000 + Double($0)))
        }
        for event in events { try await store.append(event) }
        try expect(try await store.events() == events, "events read back differ")
    }

    static func survivesReopen(_ factory: Factory) async throws {
        guard let reopen = factory.reopen else { return }
        let store = try await factory.makeStore()
        let bytes = samplePayload(count: 70_000)
        let committed = try await commit(bytes, to: store)
        let pending = sampleRecord(number: try await store.reserveImageNumber())
        try await store.save(pending)
        let event = ImageEvent(
            action: .diskImagize, entity: committed.image.id, status: .finished, message: nil,
            created: Date(timeIntervalSince1970: 1_800_000_000))
        try await store.append(event)

        let reopened = try await reopen(store)
        try expect(try await reopened.records() == [committed, pending], "records differ after reopen")
        try expect(try await readAll(reopened, committed.image.id, from: 0) == bytes, "content differs after reopen")
        try expect(try await reopened.events() == [event], "events differ after reopen")
        let next = try await reopened.reserveImageNumber()
        try expect(next > pending.image.id.number!, "number \(next) reused after reopen")
    }
}

/// A store broke the contract; the message says how.
public struct ContractViolation: Error, CustomStringConvertible {
    /// What the store did wrong.
    public let description: String
}

extension ImageStoreContract {
    static func expect(_ condition: Bool, _ message: @autoclosure () -> String) throws {
        if !condition { throw ContractViolation(description: message()) }
    }

    /// A `pending_upload` record numbered `number`, as the checks save it.
    ///
    /// - Parameter number: The image number.
    /// - Returns: A record with every field set.
    public static func sampleRecord(number: Int) -> StoredImage {
        let time = Date(timeIntervalSince1970: 1_800_000_000)
        let image = Image(
            id: .private(number), label: "contract \(number)", description: "a record", created: time,
            createdBy: "tester", size: 0, status: .pendingUpload, tags: ["beta", "alpha"])
        return StoredImage(image: image, homeRegion: "us-east", uploadDeadline: time.addingTimeInterval(86_400))
    }

    static func samplePayload(count: Int) -> [UInt8] {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        return (0..<count).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return UInt8(truncatingIfNeeded: state >> 33)
        }
    }

    static func commit(_ bytes: [UInt8], to store: any ImageStore) async throws -> StoredImage {
        var record = sampleRecord(number: try await store.reserveImageNumber())
        try await store.save(record)
        let writer = try await store.beginContent(for: record.image.id)
        for start in stride(from: 0, to: bytes.count, by: 65_536) {
            try await writer.write(Array(bytes[start..<min(start + 65_536, bytes.count)]))
        }
        record.image.status = .available
        record.image.size = Image.megabytes(UInt64(bytes.count))
        record.content = ImageContent(
            format: "gzip", sha256: SHA256Digest.hex(of: bytes), uncompressedByteCount: UInt64(bytes.count),
            compressedByteCount: UInt64(bytes.count), filesystem: "data", isExtFilesystem: false)
        try await writer.commit(record)
        return record
    }

    static func readAll(_ store: any ImageStore, _ id: ImageID, from offset: UInt64) async throws -> [UInt8] {
        let reader = try await store.openContent(for: id, at: offset)
        var bytes: [UInt8] = []
        while true {
            let piece = try await reader.read(maxLength: 50_000)
            if piece.isEmpty { break }
            bytes += piece
        }
        await reader.close()
        return bytes
    }

    static func expectNoContent(_ store: any ImageStore, _ id: ImageID, _ message: String) async throws {
        do {
            let reader = try await store.openContent(for: id, at: 0)
            let first = try await reader.read(maxLength: 10)
            await reader.close()
            try expect(first.isEmpty, message)
        } catch let error as ImagesKitError {
            try expect(error.code == .imageNotFound, "\(message): unexpected error \(error)")
        }
    }
}
