/// Checks an upload as it streams: format, limits, every member, padding; counts and digests.
final class UploadValidator {
    private let compressor: any Compressor
    private let limits: ImageLimits
    private let quotaBytes: UInt64
    private let decoder: any CompressionDecoder
    private let digest = SHA256Digest()
    private var head: [UInt8] = []
    private var formatChecked = false
    private var contentPrefix: [UInt8] = []
    private var storedBytes: UInt64 = 0
    private(set) var receivedBytes: UInt64 = 0

    /// Enough of the stream for the probe to name what it holds, up to the btrfs superblock.
    private static let prefixLength = DiskProbe.prefixByteCount

    /// Makes a validator.
    ///
    /// - Parameters:
    ///   - limits: The per-image and per-upload limits.
    ///   - quotaBytes: What the account's storage quota leaves room for.
    init(compressor: any Compressor, limits: ImageLimits, quotaBytes: UInt64 = .max) throws {
        self.compressor = compressor
        self.limits = limits
        self.quotaBytes = quotaBytes
        self.decoder = try compressor.makeDecoder(outputLimit: min(limits.imageBytes, quotaBytes))
    }

    /// Validates the next piece and returns the part of it to store (padding is left out).
    func take(_ chunk: [UInt8]) throws -> [UInt8] {
        receivedBytes += UInt64(chunk.count)
        guard receivedBytes <= limits.uploadBytes else {
            throw ImagesKitError(
                .uploadTooLarge,
                "the upload is over the \(limits.uploadBytes)-byte limit for one compressed file; "
                    + "upload a smaller image or ask for a higher limit",
                context: ["limit": String(limits.uploadBytes)])
        }
        guard try checkFormat(chunk) else { return [] }
        do {
            try chunk.withUnsafeBytes { input in
                try decoder.decode(input) { output in
                    digest.update(output)
                    keepContentPrefix(output)
                }
            }
        } catch let error as ImagesKitError where error.code == .imageTooLarge && quotaBytes < limits.imageBytes {
            throw quotaError(cause: error)
        }
        return accepted(chunk)
    }

    /// The error for an upload that outgrew what the account's storage quota leaves.
    private func quotaError(cause: ImagesKitError) -> ImagesKitError {
        ImagesKitError(
            .quotaExceeded,
            "the upload decompresses to more than the \(quotaBytes) bytes the account's storage quota "
                + "leaves free; delete images or ask for a higher quota",
            cause: cause, context: ["limit": String(quotaBytes)])
    }

    /// Ends the upload; returns the facts of the content.
    func finish() throws -> ImageContent {
        if !formatChecked && head.count >= compressor.format.magic.count { throw notInFormat() }
        try decoder.finish()
        guard decoder.outputByteCount > 0 else {
            throw ImagesKitError(
                .emptyInput, "the upload decompresses to no data at all; send a raw disk image compressed with gzip")
        }
        let content = DiskProbe.identify(prefix: contentPrefix)
        return ImageContent(
            format: compressor.format.name, sha256: digest.finalize(), uncompressedByteCount: decoder.outputByteCount,
            compressedByteCount: decoder.streamByteCount, filesystem: content.summary,
            isExtFilesystem: content.isCapturableExt)
    }

    /// Checks the upload starts with the format's magic. Returns false while it is known not to
    /// and more of it is kept, so the error can name what it holds from a full prefix.
    private func checkFormat(_ chunk: [UInt8]) throws -> Bool {
        guard !formatChecked else { return true }
        head.append(contentsOf: chunk.prefix(Self.prefixLength - head.count))
        guard head.count >= compressor.format.magic.count else { return true }
        guard !compressor.format.matches(head) else {
            formatChecked = true
            head = []
            return true
        }
        guard head.count >= Self.prefixLength else { return false }
        throw notInFormat()
    }

    private func notInFormat() -> ImagesKitError {
        let found = DiskProbe.describe(prefix: head)
        let format = compressor.format
        return ImagesKitError(
            .unsupportedFormat,
            "the upload holds \(found), not \(format.name) data; "
                + "upload a raw disk image compressed with \(format.name) (\(format.fileExtension))")
    }

    private func keepContentPrefix(_ output: UnsafeRawBufferPointer) {
        guard contentPrefix.count < Self.prefixLength else { return }
        contentPrefix.append(contentsOf: output.prefix(Self.prefixLength - contentPrefix.count))
    }

    private func accepted(_ chunk: [UInt8]) -> [UInt8] {
        let end = decoder.streamByteCount
        let startOfChunk = receivedBytes - UInt64(chunk.count)
        guard end > storedBytes else { return [] }
        let count = Int(min(end, receivedBytes) - startOfChunk)
        storedBytes = startOfChunk + UInt64(count)
        return count == chunk.count ? chunk : Array(chunk[..<count])
    }
}
