import Foundation

extension ImageService {
    /// Sets the complete set of regions an image is kept in.
    ///
    /// Regions new to the image show `pending replication`, then `replicating`, then
    /// `available` as their copies are made; regions left out show `pending deletion` until
    /// their copies are removed. New copies are made before old ones are removed, so the image
    /// is never without an available copy. When a copy fails, the image goes back to the
    /// regions it had. Each extra copy of a manual image counts toward the account's storage
    /// quota and is billed like the first.
    /// - Parameters:
    ///   - id: The available image.
    ///   - regions: Every region the image should be in; at least one must already hold an
    ///     available copy.
    ///   - progress: Receives the bytes copied to each new region.
    /// - Returns: The image with its new regions.
    /// - Throws: ``ImagesKitError`` with `invalid_argument` (empty set, malformed region, no
    ///   available copy in the set), `invalid_state`, `quota_exceeded`, `image_not_found`,
    ///   `not_modifiable`, `conflict`, `cancelled`, or the replication's error.
    @discardableResult
    public func replicate(
        _ id: ImageID, to regions: [String], progress: ProgressHandler? = nil
    ) async throws -> Image {
        let wanted = try validatedRegions(regions)
        return try await exclusively(id) {
            let record = try await replicableImage(id, into: wanted)
            let plan = ReplicationPlan(record.image.regions, wanted: wanted)
            guard !plan.isEmpty else { return record.image }
            // Only new regions need a place for copies; those already holding one are served.
            for region in plan.added { try replication.checkServes(region) }

            let marked = try await markRegions(record, plan)
            await recordEvent(.imageUpdate, id, .started, plan.summary)
            let copied = try await copyRegions(marked, plan, progress ?? { _ in })
            let finished = try await removeRegions(copied, plan)
            await recordEvent(.imageUpdate, id, .finished, plan.summary)
            return finished.image
        }
    }

    /// The most regions one image may be kept in.
    static let mostRegions = 100

    /// Checks the asked-for set and returns it without repeats, in the order given.
    private func validatedRegions(_ regions: [String]) throws -> [String] {
        guard !regions.isEmpty else {
            throw ImagesKitError(
                .invalidArgument, "regions may not be empty; to remove every copy, delete the image",
                context: ["field": "regions"])
        }
        var seen = Set<String>()
        let unique = regions.filter { seen.insert($0).inserted }
        guard unique.count <= Self.mostRegions else {
            throw ImagesKitError(
                .invalidArgument,
                "an image may be in at most \(Self.mostRegions) regions; \(unique.count) were asked for",
                context: ["field": "regions"])
        }
        for region in unique { try Self.validateRegion(region) }
        return unique
    }

    /// Reads the image and checks it can go to `wanted`: available, with an available copy in
    /// the set.
    private func replicableImage(_ id: ImageID, into wanted: [String]) async throws -> StoredImage {
        let record = try await storedImage(id)
        guard record.image.status == .available, record.content != nil else {
            throw ImagesKitError(
                .invalidState,
                "\(id) is \(record.image.status.rawValue); only available images can be replicated: "
                    + "wait until its capture or upload has finished, then replicate it")
        }
        let available = record.image.regions.filter { $0.status == .available }.map(\.region)
        guard wanted.contains(where: available.contains) else {
            throw ImagesKitError(
                .invalidArgument,
                "none of \(wanted.joined(separator: ", ")) holds an available copy of \(id); include one of "
                    + "\(available.joined(separator: ", ")) so the new copies have a source",
                context: ["field": "regions"])
        }
        return record
    }

    /// Saves the record with new regions `pending replication` and dropped ones
    /// `pending deletion`, once the storage quota allows the new copies.
    private func markRegions(_ record: StoredImage, _ plan: ReplicationPlan) async throws -> StoredImage {
        var marked = record
        marked.image.regions = plan.markedRegions(record.image.regions)
        marked.image.updated = now()
        guard record.image.type == .manual, let content = record.content, !plan.added.isEmpty else {
            try await store.save(marked)
            return marked
        }
        try await withAdmission {
            let usage = try await manualUsage(excluding: record.image.id)
            let copies = marked.image.regions.count { $0.status != .pendingDeletion }
            let held = content.uncompressedByteCount * UInt64(copies)
            try checkStorage(usage, adding: held, for: "\(record.image.id) in \(copies) regions")
            try await store.save(marked)
        }
        return marked
    }

