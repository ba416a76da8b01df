/// Decodes stored content and checks it against its recorded size and SHA-256.
///
/// The SHA-256 of the decoded image is taken unless the caller checks the stored bytes against
/// their own sealed SHA-256 as they stream (``ImageService/streamContent(_:_:_:)`` does): bytes
/// that match it are the bytes whose decoding was checked when the image was committed, and the
/// decoder still checks the stream's CRC-32 and size. Skipping the second hash spares a pass
/// over every uncompressed byte, zeros included.
final class ContentCheck {
    private let content: ImageContent
    private let decoder: any CompressionDecoder
    private let digest: SHA256Digest?
    var onOutput: ((UnsafeRawBufferPointer) throws -> Void)?

    /// Prepares the check.
    ///
    /// - Parameters:
    ///   - content: The facts to check against.
    ///   - compressor: The content's codec.
    ///   - storedBytesChecked: Whether the caller checks the stored bytes against sealed facts, so
    ///     the decoded image's SHA-256 need not be taken.
    init(_ content: ImageContent, _ compressor: any Compressor, storedBytesChecked: Bool = false) throws {
        self.content = content
        self.decoder = try compressor.makeDecoder(
            outputLimit: content.uncompressedByteCount, chunkIndex: content.chunkIndex)
        let sealed = content.seal != nil && content.storedSHA256 != nil
        digest = storedBytesChecked && sealed ? nil : SHA256Digest()
    }

    var outputByteCount: UInt64 { decoder.outputByteCount }

    func take(_ bytes: [UInt8]) throws {
        do {
            try bytes.withUnsafeBytes { input in
                try decoder.decode(input) { output in
                    digest?.update(output)
                    do {
                        try onOutput?(output)
                    } catch {
                        throw OutputFailure(error: error)
                    }
                }
            }
        } catch let failure as OutputFailure {
            // Writing the decoded bytes failed (a full disk, say): the stored image is not at fault.
            throw failure.error
        } catch let error as ImagesKitError {
            throw damaged(error)
        }
    }

    func finish() throws {
        do {
            try decoder.finish()
        } catch let error as ImagesKitError {
            throw damaged(error)
        }
        let actual = digest?.finalize() ?? content.sha256
        guard actual == content.sha256, decoder.outputByteCount == content.uncompressedByteCount else {
            throw ImagesKitError(
                .digestMismatch,
                "the stored image does not match its SHA-256 (expected \(content.sha256), read \(actual)); "
                    + "its data was damaged in the store: restore it from a backup or delete it",
                context: ["expected": content.sha256, "actual": actual])
        }
    }

    private func damaged(_ error: ImagesKitError) -> ImagesKitError {
        ImagesKitError(
            .digestMismatch,
            "the stored image can't be read back (\(error.message)); its data was damaged in the store: "
                + "restore it from a backup or delete it",
            cause: error)
    }
}

/// An error of the code that takes decoded bytes, kept apart from the decoder's own errors.
private struct OutputFailure: Error {
    let error: any Error
}
