import Foundation

extension ImageService {
    /// Writes an image as a standard compressed file, such as `.img.gz` or `.img.xz`, checking
    /// its SHA-256.
    ///
    /// The file appears at `path` only when it is complete and verified. An image kept in
    /// another format than the one asked for is compressed again on the way.
    /// - Parameters:
    ///   - id: The available image.
    ///   - path: The file to write; an existing file is replaced.
    ///   - format: The file's format; by default the format the image is kept in.
    ///   - progress: Receives the stored bytes read.
    /// - Throws: ``ImagesKitError``: `digest_mismatch`, `corrupt_data`, `invalid_state`,
    ///   `unsupported_format` (no codec for the format), `io_failure`.
    public func export(
        _ id: ImageID, to path: String, format: CompressionFormat? = nil, progress: ProgressHandler? = nil
    ) async throws {
        let (_, content) = try await availableContent(id)
        let stored = try codec(for: content.format)
        let wanted = try format.map { try codec(for: $0.name) } ?? stored
        let scratch = try ScratchFolder(inside: configuration.scratchDirectory)
        defer { scratch.remove() }
        let partial = Self.partialPath(for: path)
        do {
            try scratch.notePartialFile(partial)
            let file = ExportFile(try FileDisk.create(path: partial, byteCount: 0))
            try await writeExport(id, content, stored, wanted, into: file, progress ?? { _ in })
            try file.disk.synchronize()
            guard rename(partial, path) == 0 else {
                throw ImagesKitError.io("can't move the export into place at \(path)", call: "rename", errno: errno)
            }
            Self.synchronizeFolder(containing: path)
        } catch {
            unlink(partial)
            throw Self.exportFailure(error, path: path)
        }
    }

    /// Streams the stored bytes into the file, as they are or compressed again, checking them.
    private func writeExport(
        _ id: ImageID, _ content: ImageContent, _ stored: any Compressor, _ wanted: any Compressor,
        into file: ExportFile, _ progress: ProgressHandler
    ) async throws {
        let check = try ContentCheck(content, stored)
        let encoder =
            wanted.format == stored.format ? nil : try wanted.makeEncoder(level: configuration.compressionLevel)
        if let encoder { check.onOutput = { try encoder.encode($0) { try file.append($0) } } }

        try await streamContent(id, content) { bytes, offset in
            if encoder == nil { try bytes.withUnsafeBytes { try file.append($0) } }
            try check.take(bytes)
            let done = offset + UInt64(bytes.count)
            progress(
                OperationProgress(phase: .exporting, completedBytes: done, totalBytes: content.compressedByteCount))
        }
        try check.finish()
        try encoder?.finish { try file.append($0) }
    }
}

/// A file written from its start, piece after piece.
final class ExportFile {
    let disk: FileDisk
    private var offset: UInt64 = 0

    init(_ disk: FileDisk) {
        self.disk = disk
    }

    func append(_ bytes: UnsafeRawBufferPointer) throws {
        try disk.write(bytes, at: offset)
        offset += UInt64(bytes.count)
    }
}
