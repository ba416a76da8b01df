import Foundation
import Synchronization

/// Runs one account's images: capture, upload, get, list, update, delete, replicate, expire,
/// recovery images, export and deploy, under the product's rules and limits.
///
/// The service takes its store, codec, billing, replication, clock and logger at initialisation
/// and keeps no other lasting state: everything lives in the store. Long operations report
/// progress and stop promptly when their task is cancelled, leaving nothing half-made behind.
/// One service serves one account; an application with many accounts makes one per account,
/// each with its own store (or key prefix) and limits.
public final class ImageService: Sendable {
    /// Where records and content live.
    public let store: any ImageStore
    /// The codec images are kept in unless a request asks for another.
    public let compressor: any Compressor
    /// Every codec the service reads and writes: ``compressor`` first, then the others given.
    public let codecs: [any Compressor]
    /// Where usage is reported.
    public let billing: any Billing
    /// Places and removes the copies of images in regions.
    public let replication: any RegionReplication
    /// The source of the current time.
    public let clock: any ImagesClock
    /// Where log messages go.
    public let logger: ImagesLogger
    /// Limits and tuning.
    public let configuration: ImageServiceConfiguration

    let operationsInFlight = Mutex<Set<ImageID>>([])
    /// Serialises this service's quota checks with the saves that follow them.
    let admission = AsyncLock()
    let broadcast = EventBroadcast()

    /// Creates a service.
    ///
    /// - Parameters:
    ///   - store: Where records and content live.
    ///   - compressor: The codec images are kept in unless a request asks for another.
    ///   - otherCodecs: More codecs, for images kept, uploaded or exported in other formats.
    ///   - billing: Where usage is reported; by default nowhere.
    ///   - replication: Places copies in regions; by default `store` serves every region.
    ///   - clock: The source of the current time; by default the system clock.
    ///   - logger: Where log messages go; by default nowhere.
    ///   - configuration: Limits and tuning.
    public init(
        store: any ImageStore,
        compressor: any Compressor,
        otherCodecs: [any Compressor] = [],
        billing: any Billing = NoBilling(),
        replication: any RegionReplication = SharedStoreReplication(),
        clock: any ImagesClock = SystemClock(),
        logger: ImagesLogger = .silent,
        configuration: ImageServiceConfiguration = ImageServiceConfiguration()
    ) {
        self.store = store
        self.compressor = compressor
        self.codecs = [compressor] + otherCodecs.filter { $0.format != compressor.format }
        self.billing = billing
        self.replication = replication
        self.clock = clock
        self.logger = logger
        self.configuration = configuration
    }

    deinit {
        broadcast.finishAll()
    }

    /// Returns the image with the given id.
    ///
    /// - Throws: ``ImagesKitError`` with `image_not_found`, also for public `linode/...` ids,
    ///   which this service does not hold, and `store_failure` when its record was damaged in
    ///   the store.
    public func image(_ id: ImageID) async throws -> Image {
        guard case .private = id, let record = try await store.record(id) else {
            throw ImagesKitError.notFound(id)
        }
        try Self.checkConsistent(record, id)
        return record.image
    }

    /// Returns one page of the account's images, filtered and ordered by id.
    ///
    /// - Parameter query: Filters and the page wanted.
    /// - Returns: The page with its number, the page count and the number of matching images.
    /// - Throws: ``ImagesKitError`` with `invalid_argument` for a bad page or page size.
    public func images(_ query: ImageQuery = ImageQuery()) async throws -> ImagePage {
        try query.validate()
        let matching = try await store.records().filter(isConsistent).map(\.image).filter(query.matches)
        return ImagePage(slicing: matching, page: query.page, pageSize: query.pageSize)
    }

    /// Changes an image's label, description or tags; nothing else can change.
    ///
    /// - Parameters:
    ///   - id: The image.
    ///   - update: The fields to change; `nil` fields stay as they are.
    /// - Returns: The updated image.
    /// - Throws: ``ImagesKitError`` with `image_not_found`, `not_modifiable`, `invalid_argument`, or
    ///   `conflict` while a capture or upload of the image runs.
    public func update(_ id: ImageID, _ update: ImageUpdate) async throws -> Image {
        try await exclusively(id) {
            var record = try await storedImage(id)
            try update.apply(to: &record.image)
            record.image.updated = now()
            try await store.save(record)
            await recordEvent(.imageUpdate, id, .finished, update.summary)
            return record.image
        }
    }

