import Foundation
import ImagesKit

/// An image store in a bucket of an S3-compatible object store: AWS S3, Ceph RGW, MinIO,
/// OpenStack Swift's s3api and others.
///
/// Layout under the configured prefix: `records/<n>.json` holds each record, `content/<n>.data`
/// its committed content, `numbers/<n>/` the markers that reserve numbers, `events/` and
/// `usage/` one object per event or usage record, `next-number` where the next reservation
/// starts looking, `claims/` the expiring markers of claimed images and of the admission lock
/// (see ``S3Claims``). Numbers have twelve digits.
///
/// Content goes up as a multipart upload and is completed before its record is written, so a
/// reader never sees a record whose content is missing or partial. A crash between the two
/// leaves content that no record describes; ``removeAbandoned()`` removes it, and unfinished
/// uploads, once they are older than ``S3Configuration/abandonedAge``.
public final class S3ImageStore: ImageStore {
    /// How the store reaches its bucket.
    public let configuration: S3Configuration
    /// The region this store's copies live in.
    public let defaultRegion: String

    let client: S3Client
    let keys: S3StoreKeys
    private let logger: ImagesLogger
    private let numbers: S3NumberReservations
    private let eventLog: S3AppendLog
    private let leftovers = S3Leftovers()
    private let claims: S3Claims

    /// Creates the store; nothing is sent until it is used (see ``open(configuration:region:logger:)``).
    ///
    /// - Parameters:
    ///   - configuration: The endpoint, bucket, prefix and credentials.
    ///   - region: The region its copies live in.
    ///   - logger: Where warnings about damaged records and leftovers go; by default nowhere.
    /// - Throws: ``ImagesKitError`` with `invalid_argument` when the configuration can't work.
    public init(configuration: S3Configuration, region: String = "local", logger: ImagesLogger = .silent) throws {
        if let problem = configuration.problem {
            throw ImagesKitError(.invalidArgument, "the S3 store can't be used: \(problem)")
        }
        self.configuration = configuration
        self.defaultRegion = region
        self.logger = logger
        self.client = S3Client(configuration: configuration)
        self.keys = S3StoreKeys(prefix: configuration.prefix)
        self.numbers = S3NumberReservations(client: client, keys: keys)
        self.eventLog = S3AppendLog(client: client, folder: keys.eventsFolder)
        self.claims = S3Claims(client: client, keys: keys)
    }

    /// Creates the store, checks that the bucket answers to the credentials, and removes what
    /// crashed processes abandoned.
    ///
    /// - Throws: ``ImagesKitError`` with `store_failure` that carries the S3 error code, the
    ///   request id and what to do: wrong credentials, no such bucket, a skewed clock.
    public static func open(
        configuration: S3Configuration, region: String = "local", logger: ImagesLogger = .silent
    ) async throws -> S3ImageStore {
        let store = try S3ImageStore(configuration: configuration, region: region, logger: logger)
        try await store.checkAccess()
        try await store.removeAbandoned()
        return store
    }

    /// Lists one key of the store's folder, which fails with a clear error when the endpoint,
    /// bucket, credentials or clock are wrong.
    public func checkAccess() async throws {
        let query = [
            (name: "list-type", value: "2"), (name: "prefix", value: keys.prefix), (name: "max-keys", value: "1"),
        ]
        _ = try await client.document(S3Call(method: "GET", key: nil, query: query))
    }

    /// Ends unfinished multipart uploads and removes content no record describes, when older
    /// than ``S3Configuration/abandonedAge``: what processes that died mid-upload left behind.
    ///
    /// - Returns: How many uploads were ended and content objects removed.
    @discardableResult
    public func removeAbandoned() async throws -> (uploads: Int, contents: Int) {
        await leftovers.endAll(client)
        let cutoff = Date().addingTimeInterval(-configuration.abandonedAge)
        var ended = 0
        for upload in try await client.pendingUploads(prefix: keys.contentFolder)
        where (upload.initiated ?? .distantPast) < cutoff {
            try await client.abortUpload(key: upload.key, uploadID: upload.uploadID)
            ended += 1
        }
        var removed = 0
        for object in try await client.list(prefix: keys.contentFolder)
        where (object.lastModified ?? .distantPast) < cutoff {
            guard let number = keys.number(in: object.key, folder: keys.contentFolder),
                object.key == keys.content(number), try await !describesContent(number)
            else { continue }
            try await client.delete(object.key)
            removed += 1
        }
        if ended + removed > 0 {
            logger.warning(
                "removed what unfinished writes left behind", ["uploads": "\(ended)", "content": "\(removed)"])
        }
        return (ended, removed)
    }

    /// Whether image `number` has a record with content facts; a damaged record counts as one,
    /// so its content waits for the record to be repaired.
    private func describesContent(_ number: Int) async throws -> Bool {
        do {
            return try await readRecord(number)?.content != nil
        } catch let error as ImagesKitError where error.context["damaged"] == "true" {
            return true
        }
    }

