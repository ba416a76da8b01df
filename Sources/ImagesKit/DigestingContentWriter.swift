/// Passes content on to a store's writer while taking the SHA-256 of the stored bytes.
final class DigestingContentWriter: ImageContentWriter {
    private let writer: any ImageContentWriter
    private let digest = SHA256Digest()
    private var finalDigest: String?

    init(_ writer: any ImageContentWriter) {
        self.writer = writer
    }

    var byteCount: UInt64 { writer.byteCount }

    /// The SHA-256 of everything written; ends the digest, so it is read once all is written.
    var storedSHA256: String {
        if let finalDigest { return finalDigest }
        let value = digest.finalize()
        finalDigest = value
        return value
    }

    func write(_ bytes: [UInt8]) async throws {
        bytes.withUnsafeBytes { digest.update($0) }
        try await writer.write(bytes)
    }

    func commit(_ record: StoredImage) async throws {
        try await writer.commit(record)
    }

    func abort() async {
        await writer.abort()
    }
}
