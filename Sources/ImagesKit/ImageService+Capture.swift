import Foundation

/// What a capture is asked to make.
public struct CaptureRequest: Hashable, Sendable {
    /// The image's label; by default the filesystem's label, else the disk's name.
    public var label: String?
    /// An optional description.
    public var description: String?
    /// Tags for the image.
    public var tags: [String]
    /// Whether the image supports cloud-init.
    public var cloudInit: Bool
    /// The region of the first copy; by default the store's.
    public var region: String?
    /// The account user making the image.
    public var createdBy: String?
    /// The format to keep the image in; by default the service's ``ImageService/compressor``'s.
    public var format: CompressionFormat?

    /// Creates a capture request.
    public init(
        label: String? = nil, description: String? = nil, tags: [String] = [], cloudInit: Bool = false,
        region: String? = nil, createdBy: String? = nil, format: CompressionFormat? = nil
    ) {
        self.label = label
        self.description = description
        self.tags = tags
        self.cloudInit = cloudInit
        self.region = region
        self.createdBy = createdBy
        self.format = format
    }
}

extension ImageService {
    /// Captures a disk's ext3 or ext4 filesystem as a new image.
    ///
    /// Only the blocks the filesystem uses are read; the copy is checked, shrunk to its minimum
    /// size and compressed into the store. The image is `creating` while this runs and
    /// `available` when it returns. A failed or cancelled capture leaves no image and no data.
    /// - Parameters:
    ///   - request: Label, description, tags and region for the image.
    ///   - disk: The disk to capture; it is only read.
    ///   - progress: Receives byte progress for each step.
    /// - Returns: The available image.
    /// - Throws: ``ImagesKitError``: `unsupported_filesystem`, `partitioned_disk`,
    ///   `damaged_filesystem`, `image_too_large`, `invalid_argument`, `cancelled`, or a store error.
    public func capture(
        _ request: CaptureRequest, from disk: some DiskSource, progress: ProgressHandler? = nil
    ) async throws -> Image {
        var fields = try ImageFields(
            label: request.label, description: request.description, tags: request.tags,
            cloudInit: request.cloudInit, createdBy: request.createdBy)
        fields.format = try request.format.map { try codec(for: $0.name).format }
        return try await capture(fields, region: request.region, from: disk, progress: progress ?? { _ in })
    }

    /// Captures a disk as a manual or recovery image, as `fields` say.
    ///
    /// Manual images are held to the account's quotas and the per-image limit; recovery images
    /// are not, so nothing of a deleted server is refused for its size.
    func capture(
        _ fields: ImageFields, region: String?, diskLabel: String? = nil, from disk: some DiskSource,
        progress: ProgressHandler
    ) async throws -> Image {
        if let region { try Self.validateRegion(region) }
        let number = try await store.reserveImageNumber()
        let filesystem = try await capturableFilesystem(on: disk, for: .private(number), fields.type)
        let image = newImage(
            number: number, fields, label: fields.label ?? Self.label(for: filesystem, on: disk, diskLabel),
            status: .creating, size: Image.megabytes(disk.byteCount))
        let record = StoredImage(image: image, homeRegion: region ?? store.defaultRegion)
        // Claimed before the record is visible, so no update or delete can slip in before the commit.
        return try await exclusively(image.id) {
            try await admitCapture(record, claiming: filesystem.usedByteCount)
            await recordEvent(.diskImagize, image.id, .started, "capturing disk \(Self.excerpt(disk.name))")
            logger.info("capture started", ["image": "\(image.id)", "disk": disk.name])

            do {
                let codec = try fields.format.map { try self.codec(for: $0.name) } ?? compressor
                let finished = try await runCapture(record, filesystem, disk, codec, progress)
                await recordEvent(.diskImagize, image.id, .finished, "available, \(finished.image.size) MB")
                await reportUsage(.started, finished)
                return finished.image
            } catch {
                throw await discardFailed(image.id, .diskImagize, error)
            }
        }
    }

