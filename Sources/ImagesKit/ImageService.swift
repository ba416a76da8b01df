import Foundation
import Synchronization

/// Limits the service enforces; the defaults are the product's, an application may raise them.
public struct ImageLimits: Hashable, Sendable {
    /// The most uncompressed bytes one image may hold (6 GB).
    public var imageBytes: UInt64 = 6_000_000_000
    /// The most compressed bytes one upload file may hold (5 GiB).
    public var uploadBytes: UInt64 = 5 << 30

    /// Creates limits with the product's defaults.
    public init(imageBytes: UInt64 = 6_000_000_000, uploadBytes: UInt64 = 5 << 30) {
        self.imageBytes = imageBytes
        self.uploadBytes = uploadBytes
    }
}

/// How the service works: limits, compression level, scratch space, tools.
public struct ImageServiceConfiguration: Sendable {
    /// The limits enforced on captures and uploads.
    public var limits = ImageLimits()
    /// The compression level captures use, 1 to 9.
    public var compressionLevel = 6
    /// How long a `pending_upload` image waits for its file.
    public var uploadWindow: TimeInterval = 24 * 3600
    /// Where captures stage their working copy of a filesystem.
    public var scratchDirectory: String = NSTemporaryDirectory()
    /// The e2fsprogs tools used to check, shrink and grow filesystems.
    public var e2fsprogs = E2fsprogs()
    /// The size of the pieces data moves in, in bytes.
    public var chunkSize = 1 << 20

    /// Creates the default configuration.
    public init() {}
}

/// Runs the image lifecycle: capture, upload, get, list, update, delete, export and deploy.
///
/// The service takes its store, codec, billing, clock and logger at initialisation and keeps no
/// other state: everything lives in the store. Long operations report progress and stop
/// promptly when their task is cancelled, leaving nothing half-made behind.
public final class ImageService: Sendable {
    /// Where records and content live.
    public let store: any ImageStore
    /// The codec captures are compressed with and uploads are read with.
    public let compressor: any Compressor
    /// Where usage is reported.
    public let billing: any Billing
    /// The source of the current time.
    public let clock: any ImagesClock
    /// Where log messages go.
    public let logger: ImagesLogger
    /// Limits and tuning.
    public let configuration: ImageServiceConfiguration

    let operationsInFlight = Mutex<Set<ImageID>>([])

    /// Creates a service.
    ///
    /// - Parameters:
    ///   - store: Where records and content live.
    ///   - compressor: The codec images are kept in; uploads must be in its format.
    ///   - billing: Where usage is reported; by default nowhere.
    ///   - clock: The source of the current time; by default the system clock.
    ///   - logger: Where log messages go; by default nowhere.
    ///   - configuration: Limits and tuning.
    public init(
        store: any ImageStore,
        compressor: any Compressor,
        billing: any Billing = NoBilling(),
        clock: any ImagesClock = SystemClock(),
        logger: ImagesLogger = .silent,
        configuration: ImageServiceConfiguration = ImageServiceConfiguration()
    ) {
        self.store = store
        self.compressor = compressor
        self.billing = billing
        self.clock = clock
        self.logger = logger
        self.configuration = configuration
    }

    /// Returns the image with the given id.
    ///
    /// - Throws: ``ImagesKitError`` with `image_not_found`.
    public func image(_ id: ImageID) async throws -> Image {
        try await storedImage(id).image
    }

    /// Returns one page of the account's images, filtered and ordered by id.
    ///
    /// - Parameter query: Filters and the page wanted.
    /// - Returns: The page with its number, the page count and the number of matching images.
    /// - Throws: ``ImagesKitError`` with `invalid_argument` for a bad page or page size.
    public func images(_ query: ImageQuery = ImageQuery()) async throws -> ImagePage {
        try query.validate()
        let matching = try await store.records().map(\.image).filter(query.matches)
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
            await recordEvent(.imageUpdate, id, .finished, nil)
            return record.image
        }
    }

    /// Deletes an image and every regional copy; this can't be undone.
    ///
    /// - Throws: ``ImagesKitError`` with `image_not_found`, `not_modifiable`, or `conflict` while a
    ///   capture or upload of the image runs.
    public func delete(_ id: ImageID) async throws {
        try await exclusively(id) {
            let record = try await storedImage(id)
            try await store.remove(id)
            await recordEvent(.imageDelete, id, .finished, nil)
            await reportUsage(.ended, record)
        }
    }

    /// Returns every recorded event, oldest first, optionally for one image only.
    ///
    /// - Throws: ``ImagesKitError`` with `store_failure`.
    public func events(for id: ImageID? = nil) async throws -> [ImageEvent] {
        try await store.events().filter { id == nil || $0.entity == id }
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
        return record
    }

    func recordEvent(_ action: EventAction, _ id: ImageID, _ status: EventStatus, _ message: String?) async {
        let event = ImageEvent(action: action, entity: id, status: status, message: message, created: now())
        do {
            try await store.append(event)
        } catch {
            logger.warning("could not record event", ["image": "\(id)", "error": "\(error)"])
        }
    }

    func reportUsage(_ kind: UsageRecord.Kind, _ record: StoredImage) async {
        guard let content = record.content else { return }
        for region in record.image.regions where region.status == .available {
            let usage = UsageRecord(
                kind: kind, image: record.image.id, region: region.region,
                byteCount: content.uncompressedByteCount, type: record.image.type, time: now())
            do {
                try await billing.record(usage)
            } catch {
                logger.warning("billing did not take usage", ["image": "\(record.image.id)", "error": "\(error)"])
            }
        }
    }

    /// Marks an image busy for the length of `body`, refusing a second operation on it.
    func exclusively<Result>(_ id: ImageID, _ body: () async throws -> Result) async throws -> Result {
        let claimed = operationsInFlight.withLock { $0.insert(id).inserted }
        guard claimed else {
            throw ImagesKitError(.conflict, "another operation on \(id) is running; wait for it to end, then retry")
        }
        defer { _ = operationsInFlight.withLock { $0.remove(id) } }
        return try await body()
    }

    /// Removes a half-made image and records why it failed.
    func discardFailed(_ id: ImageID, _ action: EventAction, _ error: any Error) async -> any Error {
        let failure = Self.publicError(error)
        do {
            try await store.remove(id)
        } catch {
            logger.warning("could not remove failed image", ["image": "\(id)", "error": "\(error)"])
        }
        await recordEvent(action, id, .failed, failure.message)
        return failure
    }

    static func publicError(_ error: any Error) -> ImagesKitError {
        if let error = error as? ImagesKitError { return error }
        if error is CancellationError { return .cancelledOperation }
        return ImagesKitError(.storeFailure, "the operation failed unexpectedly: \(error)", cause: error)
    }

    func newImage(
        number: Int, label: String, description: String?, tags: [String], cloudInit: Bool,
        createdBy: String?, status: ImageStatus, size: Int
    ) -> Image {
        let time = now()
        return Image(
            id: .private(number), label: label, description: description, created: time, createdBy: createdBy,
            size: size, status: status, capabilities: cloudInit ? ["cloud-init"] : [], tags: tags)
    }

    func availableRecord(_ record: StoredImage, content: ImageContent) -> StoredImage {
        var finished = record
        finished.content = content
        finished.uploadDeadline = nil
        finished.image.status = .available
        finished.image.size = Image.megabytes(content.uncompressedByteCount)
        finished.image.updated = now()
        finished.image.regions = [ImageRegion(region: record.homeRegion, status: .available)]
        return finished
    }
}