    /// Makes the copy of each new region; on failure puts the image back as it was.
    private func copyRegions(
        _ marked: StoredImage, _ plan: ReplicationPlan, _ progress: ProgressHandler
    ) async throws -> StoredImage {
        var record = marked
        do {
            for region in plan.added {
                try Task.checkCancellation()
                try await setRegion(region, to: .replicating, in: &record)
                try await replication.copy(record, from: store, to: region, progress: progress)
                try await setRegion(region, to: .available, in: &record)
                await reportUsage(.started, record, region: region)
            }
            return record
        } catch {
            throw await undoReplication(record, plan, error)
        }
    }

    /// Removes the copies of the dropped regions and the regions from the record.
    private func removeRegions(_ copied: StoredImage, _ plan: ReplicationPlan) async throws -> StoredImage {
        var record = copied
        for region in plan.dropped {
            await reportUsage(.ended, record, region: region)
            try await replication.remove(record.image.id, from: region)
            record.image.regions.removeAll { $0.region == region }
            record.image.updated = now()
            try await store.save(record)
        }
        return record
    }

    private func setRegion(_ region: String, to status: RegionStatus, in record: inout StoredImage) async throws {
        guard let index = record.image.regions.firstIndex(where: { $0.region == region }) else { return }
        record.image.regions[index].status = status
        record.image.updated = now()
        try await store.save(record)
    }

    /// Removes the copies made so far, gives back the dropped regions, and records the failure.
    private func undoReplication(
        _ record: StoredImage, _ plan: ReplicationPlan, _ error: any Error
    ) async -> any Error {
        var restored = record
        for region in plan.added {
            if restored.image.regions.contains(ImageRegion(region: region, status: .available)) {
                await reportUsage(.ended, restored, region: region)
            }
            do {
                try await replication.remove(record.image.id, from: region)
            } catch {
                logger.warning("could not remove a failed copy", ["image": "\(record.image.id)", "region": region])
            }
        }
        restored.image.regions = plan.original
        restored.image.updated = now()
        do {
            try await store.save(restored)
        } catch {
            logger.warning("could not restore regions", ["image": "\(record.image.id)", "error": "\(error)"])
        }
        let failure = Self.publicError(error)
        await recordEvent(.imageUpdate, record.image.id, .failed, failure.message)
        return failure
    }
}

/// Which regions a replication adds and drops.
struct ReplicationPlan {
    /// The regions before the replication.
    let original: [ImageRegion]
    /// Regions to copy to, in the order asked.
    let added: [String]
    /// Regions whose copies go.
    let dropped: [String]

    init(_ original: [ImageRegion], wanted: [String]) {
        self.original = original
        let current = Set(original.map(\.region))
        added = wanted.filter { !current.contains($0) }
        dropped = original.map(\.region).filter { !wanted.contains($0) }
    }

    /// Whether the image is already in exactly the asked-for regions.
    var isEmpty: Bool { added.isEmpty && dropped.isEmpty }

    /// The regions as the replication starts: kept ones as they are, added ones pending
    /// replication, dropped ones pending deletion.
    func markedRegions(_ regions: [ImageRegion]) -> [ImageRegion] {
        regions.map { dropped.contains($0.region) ? ImageRegion(region: $0.region, status: .pendingDeletion) : $0 }
            + added.map { ImageRegion(region: $0, status: .pendingReplication) }
    }

    /// A few words for the events: what is added and dropped.
    var summary: String {
        var parts: [String] = []
        if !added.isEmpty { parts.append("replicating to \(Self.list(added))") }
        if !dropped.isEmpty { parts.append("removing from \(Self.list(dropped))") }
        return parts.joined(separator: "; ")
    }

    /// Up to ten regions by name, then how many more.
    private static func list(_ regions: [String]) -> String {
        let named = regions.prefix(10).joined(separator: ", ")
        return regions.count > 10 ? "\(named) and \(regions.count - 10) more" : named
    }
}
