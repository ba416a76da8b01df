import Foundation

extension ImageService {
    /// Puts right the regions of an image whose replication a crash cut off, unless an
    /// operation still holds it.
    ///
    /// While new copies were still being made (a region `pending replication` or
    /// `replicating`), the unfinished copies are removed and the regions being dropped are
    /// available again, as after a failed copy; copies that had finished are kept. Once every
    /// new copy was made, the dropped regions' copies are removed, as the replication would
    /// have done. Either way the image ends with only `available` regions and a failed
    /// `image_update` event saying what happened.
    /// - Returns: Whether the image was put right.
    @discardableResult
    func repairInterruptedReplication(_ id: ImageID) async throws -> Bool {
        do {
            return try await exclusively(id) {
                guard let record = try await store.record(id), Self.isMidReplication(record) else { return false }
                let repaired = try await settleRegions(record)
                await recordEvent(
                    .imageUpdate, id, .failed,
                    "the replication was interrupted; the image is in \(Self.regionList(repaired)): replicate again")
                logger.warning("repaired an interrupted replication", ["image": "\(id)"])
                return true
            }
        } catch let error as ImagesKitError where error.code == .conflict {
            return false
        }
    }

    /// Whether an available image has a region that is not available.
    static func isMidReplication(_ record: StoredImage) -> Bool {
        record.image.status == .available && record.image.regions.contains { $0.status != .available }
    }

    /// Removes unfinished copies, then gives back or finishes removing the dropped regions.
    private func settleRegions(_ record: StoredImage) async throws -> StoredImage {
        var repaired = record
        let unfinished = record.image.regions.filter { $0.status != .available && $0.status != .pendingDeletion }
        for region in unfinished {
            try await replication.remove(record.image.id, from: region.region)
        }
        repaired.image.regions.removeAll { unfinished.contains($0) }
        if unfinished.isEmpty {
            try await removeDroppedRegions(&repaired)
        } else {
            repaired.image.regions = repaired.image.regions.map { ImageRegion(region: $0.region, status: .available) }
        }
        repaired.image.updated = now()
        try await store.save(repaired)
        // Billing ignores a start of a copy it already counts, so one the crash cut off is told again.
        await reportUsage(.started, repaired)
        return repaired
    }

    /// Removes the copies of regions `pending deletion` and ends their billing.
    private func removeDroppedRegions(_ record: inout StoredImage) async throws {
        for region in record.image.regions where region.status == .pendingDeletion {
            try await replication.remove(record.image.id, from: region.region)
            // Billing ignores the end of a copy it no longer counts, so telling it twice is safe.
            await reportUsage(.ended, record, region: region.region)
        }
        record.image.regions.removeAll { $0.status == .pendingDeletion }
    }

    private static func regionList(_ record: StoredImage) -> String {
        record.image.regions.map(\.region).joined(separator: ", ")
    }
}