    /// Deletes an image and every regional copy; this can't be undone.
    ///
    /// - Throws: ``ImagesKitError`` with `image_not_found`, `not_modifiable`, or `conflict` while a
    ///   capture, upload or replication of the image runs.
    public func delete(_ id: ImageID) async throws {
        try await exclusively(id) {
            let record = try await storedImage(id)
            try await removeEverywhere(record)
            await recordEvent(.imageDelete, id, .finished, "deleted with every regional copy")
        }
    }

    /// Returns every recorded event, oldest first, optionally for one image only.
    ///
    /// - Throws: ``ImagesKitError`` with `store_failure`.
    public func events(for id: ImageID? = nil) async throws -> [ImageEvent] {
        try await store.events().filter { id == nil || $0.entity == id }
    }

    /// Subscribes to the events this service records from now on, optionally for one image.
    ///
    /// The stream ends when the service is released or the subscriber stops iterating. Events
    /// recorded by other processes sharing the store are not seen; read ``events(for:)`` for those.
    /// - Parameters:
    ///   - id: Only this image's events, or every image's.
    ///   - bufferLimit: How many unread events are kept for a slow subscriber; older ones drop.
    /// - Returns: The events as they are recorded.
    public func eventUpdates(for id: ImageID? = nil, bufferLimit: Int = 1000) -> AsyncStream<ImageEvent> {
        let all = broadcast.subscribe(bufferingNewest: bufferLimit)
        guard let id else { return all }
        let (stream, continuation) = AsyncStream.makeStream(
            of: ImageEvent.self, bufferingPolicy: .bufferingNewest(bufferLimit))
        let relay = Task {
            for await event in all where event.entity == id { continuation.yield(event) }
            continuation.finish()
        }
        continuation.onTermination = { _ in relay.cancel() }
        return stream
    }
}

extension ImageService {
    func now() -> Date {
        APITimestamp.wholeSeconds(clock.now())
    }

    func storedImage(_ id: ImageID) async throws -> StoredImage {
        if case .public = id {
            throw ImagesKitError(
                .notModifiable, "\(id) is a public distribution image; only private/<n> images are kept here")
        }
        guard let record = try await store.record(id) else { throw ImagesKitError.notFound(id) }
        // A record under another id would have every change saved, or removed, under that id.
        guard record.image.id == id else { throw ImagesKitError.damagedRecord(id, holding: record.image.id) }
        return record
    }

    /// Whether a listed record agrees with itself; one that does not is left out with a warning.
    private func isConsistent(_ record: StoredImage) -> Bool {
        guard let reason = record.inconsistency(as: record.image.id) else { return true }
        logger.warning("left a damaged record out of the list", ["image": "\(record.image.id)", "reason": reason])
        return false
    }

    func recordEvent(_ action: EventAction, _ id: ImageID, _ status: EventStatus, _ message: String?) async {
        let event = ImageEvent(action: action, entity: id, status: status, message: message, created: now())
        do {
            try await store.append(event)
        } catch {
            logger.warning("could not record event", ["image": "\(id)", "error": "\(error)"])
        }
        broadcast.publish(event)
    }

    /// Tells billing that every available copy of the image began or ended.
    func reportUsage(_ kind: UsageRecord.Kind, _ record: StoredImage) async {
        for region in record.image.regions where region.status == .available {
            await reportUsage(kind, record, region: region.region)
        }
    }

    /// Tells billing that the image's copy in `region` began or ended.
    func reportUsage(_ kind: UsageRecord.Kind, _ record: StoredImage, region: String) async {
        guard let content = record.content else { return }
        let usage = UsageRecord(
            kind: kind, image: record.image.id, region: region, byteCount: content.uncompressedByteCount,
            type: record.image.type, time: now(), account: configuration.account)
        do {
            try await billing.record(usage)
        } catch {
            logger.warning("billing did not take usage", ["image": "\(record.image.id)", "error": "\(error)"])
        }
    }