    /// The label a capture without one gets: the disk's label from the caller, else the
    /// filesystem's volume label, else the disk's name.
    private static func label(for filesystem: ExtFilesystem, on disk: some DiskSource, _ diskLabel: String?) -> String {
        ImageRules.label(derivedFrom: diskLabel ?? filesystem.label ?? disk.name, fallback: "disk")
    }

    /// Saves the `creating` record once the quotas allow it, or records why the capture failed.
    private func admitCapture(_ record: StoredImage, claiming bytes: UInt64) async throws {
        do {
            try await admit(record, claiming: bytes)
        } catch {
            await recordEvent(.diskImagize, record.image.id, .failed, Self.publicError(error).message)
            throw error
        }
    }

    /// Finds the filesystem to capture, or records why the capture of image `id` failed; the
    /// refused capture stores nothing but its failed event.
    private func capturableFilesystem(
        on disk: some DiskSource, for id: ImageID, _ type: ImageType
    ) async throws -> ExtFilesystem {
        do {
            let filesystem = try DiskProbe.capturableFilesystem(on: disk)
            if type == .manual {
                try checkImageLimit(usedBytes: filesystem.usedByteCount, what: "the disk's used data")
            }
            return filesystem
        } catch {
            await recordEvent(.diskImagize, id, .failed, Self.publicError(error).message)
            throw error
        }
    }

    func checkImageLimit(usedBytes: UInt64, what: String) throws {
        guard usedBytes > configuration.limits.imageBytes else { return }
        throw ImagesKitError(
            .imageTooLarge,
            "\(what) is \(usedBytes) bytes, over the \(configuration.limits.imageBytes)-byte image limit; "
                + "free space on the disk or ask for a higher limit",
            context: ["bytes": String(usedBytes), "limit": String(configuration.limits.imageBytes)])
    }

    private func runCapture(
        _ record: StoredImage, _ filesystem: ExtFilesystem, _ disk: some DiskSource, _ codec: any Compressor,
        _ progress: ProgressHandler
    ) async throws -> StoredImage {
        ScratchFolder.removeAbandoned(inside: configuration.scratchDirectory)
        let scratch = try ScratchFolder(inside: configuration.scratchDirectory)
        defer { scratch.remove() }

        let working = try FileDisk.create(path: scratch.path("filesystem.img"), byteCount: filesystem.byteCount)
        try await copyUsedBlocks(of: filesystem, from: disk, to: working, progress)
        let minimal = try await shrink(working, filesystem, progress)
        if record.image.type == .manual {
            try checkImageLimit(usedBytes: minimal.byteCount, what: "the shrunk filesystem")
        }

        let content = try await storeImage(of: minimal, on: working, for: record.image.id, codec, progress)
        let finished = availableRecord(record, content: content.facts)
        do {
            try await commitAdmitted(content.writer, finished)
        } catch {
            await content.writer.abort()
            throw error
        }
        return finished
    }

    private func copyUsedBlocks(
        of filesystem: ExtFilesystem, from disk: some DiskSource, to working: FileDisk, _ progress: ProgressHandler
    ) async throws {
        var buffer = [UInt8](repeating: 0, count: configuration.chunkSize)
        var copied: UInt64 = 0
        try filesystem.forEachUsedRange(on: disk) { range in
            try Task.checkCancellation()
            try buffer.withUnsafeMutableBytes { chunk in
                try copyRange(range, from: disk, to: working, through: chunk)
            }
            copied += UInt64(range.count)
            progress(OperationProgress(phase: .copying, completedBytes: copied, totalBytes: filesystem.usedByteCount))
        }
        // No fsync: the working copy is scratch that e2fsprogs reads through the same page cache,
        // and a crash discards it anyway; flushing it cost about 0.3 s per 300 MB.
    }

