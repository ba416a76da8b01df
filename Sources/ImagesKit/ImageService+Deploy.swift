import Foundation

/// What a deploy left on the disk.
public struct DeployOutcome: Hashable, Sendable {
    /// The image that was deployed.
    public var image: ImageID
    /// The disk's size in bytes.
    public var diskByteCount: UInt64
    /// The size of the filesystem on the disk, or of the raw image when it holds no ext3/ext4.
    public var filesystemByteCount: UInt64
    /// Whether the filesystem was grown to fill the disk. It is not when the image holds no
    /// ext3/ext4 filesystem, or one that e2fsprogs can't resize safely (bigalloc).
    public var filesystemGrown: Bool

    /// Creates an outcome.
    public init(image: ImageID, diskByteCount: UInt64, filesystemByteCount: UInt64, filesystemGrown: Bool) {
        self.image = image
        self.diskByteCount = diskByteCount
        self.filesystemByteCount = filesystemByteCount
        self.filesystemGrown = filesystemGrown
    }
}

extension ImageService {
    /// Deploys an image onto an existing disk, replacing all of its content.
    ///
    /// The disk must be at least the image's size; that is checked before anything is written.
    /// Every old byte is erased, the image is written (zeros are skipped on the erased disk),
    /// its SHA-256 is checked, and an ext3/ext4 filesystem is grown to fill the disk where
    /// e2fsprogs can do that safely.
    /// - Parameters:
    ///   - id: The available image.
    ///   - target: The disk to overwrite.
    ///   - progress: Receives byte progress for each step.
    /// - Returns: The disk's and the filesystem's sizes, and whether the filesystem was grown.
    /// - Throws: ``ImagesKitError``: `disk_too_small`, `digest_mismatch`, `corrupt_data`,
    ///   `invalid_state`, `cancelled`, `io_failure`, `tool_failure`.
    @discardableResult
    public func deploy(
        _ id: ImageID, to target: some DiskTarget, progress: ProgressHandler? = nil
    ) async throws -> DeployOutcome {
        let (record, content) = try await availableContent(id)
        try checkFits(content, target.byteCount, record.image)
        try await verifyStoredImage(id, content, disk: target.name)
        do {
            return try await writeImage(record, content, onto: target, progress ?? { _ in })
        } catch {
            throw Self.partialDeployFailure(error, target.name)
        }
    }

    /// Deploys an image to a new disk file, which appears at `path` only once it is complete.
    ///
    /// - Parameters:
    ///   - id: The available image.
    ///   - path: Where to create the disk file; nothing may exist there.
    ///   - byteCount: The disk's size; by default the image's size. It must be at least that.
    ///   - progress: Receives byte progress for each step.
    /// - Returns: The disk's and the filesystem's sizes, and whether the filesystem was grown.
    /// - Throws: As ``deploy(_:to:progress:)``, and `io_failure` when the file exists.
    @discardableResult
    public func deploy(
        _ id: ImageID, toNewDiskAt path: String, byteCount: UInt64? = nil, progress: ProgressHandler? = nil
    ) async throws -> DeployOutcome {
        let (record, content) = try await availableContent(id)
        let size = byteCount ?? content.uncompressedByteCount
        try checkFits(content, size, record.image)
        guard access(path, F_OK) != 0 else {
            throw ImagesKitError(
                .ioFailure, "\(path) already exists; deploy onto it as an existing disk or choose a new path",
                context: ["path": path])
        }
        let scratch = try ScratchFolder(inside: configuration.scratchDirectory)
        defer { scratch.remove() }
        let partial = Self.partialPath(for: path)
        try scratch.notePartialFile(partial)
        let disk = try FileDisk.create(path: partial, byteCount: size)
        do {
            let outcome = try await writeImage(record, content, onto: disk, progress ?? { _ in })
            try Self.publish(partial, as: path)
            return outcome
        } catch {
            unlink(partial)
            throw Self.newDiskFailure(error, path: path)
        }
    }

    /// A hidden name beside `path` for a disk or export being written, so an interrupted one
    /// never leaves a half-written file under the name asked for.
    ///
    /// The name carries the writing process's id, so partial files that killed processes left
    /// in the same folder are removed first. The writer also notes the name in a scratch folder
    /// (``ScratchFolder/notePartialFile(_:)``), so the next recovery removes it as well.
    static func partialPath(for path: String) -> String {
        let url = URL(fileURLWithPath: path)
        let folder = url.deletingLastPathComponent()
        removeAbandonedPartials(in: folder.path)
        let name = ".\(url.lastPathComponent)\(partialMarker)\(getpid())-\(UUID().uuidString)"
        return folder.appendingPathComponent(name).path
    }

    static let partialMarker = ".imageskit-partial-"

    /// Removes hidden partial files in `folder` whose writing process has ended.
    static func removeAbandonedPartials(in folder: String) {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        for name in names where name.hasPrefix(".") {
            guard let marker = name.range(of: partialMarker) else { continue }
            let pid = Int32(name[marker.upperBound...].prefix { $0 != "-" }) ?? 0
            guard pid > 0, kill(pid, 0) != 0, errno == ESRCH else { continue }
            unlink((folder as NSString).appendingPathComponent(name))
        }
    }

