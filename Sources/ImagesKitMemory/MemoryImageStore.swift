import Foundation
import ImagesKit
import Synchronization

/// An image store in memory, for the tests of applications that embed ImagesKit.
///
/// It behaves as the folder store does: content becomes visible only when committed together
/// with its record, numbers are never reused, and removal takes record and content together.
public final class MemoryImageStore: ImageStore {
    /// The region this store's copies live in.
    public let defaultRegion: String

    let state = Mutex(State())

    struct State {
        var nextNumber = 1
        var records: [Int: StoredImage] = [:]
        var contents: [Int: [UInt8]] = [:]
        var events: [ImageEvent] = []
    }

    /// Creates an empty store.
    ///
    /// - Parameter region: The region its copies live in.
    public init(region: String = "local") {
        self.defaultRegion = region
    }

    /// Reserves the next image number.
    public func reserveImageNumber() async throws -> Int {
        state.withLock { state in
            defer { state.nextNumber += 1 }
            return state.nextNumber
        }
    }

    /// Creates or replaces a record.
    public func save(_ record: StoredImage) async throws {
        let number = try Self.number(of: record.image.id)
        state.withLock { $0.records[number] = record }
    }

    /// Returns a record, or `nil`.
    public func record(_ id: ImageID) async throws -> StoredImage? {
        guard let number = id.number else { return nil }
        return state.withLock { $0.records[number] }
    }

    /// Returns every record, ordered by id.
    public func records() async throws -> [StoredImage] {
        state.withLock { state in state.records.keys.sorted().compactMap { state.records[$0] } }
    }

    /// Removes a record and its content.
    public func remove(_ id: ImageID) async throws {
        let number = try Self.number(of: id)
        state.withLock { state in
            state.records[number] = nil
            state.contents[number] = nil
        }
    }

    /// Starts writing content; nothing is visible until commit.
    public func beginContent(for id: ImageID) async throws -> any ImageContentWriter {
        MemoryContentWriter(store: self, number: try Self.number(of: id))
    }

    /// Opens committed content for reading from `offset`.
    public func openContent(for id: ImageID, at offset: UInt64) async throws -> any ImageContentReader {
        let number = try Self.number(of: id)
        guard let bytes = state.withLock({ $0.contents[number] }) else {
            throw ImagesKitError(.imageNotFound, "no content is stored for \(id)")
        }
        return MemoryContentReader(bytes: bytes, offset: offset)
    }

    /// Appends an event.
    public func append(_ event: ImageEvent) async throws {
        state.withLock { $0.events.append(event) }
    }

    /// Returns every event, oldest first.
    public func events() async throws -> [ImageEvent] {
        state.withLock { $0.events }
    }

    /// The committed content of an image, for tests that inspect or damage it.
    ///
    /// - Parameter id: The image.
    /// - Returns: The stored bytes, or `nil` when none are committed.
    public func storedBytes(of id: ImageID) -> [UInt8]? {
        guard let number = id.number else { return nil }
        return state.withLock { $0.contents[number] }
    }

    /// Replaces the committed content of an image, so tests can simulate damage in the store.
    ///
    /// - Parameters:
    ///   - bytes: The new stored bytes.
    ///   - id: The image.
    public func replaceStoredBytes(_ bytes: [UInt8], of id: ImageID) {
        guard let number = id.number else { return }
        state.withLock { $0.contents[number] = bytes }
    }

    func commit(_ bytes: [UInt8], number: Int, record: StoredImage) {
        state.withLock { state in
            state.contents[number] = bytes
            state.records[number] = record
        }
    }

    static func number(of id: ImageID) throws -> Int {
        guard let number = id.number else { throw ImagesKitError(.notModifiable, "\(id) is not an account image") }
        return number
    }
}

final class MemoryContentWriter: ImageContentWriter {
    private let store: MemoryImageStore
    private let number: Int
    private var bytes: [UInt8] = []
    private var isOpen = true

    init(store: MemoryImageStore, number: Int) {
        self.store = store
        self.number = number
    }

    var byteCount: UInt64 { UInt64(bytes.count) }

    func write(_ chunk: [UInt8]) async throws {
        guard isOpen else { throw ImagesKitError(.storeFailure, "content was already committed or aborted") }
        bytes.append(contentsOf: chunk)
    }

    func commit(_ record: StoredImage) async throws {
        guard isOpen else { throw ImagesKitError(.storeFailure, "content was already committed or aborted") }
        store.commit(bytes, number: number, record: record)
        isOpen = false
        bytes = []
    }

    func abort() async {
        isOpen = false
        bytes = []
    }
}

final class MemoryContentReader: ImageContentReader {
    private let bytes: [UInt8]
    private var offset: Int

    init(bytes: [UInt8], offset: UInt64) {
        self.bytes = bytes
        self.offset = Int(min(offset, UInt64(bytes.count)))
    }

    var byteCount: UInt64 { UInt64(bytes.count) }

    func read(maxLength: Int) async throws -> [UInt8] {
        let end = min(offset + maxLength, bytes.count)
        defer { offset = end }
        return Array(bytes[offset..<end])
    }

    func close() async {}
}