    private func copyRange(
        _ range: Range<UInt64>, from disk: some DiskSource, to working: FileDisk,
        through chunk: UnsafeMutableRawBufferPointer
    ) throws {
        var offset = range.lowerBound
        while offset < range.upperBound {
            let count = Int(min(UInt64(chunk.count), range.upperBound - offset))
            let piece = UnsafeMutableRawBufferPointer(rebasing: chunk[..<count])
            try disk.readExactly(into: piece, at: offset)
            try working.write(UnsafeRawBufferPointer(piece), at: offset)
            offset += UInt64(count)
        }
    }

    /// Checks the working copy, replaces its journal, shrinks it to its minimum unless its
    /// features forbid that, and zeroes preallocated extents and free inode records.
    ///
    /// The old journal, unwritten extents and free inode records are in blocks the filesystem
    /// uses, but may hold the bytes of deleted files; none of them may travel into the image.
    private func shrink(
        _ working: FileDisk, _ filesystem: ExtFilesystem, _ progress: ProgressHandler
    ) async throws -> ExtFilesystem {
        let tools = configuration.e2fsprogs
        progress(OperationProgress(phase: .checking, completedBytes: 0, totalBytes: nil))
        try await tools.checkAndRepair(working.path)
        try await replaceJournal(of: working)

        if filesystem.isBigalloc {
            logger.info("filesystem uses bigalloc; keeping its size", ["disk": working.path])
        } else {
            progress(OperationProgress(phase: .shrinking, completedBytes: 0, totalBytes: nil))
            do {
                try await tools.shrinkToMinimum(working.path)
            } catch let error as ImagesKitError where error.code == .toolFailure {
                logger.warning("filesystem could not be shrunk; keeping its size", ["error": "\(error)"])
                try await tools.checkAndRepair(working.path)
            }
        }

        let minimal = try DiskProbe.capturableFilesystem(on: working)
        try working.resize(to: minimal.byteCount)
        try minimal.forEachUnwrittenRange(on: working) { try working.zero($0) }
        try minimal.forEachFreeInodeRange(on: working) { try working.zero($0) }
        return minimal
    }

    /// Swaps the journal for a fresh one of the same size laid on zeroed free space.
    private func replaceJournal(of working: FileDisk) async throws {
        let tools = configuration.e2fsprogs
        guard let mebibytes = try await tools.removeJournal(working.path) else { return }
        // tune2fs can leave bigalloc counters off; e2fsck puts them right before the bitmaps are read.
        try await tools.checkAndRepair(working.path)
        guard case .ext(let filesystem) = try DiskProbe.identify(working) else {
            throw ImagesKitError(.damagedFilesystem, "the filesystem could not be read after its journal was removed")
        }
        var position: UInt64 = 0
        try filesystem.forEachUsedRange(on: working) { range in
            try working.zero(position..<range.lowerBound)
            position = range.upperBound
        }
        try working.zero(position..<filesystem.byteCount)
        try await tools.addJournal(working.path, mebibytes: mebibytes)
        try await tools.checkAndRepair(working.path)
    }

    private func storeImage(
        of filesystem: ExtFilesystem, on working: FileDisk, for id: ImageID, _ codec: any Compressor,
        _ progress: ProgressHandler
    ) async throws -> (writer: any ImageContentWriter, facts: ImageContent) {
        let writer = DigestingContentWriter(try await store.beginContent(for: id))
        do {
            let encoder = try codec.makeEncoder(level: configuration.compressionLevel)
            let pump = CompressingPump(encoder: encoder, writer: writer, chunkSize: configuration.chunkSize)
            try await pump.compress(filesystem, on: working) { done in
                progress(OperationProgress(phase: .storing, completedBytes: done, totalBytes: filesystem.byteCount))
            }
            let facts = ImageContent(
                format: codec.format.name, sha256: pump.digest.finalize(),
                uncompressedByteCount: filesystem.byteCount, compressedByteCount: writer.byteCount,
                filesystem: filesystem.kind.rawValue, isExtFilesystem: true, storedSHA256: writer.storedSHA256,
                chunkIndex: encoder.chunkIndex)
            return (writer, facts)
        } catch {
            await writer.abort()
            throw error
        }
    }
}