    /// Reserves the next image number; see ``S3NumberReservations``.
    public func reserveImageNumber() async throws -> Int {
        try await numbers.reserve()
    }

    /// Writes a record whole.
    public func save(_ record: StoredImage) async throws {
        let number = try S3StoreKeys.number(of: record.image.id)
        try await client.put(keys.record(number), try APIJSON.encoder().encode(record), contentType: "application/json")
    }

    /// Reads a record, or `nil` when there is none.
    ///
    /// - Throws: ``ImagesKitError`` with `store_failure` naming the object when the record is
    ///   damaged: not a record, or the record of another image.
    public func record(_ id: ImageID) async throws -> StoredImage? {
        guard let number = id.number, number > 0 else { return nil }
        return try await readRecord(number)
    }

    private func readRecord(_ number: Int) async throws -> StoredImage? {
        guard let data = try await client.get(keys.record(number)) else { return nil }
        return try decodeRecord(data, number: number)
    }

    private func decodeRecord(_ data: Data, number: Int) throws -> StoredImage {
        let key = keys.record(number)
        let record: StoredImage
        do {
            record = try JSONDecoder().decode(StoredImage.self, from: data)
        } catch {
            throw damaged(key, "it is not a record", cause: error)
        }
        if let reason = record.inconsistency(as: .private(number)) { throw damaged(key, reason) }
        return record
    }

    private func damaged(_ key: String, _ reason: String, cause: (any Error & Sendable)? = nil) -> ImagesKitError {
        ImagesKitError(
            .storeFailure,
            "the record \(key) in bucket \(configuration.bucket) is damaged: \(reason); restore it from a backup "
                + "or remove the image",
            cause: cause, context: ["key": key, "bucket": configuration.bucket, "damaged": "true"])
    }

    /// Reads every record that is intact, ordered by id; a damaged one is left out with a
    /// logged warning, so that one damaged object never hides the other images.
    public func records() async throws -> [StoredImage] {
        let listed = try await client.list(prefix: keys.recordsFolder)
        let numbers = listed.compactMap { object in
            keys.number(in: object.key, folder: keys.recordsFolder).flatMap { object.key == keys.record($0) ? $0 : nil }
        }
        let contents = try await client.getAll(numbers.map(keys.record))
        var records: [StoredImage] = []
        for (number, data) in zip(numbers, contents) {
            guard let data else { continue }
            do {
                records.append(try decodeRecord(data, number: number))
            } catch let error as ImagesKitError {
                logger.warning(
                    "left a damaged record out of the list", ["image": "private/\(number)", "error": error.message])
            }
        }
        return records.sorted { $0.image.id < $1.image.id }
    }

    /// Removes the record, then the content; content a failure leaves without its record is
    /// removed by ``removeAbandoned()``.
    public func remove(_ id: ImageID) async throws {
        let number = try S3StoreKeys.number(of: id)
        try await client.delete(keys.record(number))
        try await client.delete(keys.content(number))
    }

    /// Starts writing content, first ending the uploads earlier writers could not end: those
    /// of this store, and any of the same image.
    public func beginContent(for id: ImageID) async throws -> any ImageContentWriter {
        let number = try S3StoreKeys.number(of: id)
        await leftovers.endAll(client)
        for upload in try await client.pendingUploads(prefix: keys.content(number))
        where upload.key == keys.content(number) {
            try await client.abortUpload(key: upload.key, uploadID: upload.uploadID)
        }
        return S3ContentWriter(client: client, keys: keys, number: number, logger: logger, leftovers: leftovers)
    }

    /// Opens committed content for reading from `offset`.
    public func openContent(for id: ImageID, at offset: UInt64) async throws -> any ImageContentReader {
        let number = try S3StoreKeys.number(of: id)
        return try await S3ContentReader(client: client, key: keys.content(number), id: id, offset: offset)
    }

    /// Claims an image against every process using the prefix, with a marker under
    /// `claims/<n>/` that is renewed while held; see ``S3Claims``.
    public func claim(_ id: ImageID) async throws -> (any ImageClaim)? {
        try await claims.take(S3StoreKeys.digits(try S3StoreKeys.number(of: id)))
    }

    /// Waits for and holds the admission lock, a claim named `admission`.
    public func holdAdmission() async throws -> any ImageClaim {
        try await claims.wait(for: "admission")
    }

    /// Appends an event as one object of `events/`.
    public func append(_ event: ImageEvent) async throws {
        try await eventLog.append(try APIJSON.encoder().encode(event))
    }

    /// Reads every event, oldest first; an object that is not an event is skipped.
    public func events() async throws -> [ImageEvent] {
        try await eventLog.entries().compactMap { try? JSONDecoder().decode(ImageEvent.self, from: $0.data) }
    }
}
