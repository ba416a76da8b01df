import Foundation
import ImagesKit
import ImagesKitGzip
import ImagesKitMemory
import ImagesKitTestSupport
import Synchronization
import Testing

/// One hour, one day, in seconds.
let hour: TimeInterval = 3600
let day: TimeInterval = 24 * 3600

extension ServiceHarness {
    /// Uploads `byteCount` seeded bytes, gzipped by the host's `gzip`, as an available image.
    ///
    /// The content is no filesystem, which the service stores with a notification; uploads of it
    /// take milliseconds, so quota tests can make dozens.
    func uploadTiny(
        byteCount: Int = 1000, label: String = "tiny", region: String = "local", seed: UInt64 = 1,
        in folder: ServiceTestFolder
    ) async throws -> Image {
        let bytes = try HostCheck.gzip(SplitMix64(seed: seed).bytesOf(byteCount), in: folder)
        return try await upload(bytes, label: label, region: region, seed: seed)
    }

    /// Creates a pending upload in `region` and returns its image.
    func pendingUpload(label: String = "pending", region: String = "local") async throws -> Image {
        try await service.createUpload(UploadRequest(label: label, region: region)).image
    }

    /// The image's stored record; fails the test when there is none.
    func record(
        _ id: ImageID, sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> StoredImage {
        try #require(try await store.record(id), sourceLocation: sourceLocation)
    }

    /// The ids of every stored record, in order.
    func storedIDs() async throws -> [ImageID] {
        try await store.records().map(\.image.id)
    }

    /// Deletes a server that was active `activeTime` seconds and kept the given disks.
    func deleteServer(
        _ label: String = "web-01", disks: [ServerDisk], activeTime: TimeInterval = 12 * hour
    ) async throws -> RecoveryOutcome {
        try await service.serverDeleted(DeletedServer(label: label, disks: disks, activeTime: activeTime))
    }
}

/// Small ext filesystems for recovery captures, which take a fraction of a second each.
enum SmallDisk {
    /// An 8 MiB filesystem of `type` holding a few files, loaded into memory.
    static func ext(
        _ type: String = "ext4", in folder: ServiceTestFolder, name: String = "small.img",
        files: [String: [UInt8]] = ["hello.txt": Array("kept after deletion\n".utf8)]
    ) throws -> MemoryDisk {
        let path = try ExtImageMaker.make(in: folder, name: name, mebibytes: 8, type: type, files: files)
        return try ExtImageMaker.memoryDisk(path, name: name)
    }

    /// A disk of zeros: no filesystem at all.
    static func zeros(name: String = "blank") -> MemoryDisk {
        MemoryDisk(name: name, byteCount: 4 << 20)
    }
}

/// Expects `body` to throw an ``ImagesKitError`` and returns it.
func expectImagesKitError<Value>(
    sourceLocation: SourceLocation = #_sourceLocation, _ body: () async throws -> Value
) async -> ImagesKitError? {
    await #expect(throws: ImagesKitError.self, sourceLocation: sourceLocation) { _ = try await body() }
}

/// An event as one line: `action status`, then the message when there is one.
func describe(_ event: ImageEvent) -> String {
    let head = "\(event.action.rawValue) \(event.status.rawValue)"
    return event.message.map { "\(head): \($0)" } ?? head
}

/// An in-memory store that also keeps the last record saved or committed for each image,
/// readable at once from synchronous code such as a progress handler.
final class ObservedStore: ImageStore {
    let inner: MemoryImageStore
    private let latest = Mutex<[ImageID: StoredImage]>([:])

    init(_ inner: MemoryImageStore) {
        self.inner = inner
    }

    var defaultRegion: String { inner.defaultRegion }

    /// The record as the store holds it now, read without suspending.
    func current(_ id: ImageID) -> StoredImage? {
        latest.withLock { $0[id] }
    }

    func noteSaved(_ record: StoredImage) {
        latest.withLock { $0[record.image.id] = record }
    }

    func reserveImageNumber() async throws -> Int { try await inner.reserveImageNumber() }

    func save(_ record: StoredImage) async throws {
        try await inner.save(record)
        noteSaved(record)
    }

    func record(_ id: ImageID) async throws -> StoredImage? { try await inner.record(id) }

    func records() async throws -> [StoredImage] { try await inner.records() }

    func remove(_ id: ImageID) async throws {
        try await inner.remove(id)
        _ = latest.withLock { $0.removeValue(forKey: id) }
    }

    func beginContent(for id: ImageID) async throws -> any ImageContentWriter {
        ObservedWriter(try await inner.beginContent(for: id), store: self)
    }

    func openContent(for id: ImageID, at offset: UInt64) async throws -> any ImageContentReader {
        try await inner.openContent(for: id, at: offset)
    }

    func append(_ event: ImageEvent) async throws { try await inner.append(event) }

    func events() async throws -> [ImageEvent] { try await inner.events() }
}

/// A writer that tells its ``ObservedStore`` about the record it commits.
final class ObservedWriter: ImageContentWriter {
    private let inner: any ImageContentWriter
    private let store: ObservedStore

    init(_ inner: any ImageContentWriter, store: ObservedStore) {
        self.inner = inner
        self.store = store
    }

    var byteCount: UInt64 { inner.byteCount }

    func write(_ bytes: [UInt8]) async throws { try await inner.write(bytes) }

    func commit(_ record: StoredImage) async throws {
        try await inner.commit(record)
        store.noteSaved(record)
    }

    func abort() async { await inner.abort() }
}

/// A replication whose copies run a test's closure, and which logs every copy and removal.
final class ScriptedReplication: RegionReplication {
    typealias Copy = @Sendable (StoredImage, any ImageStore, String) async throws -> Void

    private let onCopy: Copy
    private let log = Mutex<[String]>([])

    /// - Parameter onCopy: Runs for each copy with the record, the source store and the region.
    init(onCopy: @escaping Copy = { _, _, _ in }) {
        self.onCopy = onCopy
    }

    /// Every call so far, as `copy <region>` or `remove <region>`.
    var calls: [String] { log.withLock { $0 } }

    func checkServes(_ region: String) throws {}

    func copy(
        _ record: StoredImage, from source: any ImageStore, to region: String, progress: ProgressHandler
    ) async throws {
        log.withLock { $0.append("copy \(region)") }
        try await onCopy(record, source, region)
    }

    func remove(_ id: ImageID, from region: String) async throws {
        log.withLock { $0.append("remove \(region)") }
    }
}

/// Values gathered from any task.
final class Gathered<Value: Sendable>: Sendable {
    private let values = Mutex<[Value]>([])

    init() {}

    func append(_ value: Value) {
        values.withLock { $0.append(value) }
    }

    var all: [Value] { values.withLock { $0 } }
}

/// The first `count` events `stream` delivers, or fewer when `timeout` passes first.
func firstEvents(
    _ count: Int, of stream: AsyncStream<ImageEvent>, timeout: Duration = .seconds(20)
) async -> [ImageEvent] {
    let received = Gathered<ImageEvent>()
    await withTaskGroup(of: Void.self) { group in
        group.addTask {
            var seen = 0
            for await event in stream {
                received.append(event)
                seen += 1
                if seen == count { return }
            }
        }
        group.addTask { try? await Task.sleep(for: timeout) }
        await group.next()
        group.cancelAll()
    }
    return received.all
}