    /// Gives the finished disk its name, refusing to replace a file that appeared meanwhile,
    /// and flushes the folder so the name survives a power loss.
    static func publish(_ partial: String, as path: String) throws {
        guard link(partial, path) == 0 else {
            throw ImagesKitError.io(
                "can't give the deployed disk its name \(path); check nothing else created it meanwhile",
                call: "link", errno: errno, path: path)
        }
        unlink(partial)
        synchronizeFolder(containing: path)
    }

    /// Flushes the folder holding `path`, making a rename or link in it durable.
    static func synchronizeFolder(containing path: String) {
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
        let descriptor = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { return }
        fsync(descriptor)
        close(descriptor)
    }

    /// Says that an existing disk was left part-written: its old content is gone already.
    private static func partialDeployFailure(_ error: any Error, _ disk: String) -> ImagesKitError {
        let failure = publicError(error)
        return ImagesKitError(
            failure.code,
            "\(failure.message); the disk \(disk) was already erased and holds a partial image: deploy again",
            cause: failure.cause, context: failure.context)
    }

    /// Names the export's own path, not its temporary file, in a failure to write it.
    static func exportFailure(_ error: any Error, path: String) -> ImagesKitError {
        writeFailure(error, "the export", path: path)
    }

    /// Names the new disk's own path, not its temporary file, in a failure to write it.
    static func newDiskFailure(_ error: any Error, path: String) -> ImagesKitError {
        writeFailure(error, "the disk", path: path)
    }

    private static func writeFailure(_ error: any Error, _ what: String, path: String) -> ImagesKitError {
        let failure = publicError(error)
        guard failure.code == .ioFailure else { return failure }
        let advice =
            failure.isNoSpace
            ? "\(ImagesKitError.noSpaceAdvice); nothing was left at \(path)"
            : "check the folder exists, is writable and has room"
        return ImagesKitError(
            .ioFailure, "can't write \(what) to \(path): \(advice)", cause: failure.cause, context: ["path": path])
    }

    func availableContent(_ id: ImageID) async throws -> (StoredImage, ImageContent) {
        let record = try await storedImage(id)
        try Self.checkConsistent(record, id)
        guard record.image.status == .available, let content = record.content else {
            throw ImagesKitError(
                .invalidState, "\(id) is \(record.image.status.rawValue); only available images can be read")
        }
        _ = try codec(for: content.format)
        return (record, content)
    }

    private func checkFits(_ content: ImageContent, _ diskBytes: UInt64, _ image: Image) throws {
        guard diskBytes >= content.uncompressedByteCount else {
            throw ImagesKitError(
                .diskTooSmall,
                "the disk holds \(diskBytes) bytes but \(image.id) needs \(content.uncompressedByteCount) "
                    + "(\(image.size) MB); use a disk at least that large",
                context: ["disk": String(diskBytes), "image": String(content.uncompressedByteCount)])
        }
    }

    private func writeImage(
        _ record: StoredImage, _ content: ImageContent, onto target: some DiskTarget, _ progress: ProgressHandler
    ) async throws -> DeployOutcome {
        try target.eraseAll()
        let check = try ContentCheck(content, try codec(for: content.format), storedBytesChecked: true)
        let writer = SparseDiskWriter(target: target, chunkSize: configuration.chunkSize)
        check.onOutput = { try writer.append($0) }
        try await streamContent(record.image.id, content) { bytes, _ in
            try check.take(bytes)
            progress(
                OperationProgress(
                    phase: .writing, completedBytes: check.outputByteCount, totalBytes: content.uncompressedByteCount))
        }
        try check.finish()
        try writer.finish()
        try target.synchronize()
        let grownTo = try await growIfSafe(target, content, progress)
        return DeployOutcome(
            image: record.image.id, diskByteCount: target.byteCount,
            filesystemByteCount: grownTo ?? content.uncompressedByteCount, filesystemGrown: grownTo != nil)
    }

    /// Grows an ext3/ext4 filesystem to fill the disk, unless its features make that unsafe.
    ///
    /// - Returns: The filesystem's size once it fills the disk, or `nil` when it was left as is.
    private func growIfSafe(
        _ target: some DiskTarget, _ content: ImageContent, _ progress: ProgressHandler
    ) async throws -> UInt64? {
        guard content.isExtFilesystem, case .ext(let filesystem) = try DiskProbe.identify(target) else {
            return nil
        }
        if filesystem.isBigalloc {
            logger.warning("bigalloc filesystem keeps its size; e2fsprogs can't grow it safely", ["disk": target.name])
            return nil
        }
        let blockCount = target.byteCount / UInt64(filesystem.blockSize)
        let filledBytes = blockCount * UInt64(filesystem.blockSize)
        guard blockCount > filesystem.blockCount else { return filesystem.byteCount }
        progress(OperationProgress(phase: .growing, completedBytes: 0, totalBytes: nil))
        let tools = configuration.e2fsprogs
        try await target.withFilePath { path in
            try await tools.checkAndRepair(path)
            try await tools.grow(path, toBlockCount: blockCount)
        }
        return filledBytes
    }
}