    /// Removes an image's record, content and every regional copy, and ends its billing.
    ///
    /// The record is first marked as being removed, and billing is told before the record
    /// goes: a crash at any step leaves either the marked record, whose removal recovery
    /// finishes, or no record and billing already ended (billing ignores a second end).
    func removeEverywhere(_ record: StoredImage) async throws {
        var marked = record
        marked.isBeingRemoved = true
        try await store.save(marked)
        for region in record.image.regions {
            try await replication.remove(record.image.id, from: region.region)
        }
        await reportUsage(.ended, record)
        try await store.remove(record.image.id)
    }

    /// Marks an image busy for the length of `body`, in this process and in the store for other
    /// processes sharing it, refusing a second operation on it.
    func exclusively<Result>(_ id: ImageID, _ body: () async throws -> Result) async throws -> Result {
        let claimed = operationsInFlight.withLock { $0.insert(id).inserted }
        guard claimed else {
            throw ImagesKitError(.conflict, "another operation on \(id) is running; wait for it to end, then retry")
        }
        defer { _ = operationsInFlight.withLock { $0.remove(id) } }
        guard let claim = try await store.claim(id) else {
            throw ImagesKitError(
                .conflict, "another process is working on \(id); wait for it to end, then retry")
        }
        return try await holding(claim, body)
    }

    /// Removes a half-made image and records why it failed.
    func discardFailed(_ id: ImageID, _ action: EventAction, _ error: any Error) async -> any Error {
        var failure = Self.publicError(error)
        if failure.isNoSpace {
            failure = ImagesKitError(
                failure.code, "\(failure.message); \(id) and its partial data were removed", cause: failure.cause,
                context: failure.context)
        }
        do {
            try await store.remove(id)
        } catch {
            logger.warning("could not remove failed image", ["image": "\(id)", "error": "\(error)"])
        }
        await recordEvent(action, id, .failed, failure.message)
        return failure
    }

    /// The codec of `format`, or a refusal saying which codec the service lacks.
    func codec(for format: String) throws -> any Compressor {
        guard let codec = codecs.first(where: { $0.format.name == format }) else {
            let known = codecs.map(\.format.name).joined(separator: ", ")
            throw ImagesKitError(
                .unsupportedFormat,
                "this service has no \(format) codec (it has \(known)); give it one through otherCodecs",
                context: ["format": format])
        }
        return codec
    }

    /// The codecs uploads may arrive in, as the configuration allows.
    func uploadCodecs() throws -> [any Compressor] {
        let accepted = codecs.filter { configuration.uploadFormats.contains($0.format.name) }
        guard !accepted.isEmpty else {
            let formats = configuration.uploadFormats.sorted().joined(separator: ", ")
            throw ImagesKitError(
                .unsupportedFormat,
                "this service has no codec for the upload formats it is configured with (\(formats)); "
                    + "give it the codec or change ImageServiceConfiguration.uploadFormats")
        }
        return accepted
    }

    static func publicError(_ error: any Error) -> ImagesKitError {
        if let error = error as? ImagesKitError { return error }
        if error is CancellationError { return .cancelledOperation }
        return ImagesKitError(.storeFailure, "the operation failed unexpectedly: \(error)", cause: error)
    }

    func newImage(number: Int, _ fields: ImageFields, label: String, status: ImageStatus, size: Int) -> Image {
        Image(
            id: .private(number), label: label, description: fields.description, created: now(),
            createdBy: fields.createdBy, size: size, status: status, type: fields.type, expiry: fields.expiry,
            capabilities: fields.cloudInit ? ["cloud-init"] : [], tags: fields.tags)
    }

    func availableRecord(_ record: StoredImage, content: ImageContent) -> StoredImage {
        var finished = record
        finished.content = content.sealed(for: record.image.id)
        finished.uploadDeadline = nil
        finished.uploadFormat = nil
        finished.image.status = .available
        finished.image.size = Image.megabytes(content.uncompressedByteCount)
        finished.image.updated = now()
        finished.image.regions = [ImageRegion(region: record.homeRegion, status: .available)]
        if !finished.image.capabilities.contains("distributed-sites") {
            finished.image.capabilities.append("distributed-sites")
        }
        return finished
    }
}
