import Foundation

/// What a check of a compressed image file found.
public struct VerifiedImageFile: Hashable, Sendable {
    /// The file's format, told by its first bytes.
    public var format: CompressionFormat
    /// The file's size in bytes, padding included.
    public var compressedByteCount: UInt64
    /// The size of the data it holds.
    public var uncompressedByteCount: UInt64
    /// The SHA-256 of the data it holds, in hexadecimal.
    public var sha256: String
    /// What the data holds, such as `ext4`.
    public var filesystem: String
    /// Whether the data is an unpartitioned ext3 or ext4 disk that deploys can grow.
    public var isExtFilesystem: Bool
}

extension ImageService {
    /// Checks a compressed image file as an upload would, storing nothing.
    ///
    /// Every codec the service has is tried by the file's first bytes, whatever formats uploads
    /// accept; the per-image and per-upload limits apply.
    /// - Parameters:
    ///   - bytes: The file's bytes, in pieces of any size.
    ///   - progress: Receives the compressed bytes read so far.
    /// - Returns: The format, sizes, SHA-256 and content of the file.
    /// - Throws: ``ImagesKitError``: `corrupt_data`, `truncated_data`, `trailing_data`,
    ///   `unsupported_format`, `empty_input`, `upload_too_large`, `image_too_large`, `cancelled`.
    public func verify<Bytes: AsyncSequence>(
        bytes: Bytes, progress: ProgressHandler? = nil
    ) async throws -> VerifiedImageFile where Bytes.Element == [UInt8] {
        let validator = UploadValidator(accepted: codecs, limits: configuration.limits)
        for try await chunk in bytes {
            try Task.checkCancellation()
            _ = try validator.take(chunk)
            progress?(OperationProgress(phase: .receiving, completedBytes: validator.receivedBytes, totalBytes: nil))
        }
        try Task.checkCancellation()
        let (facts, _) = try validator.finish()
        return VerifiedImageFile(
            format: validator.codec?.format ?? compressor.format, compressedByteCount: validator.receivedBytes,
            uncompressedByteCount: facts.uncompressedByteCount, sha256: facts.sha256, filesystem: facts.filesystem,
            isExtFilesystem: facts.isExtFilesystem)
    }

    /// Checks a compressed image file on disk as an upload would, storing nothing.
    ///
    /// - Throws: As ``verify(bytes:progress:)``, and `io_failure` when the file can't be read.
    public func verify(fileAt path: String, progress: ProgressHandler? = nil) async throws -> VerifiedImageFile {
        let file = try FileDisk(path: path)
        return try await verify(bytes: DiskChunks(disk: file, chunkSize: configuration.chunkSize), progress: progress)
    }
}
