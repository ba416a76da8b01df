import Foundation

/// What the first step of an upload is asked to make.
public struct UploadRequest: Hashable, Sendable {
    /// The image's label.
    public var label: String
    /// The region of the first copy.
    public var region: String
    /// An optional description.
    public var description: String?
    /// Tags for the image.
    public var tags: [String]
    /// Whether the image supports cloud-init.
    public var cloudInit: Bool
    /// The account user making the image.
    public var createdBy: String?
    /// The format to keep the image in; by default the format the file arrives in, stored as it
    /// came. A file in another format is compressed again into this one as it arrives.
    public var format: CompressionFormat?

    /// Creates an upload request.
    public init(
        label: String, region: String, description: String? = nil, tags: [String] = [], cloudInit: Bool = false,
        createdBy: String? = nil, format: CompressionFormat? = nil
    ) {
        self.label = label
        self.region = region
        self.description = description
        self.tags = tags
        self.cloudInit = cloudInit
        self.createdBy = createdBy
        self.format = format
    }
}

/// A `pending_upload` image and the moment its upload window closes.
public struct PendingUpload: Hashable, Sendable {
    /// The image, `pending_upload` with size 0.
    public var image: Image
    /// When the file must have arrived.
    public var deadline: Date
}

extension ImageService {
    /// Step 1 of an upload: makes a `pending_upload` image that waits for its file.
    ///
    /// - Parameter request: Label, region, description, tags.
    /// - Returns: The pending image and its upload deadline.
    /// The pending image counts toward the account's image quota at once.
    /// - Throws: ``ImagesKitError`` with `invalid_argument`, or `quota_exceeded` when the account
    ///   has as many manual images as it may or no storage left.
    public func createUpload(_ request: UploadRequest) async throws -> PendingUpload {
        let fields = try ImageFields(
            label: request.label, description: request.description, tags: request.tags,
            cloudInit: request.cloudInit, createdBy: request.createdBy)
        try Self.validateRegion(request.region)
        let kept = try request.format.map { try codec(for: $0.name).format }
        // The store's own region is always served; others need a place for copies.
        if request.region != store.defaultRegion { try replication.checkServes(request.region) }

        let image = newImage(
            number: try await store.reserveImageNumber(), fields, label: request.label, status: .pendingUpload,
            size: 0)
        let deadline = image.created.addingTimeInterval(configuration.uploadWindow)
        let record = StoredImage(
            image: image, homeRegion: request.region, uploadDeadline: deadline, uploadFormat: kept?.name)
        do {
            try await admit(record, claiming: 0)
        } catch {
            await recordEvent(.imageUpload, image.id, .failed, Self.publicError(error).message)
            throw error
        }
        await recordEvent(
            .imageUpload, image.id, .started, "waiting for the file until \(APITimestamp.format(deadline))")
        return PendingUpload(image: image, deadline: deadline)
    }

    /// Step 2 of an upload: receives the `.img.gz` file, validates it and stores it.
    ///
    /// The bytes are checked as they stream in: every gzip member, the compressed and
    /// uncompressed limits, and only zero padding after the last member. Memory stays bounded.
    /// On failure the image is deleted and a failed upload event says why.
    /// - Parameters:
    ///   - id: The `pending_upload` image.
    ///   - bytes: The file's bytes, in pieces of any size.
    ///   - progress: Receives the compressed bytes received so far.
    /// - Returns: The available image.
    /// - Throws: ``ImagesKitError``: `corrupt_data`, `truncated_data`, `trailing_data`,
    ///   `unsupported_format`, `empty_input`, `upload_too_large`, `image_too_large`,
    ///   `quota_exceeded`, `upload_window_expired`, `invalid_state`, `conflict`, `cancelled`.
    public func upload<Bytes: AsyncSequence>(
        _ id: ImageID, bytes: Bytes, progress: ProgressHandler? = nil
    ) async throws -> Image where Bytes.Element == [UInt8] {
        try await exclusively(id) {
            let record = try await pendingUpload(id)
            do {
                let finished = try await receive(record, bytes, progress ?? { _ in })
                await recordEvent(.imageUpload, id, .finished, "available, \(finished.image.size) MB")
                await flagUndeployableContent(finished)
                await reportUsage(.started, finished)
                return finished.image
            } catch {
                throw await discardFailed(id, .imageUpload, error)
            }
        }
    }

    /// Step 2 of an upload, reading the `.img.gz` from a file.
    ///
    /// - Parameters:
    ///   - id: The `pending_upload` image.
    ///   - path: The file to upload.
    ///   - progress: Receives the compressed bytes received so far.
    /// - Returns: The available image.
    /// - Throws: As ``upload(_:bytes:progress:)``, and `io_failure` when the file can't be read.
    public func upload(_ id: ImageID, fileAt path: String, progress: ProgressHandler? = nil) async throws -> Image {
        // Opened on the first read, inside the upload, so a file that can't be read fails the
        // upload like any bad file: the image goes, with a failed event.
        try await upload(id, bytes: FileChunks(path: path, chunkSize: configuration.chunkSize), progress: progress)
    }

