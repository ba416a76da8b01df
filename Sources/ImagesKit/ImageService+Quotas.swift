import Foundation

/// What an account's manual images hold, as its quotas count it.
struct AccountUsage: Hashable, Sendable {
    /// Manual images, whatever their status.
    var imageCount = 0
    /// Uncompressed bytes, each regional copy counted, with what running captures claimed.
    var byteCount: UInt64 = 0
}

extension ImageService {
    /// Counts the account's manual images other than `id`; recovery images are free of quotas.
    func manualUsage(excluding id: ImageID? = nil) async throws -> AccountUsage {
        var usage = AccountUsage()
        for record in try await store.records() where record.image.type == .manual && record.image.id != id {
            usage.imageCount += 1
            let (total, overflow) = usage.byteCount.addingReportingOverflow(Self.heldBytes(record))
            usage.byteCount = overflow ? .max : total
        }
        return usage
    }

    /// The bytes an image holds: its size in every region with or getting a copy, or, while it
    /// is being made, what its capture claimed.
    static func heldBytes(_ record: StoredImage) -> UInt64 {
        guard let content = record.content else { return record.claimedByteCount ?? 0 }
        let copies = record.image.regions.count { $0.status != .pendingDeletion }
        // A damaged record's count can't wrap around to a small number that passes the quota.
        let (bytes, overflow) = content.uncompressedByteCount.multipliedReportingOverflow(by: UInt64(max(copies, 1)))
        return overflow ? .max : bytes
    }

    /// Refuses a new manual image when the account already has as many as it may.
    func checkImageCount(_ usage: AccountUsage) throws {
        let limit = configuration.limits.manualImageCount
        guard usage.imageCount >= limit else { return }
        throw ImagesKitError(
            .quotaExceeded,
            "the account already has \(usage.imageCount) manual images and its quota allows \(limit); "
                + "delete an image or ask for a higher quota",
            context: ["images": String(usage.imageCount), "limit": String(limit)])
    }

    /// Refuses `addedBytes` more when they would take the account past its storage quota.
    func checkStorage(_ usage: AccountUsage, adding addedBytes: UInt64, for what: String) throws {
        let limit = configuration.limits.manualImageBytes
        let (total, overflow) = usage.byteCount.addingReportingOverflow(addedBytes)
        guard overflow || total > limit else { return }
        throw ImagesKitError(
            .quotaExceeded,
            "\(what) (\(addedBytes) bytes) would bring the account's manual images to \(total) bytes, "
                + "over its \(limit)-byte quota; delete images or ask for a higher quota",
            context: ["bytes": String(total), "limit": String(limit)])
    }

    /// Saves a new image's first record once the quotas allow it; recovery images always pass.
    ///
    /// A manual capture claims `claimedBytes` (its disk's used data) in its record until it
    /// commits, so that other processes sharing the store count them too.
    func admit(_ record: StoredImage, claiming claimedBytes: UInt64) async throws {
        guard record.image.type == .manual else { return try await store.save(record) }
        try await withAdmission {
            let usage = try await manualUsage(excluding: record.image.id)
            try checkImageCount(usage)
            if claimedBytes > 0 {
                try checkStorage(usage, adding: claimedBytes, for: "the disk's used data")
            } else {
                try checkRoomLeft(usage)
            }
            var claiming = record
            claiming.claimedByteCount = claimedBytes > 0 ? claimedBytes : nil
            try await store.save(claiming)
        }
    }

    /// Refuses an upload when the account's manual images already fill its storage quota.
    private func checkRoomLeft(_ usage: AccountUsage) throws {
        let limit = configuration.limits.manualImageBytes
        guard usage.byteCount >= limit else { return }
        throw ImagesKitError(
            .quotaExceeded,
            "the account's manual images already hold \(usage.byteCount) bytes, all of its \(limit)-byte "
                + "quota; delete images or ask for a higher quota",
            context: ["bytes": String(usage.byteCount), "limit": String(limit)])
    }

    /// Commits a finished image's content, checking once more that a manual image fits the
    /// storage quota now that its size is known.
    func commitAdmitted(_ writer: any ImageContentWriter, _ finished: StoredImage) async throws {
        guard finished.image.type == .manual, let content = finished.content else {
            return try await writer.commit(finished)
        }
        try await withAdmission {
            let usage = try await manualUsage(excluding: finished.image.id)
            try checkStorage(usage, adding: content.uncompressedByteCount, for: "the image")
            try await writer.commit(finished)
        }
    }

    /// Runs a quota check and the save it allows while no other task of this service, and no
    /// other process sharing the store, checks or saves against the same quotas.
    func withAdmission<Result>(_ body: () async throws -> Result) async throws -> Result {
        try await admission.withLock {
            try await holding(try await store.holdAdmission(), body)
        }
    }

    /// The bytes an upload may still bring in before the account's storage quota is full.
    func uploadBudget(for id: ImageID) async throws -> UInt64 {
        let usage = try await manualUsage(excluding: id)
        let limit = configuration.limits.manualImageBytes
        return limit > usage.byteCount ? limit - usage.byteCount : 0
    }
}
