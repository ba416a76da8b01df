import Foundation

/// What one expiry sweep removed.
public struct ExpirySweep: Hashable, Sendable {
    /// The recovery images whose expiry had come, as they were just before removal.
    public var expiredRecoveryImages: [Image]
    /// The `pending_upload` images whose upload window had closed without a file.
    public var closedUploads: [Image]

    /// Creates a sweep's result.
    public init(expiredRecoveryImages: [Image] = [], closedUploads: [Image] = []) {
        self.expiredRecoveryImages = expiredRecoveryImages
        self.closedUploads = closedUploads
    }

    /// Every image removed, in id order.
    public var removed: [Image] {
        (expiredRecoveryImages + closedUploads).sorted { $0.id < $1.id }
    }
}

extension ImageService {
    /// Removes recovery images whose expiry has come and `pending_upload` images whose upload
    /// window has closed without a file.
    ///
    /// The application runs this on a schedule. It is idempotent, and sweeps running at once (or
    /// alongside other operations) never remove an image twice: an image another operation is
    /// working on is left for the next sweep. Each removal records an `image_expire` event; a
    /// closed upload also records a failed `image_upload` event saying "upload window expired".
    /// Captures a crash interrupted are removed too (see ``recoverInterruptedWork()``).
    /// - Returns: What was removed.
    /// - Throws: ``ImagesKitError`` with `store_failure`; images removed before it stay removed.
    @discardableResult
    public func expire() async throws -> ExpirySweep {
        try await recoverInterruptedWork()
        let time = now()
        var sweep = ExpirySweep()
        for record in try await store.records() where Self.isDue(record, at: time) {
            guard let removed = try await expireIfStillDue(record.image.id, at: time) else { continue }
            if removed.type == .automatic {
                sweep.expiredRecoveryImages.append(removed)
            } else {
                sweep.closedUploads.append(removed)
            }
        }
        return sweep
    }

    /// Whether the record's time has come: a recovery image at its expiry, an upload at its
    /// deadline.
    static func isDue(_ record: StoredImage, at time: Date) -> Bool {
        switch record.image.status {
        case .pendingUpload:
            record.uploadDeadline.map { time >= $0 } ?? false
        case .available:
            record.image.type == .automatic && (record.image.expiry.map { time >= $0 } ?? false)
        case .creating:
            false
        }
    }

    /// Removes the image if, read again under its claim, it is still due; skips an image that
    /// another operation holds.
    private func expireIfStillDue(_ id: ImageID, at time: Date) async throws -> Image? {
        do {
            return try await exclusively(id) {
                guard let record = try await store.record(id), Self.isDue(record, at: time) else { return nil }
                if record.image.status == .pendingUpload {
                    try await expireUploadWindow(record)
                } else {
                    try await removeEverywhere(record)
                    await recordEvent(.imageExpire, id, .finished, "recovery image expired")
                }
                logger.info("image expired", ["image": "\(id)"])
                return record.image
            }
        } catch let error as ImagesKitError where error.code == .conflict {
            return nil
        }
    }

    /// Deletes a `pending_upload` image whose window closed, with its failed upload event.
    func expireUploadWindow(_ record: StoredImage) async throws {
        try await store.remove(record.image.id)
        await recordEvent(.imageUpload, record.image.id, .failed, "upload window expired")
        await recordEvent(.imageExpire, record.image.id, .finished, "upload window expired")
    }
}