    /// Records a notification when an upload holds no ext3/ext4 filesystem at its start: it is
    /// stored, but deploys write it as it is and can't grow it.
    private func flagUndeployableContent(_ record: StoredImage) async {
        guard let content = record.content, !content.isExtFilesystem else { return }
        let message =
            "the image holds \(content.filesystem), not an unpartitioned ext3/ext4 disk; "
            + "deploys write it unchanged and can't grow a filesystem in it"
        await recordEvent(.imageUpload, record.image.id, .notification, message)
        logger.info("upload holds no ext3/ext4 filesystem", ["image": "\(record.image.id)"])
    }

    /// Checks a region id: 1 to 64 lowercase ASCII letters, digits and dashes, not starting or
    /// ending with a dash, such as `us-east`; so one region is never spelled two ways.
    static func validateRegion(_ region: String) throws {
        let bytes = Array(region.utf8)
        let allowed = bytes.allSatisfy { byte in
            byte == UInt8(ascii: "-") || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
        }
        guard (1...64).contains(bytes.count), allowed, bytes.first != UInt8(ascii: "-"),
            bytes.last != UInt8(ascii: "-")
        else {
            throw ImagesKitError(
                .invalidArgument,
                "region must be 1 to 64 lowercase letters, digits and inner dashes, such as us-east; got '\(region)'",
                context: ["field": "region"])
        }
    }

    private func pendingUpload(_ id: ImageID) async throws -> StoredImage {
        let record = try await storedImage(id)
        guard record.image.status == .pendingUpload else {
            throw ImagesKitError(
                .invalidState, "\(id) is \(record.image.status.rawValue), not pending_upload; create a new upload")
        }
        if let deadline = record.uploadDeadline, now() >= deadline {
            try await expireUploadWindow(record)
            throw ImagesKitError(
                .uploadWindowExpired,
                "the upload window of \(id) closed at \(APITimestamp.format(deadline)); "
                    + "create a new upload and send the file within 24 hours")
        }
        return record
    }

    private func receive<Bytes: AsyncSequence>(
        _ record: StoredImage, _ bytes: Bytes, _ progress: ProgressHandler
    ) async throws -> StoredImage where Bytes.Element == [UInt8] {
        let writer = DigestingContentWriter(try await store.beginContent(for: record.image.id))
        do {
            let budget = try await uploadBudget(for: record.image.id)
            let validator = UploadValidator(
                accepted: try uploadCodecs(), keptCodec: try record.uploadFormat.map { try codec(for: $0) },
                keptLevel: configuration.compressionLevel, limits: configuration.limits, quotaBytes: budget)
            for try await chunk in bytes {
                try Task.checkCancellation()
                let accepted = try validator.take(chunk)
                if !accepted.isEmpty { try await writer.write(accepted) }
                progress(OperationProgress(phase: .receiving, completedBytes: validator.receivedBytes, totalBytes: nil))
            }
            // A cancelled sequence may just end; a stream that happens to end there is still incomplete.
            try Task.checkCancellation()
            var (facts, tail) = try validator.finish()
            if !tail.isEmpty { try await writer.write(tail) }
            facts.compressedByteCount = writer.byteCount
            facts.storedSHA256 = writer.storedSHA256
            let finished = availableRecord(record, content: facts)
            try await commitAdmitted(writer, finished)
            return finished
        } catch {
            await writer.abort()
            throw error
        }
    }
}

extension DiskContent {
    /// A few words naming what was found, for messages and records.
    var summary: String {
        switch self {
        case .ext(let filesystem): filesystem.kind.rawValue
        case .partitionTable(let name), .otherFilesystem(let name), .compressed(let name): name
        case .unknown: "data in no format ImagesKit recognises"
        }
    }

    /// Whether the content is an ext3 or ext4 filesystem.
    var isCapturableExt: Bool {
        if case .ext(let filesystem) = self { return filesystem.kind != .ext2 }
        return false
    }
}

/// A file's bytes as an asynchronous sequence of pieces, opened when first read.
struct FileChunks: AsyncSequence {
    typealias Element = [UInt8]

    let path: String
    let chunkSize: Int

    struct AsyncIterator: AsyncIteratorProtocol {
        let path: String
        let chunkSize: Int
        var chunks: DiskChunks.AsyncIterator?

        mutating func next() async throws -> [UInt8]? {
            if chunks == nil {
                chunks = DiskChunks(disk: try FileDisk(path: path), chunkSize: chunkSize).makeAsyncIterator()
            }
            return try await chunks?.next()
        }
    }

    func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(path: path, chunkSize: chunkSize)
    }
}

/// A disk's bytes as an asynchronous sequence of pieces.
struct DiskChunks: AsyncSequence {
    typealias Element = [UInt8]

    let disk: any DiskSource
    let chunkSize: Int

    struct AsyncIterator: AsyncIteratorProtocol {
        let disk: any DiskSource
        let chunkSize: Int
        var offset: UInt64 = 0

        mutating func next() async throws -> [UInt8]? {
            var chunk = [UInt8](repeating: 0, count: chunkSize)
            let count = try chunk.withUnsafeMutableBytes { try disk.read(into: $0, at: offset) }
            guard count > 0 else { return nil }
            offset += UInt64(count)
            chunk.removeLast(chunkSize - count)
            return chunk
        }
    }

    func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(disk: disk, chunkSize: chunkSize)
    }
}
