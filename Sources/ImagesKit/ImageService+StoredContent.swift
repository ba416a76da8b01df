import Foundation

extension ImageService {
    /// Streams an image's stored bytes to `body`, checking them against the record on the way:
    /// their count before the first byte, their count and SHA-256 after the last. A content
    /// file that was cut short, grown or changed in the store fails before the caller
    /// publishes anything it wrote.
    func streamContent(
        _ id: ImageID, _ content: ImageContent, _ body: ([UInt8], UInt64) throws -> Void
    ) async throws {
        let reader = try await store.openContent(for: id, at: 0)
        do {
            try Self.checkStoredCount(reader.byteCount, content, id)
            let digest = SHA256Digest()
            var offset: UInt64 = 0
            while true {
                try Task.checkCancellation()
                let bytes = try await reader.read(maxLength: configuration.chunkSize)
                if bytes.isEmpty { break }
                bytes.withUnsafeBytes { digest.update($0) }
                try body(bytes, offset)
                offset += UInt64(bytes.count)
            }
            try Self.checkStoredCount(offset, content, id)
            try Self.checkStoredDigest(digest.finalize(), content, id)
            await reader.close()
        } catch {
            await reader.close()
            throw error
        }
    }

    /// Checks, without writing anything, that the image will read back whole: a deploy onto an
    /// existing disk runs this before erasing the disk, so neither damaged content nor an
    /// edited record costs the disk its old content.
    ///
    /// Sealed facts (checked when the record was read) vouch for the record, so hashing the
    /// stored bytes is enough; a record without a seal, or without the stored bytes' SHA-256,
    /// has its whole image decoded and checked against every fact.
    func verifyStoredImage(_ id: ImageID, _ content: ImageContent, disk: String) async throws {
        do {
            if content.seal != nil, content.storedSHA256 != nil {
                try await streamContent(id, content) { _, _ in }
                return
            }
            let check = try ContentCheck(content, try codec(for: content.format))
            try await streamContent(id, content) { bytes, _ in try check.take(bytes) }
            try check.finish()
        } catch let error as ImagesKitError where error.code == .digestMismatch {
            throw ImagesKitError(
                .digestMismatch, "\(error.message); the disk \(disk) was not touched", cause: error.cause,
                context: error.context.merging(["image": "\(id)", "disk": disk]) { first, _ in first })
        }
    }

    /// Refuses a record that disagrees with itself or with the id it was read under.
    static func checkConsistent(_ record: StoredImage, _ id: ImageID) throws {
        if let reason = record.inconsistency(as: id) { throw ImagesKitError.damagedRecord(id, reason) }
    }

    private static func checkStoredCount(_ count: UInt64, _ content: ImageContent, _ id: ImageID) throws {
        guard count != content.compressedByteCount else { return }
        throw ImagesKitError(
            .digestMismatch,
            "the stored image \(id) was damaged in the store (its file holds \(count) bytes, its record "
                + "says \(content.compressedByteCount)); restore it from a backup or delete it",
            context: ["image": "\(id)", "expected": "\(content.compressedByteCount)", "actual": "\(count)"])
    }

    private static func checkStoredDigest(_ actual: String, _ content: ImageContent, _ id: ImageID) throws {
        guard let expected = content.storedSHA256, actual != expected else { return }
        throw ImagesKitError(
            .digestMismatch,
            "the stored image \(id) was damaged in the store (its bytes no longer match their SHA-256); "
                + "restore it from a backup or delete it",
            context: ["image": "\(id)", "expected": expected, "actual": actual])
    }
}

extension ImagesKitError {
    /// A record that disagrees with itself or with its place in the store.
    static func damagedRecord(_ id: ImageID, _ reason: String) -> ImagesKitError {
        ImagesKitError(
            .storeFailure,
            "the record of \(id) in the store is damaged (\(reason)); nothing was read or written: "
                + "restore the record from a backup or remove the image's files from the store",
            context: ["image": "\(id)"])
    }

    /// A record found under one id that holds another's.
    static func damagedRecord(_ id: ImageID, holding other: ImageID) -> ImagesKitError {
        damagedRecord(id, "it holds the record of \(other)")
    }
}
