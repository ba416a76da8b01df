/// Decodes stored content and checks it against its recorded size and SHA-256.
final class ContentCheck {
    private let content: ImageContent
    private let decoder: any CompressionDecoder
    private let digest = SHA256Digest()
    var onOutput: ((UnsafeRawBufferPointer) throws -> Void)?

    init(_ content: ImageContent, _ compressor: any Compressor) throws {
        self.content = content
        self.decoder = try compressor.makeDecoder(outputLimit: content.uncompressedByteCount)
    }

    var outputByteCount: UInt64 { decoder.outputByteCount }

    func take(_ bytes: [UInt8]) throws {
        do {
            try bytes.withUnsafeBytes { input in
                try decoder.decode(input) { output in
                    digest.update(output)
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
        let actual = digest.finalize()
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
