import Foundation

/// Places and removes the copies of images in regions; the application maps regions to stores.
///
/// The service's own store keeps every image's record and first copy for as long as the image
/// exists. A replication adds the copies of the other regions an image is replicated to, and
/// removes them when the image leaves those regions or is deleted.
public protocol RegionReplication: Sendable {
    /// Refuses a region this replication can't place copies in.
    ///
    /// - Throws: ``ImagesKitError`` with `invalid_argument`, naming the regions it serves.
    func checkServes(_ region: String) throws

    /// Copies an image's content into `region`, completely or not at all.
    ///
    /// - Parameters:
    ///   - record: The image's record, with its content's facts and stored SHA-256.
    ///   - source: The store holding the content.
    ///   - region: The region to copy to.
    ///   - progress: Receives the compressed bytes copied so far.
    /// - Throws: ``ImagesKitError``; nothing is left in `region` after a failure.
    func copy(
        _ record: StoredImage, from source: any ImageStore, to region: String, progress: ProgressHandler
    ) async throws

    /// Removes an image's copy from `region`; removing what is absent does nothing.
    ///
    /// - Throws: ``ImagesKitError`` with `store_failure`.
    func remove(_ id: ImageID, from region: String) async throws
}

/// One store serves every region: replication only records where copies are, and moves no bytes.
public struct SharedStoreReplication: RegionReplication {
    /// Creates the replication of a store that serves every region.
    public init() {}

    /// Accepts every region.
    public func checkServes(_ region: String) throws {}

    /// Nothing to copy: the store already serves `region`.
    public func copy(
        _ record: StoredImage, from source: any ImageStore, to region: String, progress: ProgressHandler
    ) async throws {}

    /// Nothing to remove: the copy is the store's own.
    public func remove(_ id: ImageID, from region: String) async throws {}
}

/// Each listed region has a store of its own that copies are streamed into and checked.
///
/// Regions not listed are served by the service's own store, so copying to them moves no bytes.
public struct StorePerRegionReplication: RegionReplication {
    /// The store of each region that has its own.
    public let stores: [String: any ImageStore]
    /// Whether regions without a store of their own are refused rather than served by the
    /// service's store.
    public let servesOnlyListedRegions: Bool
    /// The size of the pieces copied, in bytes.
    public let chunkSize: Int

    /// Creates a replication over per-region stores.
    ///
    /// - Parameters:
    ///   - stores: The store of each region that has its own.
    ///   - servesOnlyListedRegions: Refuse regions not in `stores` (and not the service's own).
    ///   - chunkSize: The size of the pieces copied.
    public init(stores: [String: any ImageStore], servesOnlyListedRegions: Bool = false, chunkSize: Int = 1 << 20) {
        self.stores = stores
        self.servesOnlyListedRegions = servesOnlyListedRegions
        self.chunkSize = chunkSize
    }

    /// Refuses an unlisted region when only listed regions are served.
    public func checkServes(_ region: String) throws {
        guard servesOnlyListedRegions, stores[region] == nil else { return }
        let known = stores.keys.sorted().joined(separator: ", ")
        throw ImagesKitError(
            .invalidArgument, "region \(region) has no image store; choose one of \(known)",
            context: ["field": "region"])
    }

    /// Streams the content into the region's store, checks its SHA-256, then commits it.
    public func copy(
        _ record: StoredImage, from source: any ImageStore, to region: String, progress: ProgressHandler
    ) async throws {
        guard let target = stores[region], let content = record.content else { return }
        let reader = try await source.openContent(for: record.image.id, at: 0)
        let writer = DigestingContentWriter(try await target.beginContent(for: record.image.id))
        do {
            try await pump(reader, into: writer, progress)
            try Self.checkCopy(writer, of: content, id: record.image.id, region: region)
            var replica = record
            replica.homeRegion = region
            try await writer.commit(replica)
            await reader.close()
        } catch {
            await writer.abort()
            await reader.close()
            throw error
        }
    }

    /// Removes the image from the region's store.
    public func remove(_ id: ImageID, from region: String) async throws {
        try await stores[region]?.remove(id)
    }

    private func pump(
        _ reader: any ImageContentReader, into writer: DigestingContentWriter, _ progress: ProgressHandler
    ) async throws {
        while true {
            try Task.checkCancellation()
            let bytes = try await reader.read(maxLength: chunkSize)
            if bytes.isEmpty { return }
            try await writer.write(bytes)
            progress(OperationProgress(phase: .replicating, completedBytes: writer.byteCount, totalBytes: nil))
        }
    }

    private static func checkCopy(
        _ writer: DigestingContentWriter, of content: ImageContent, id: ImageID, region: String
    ) throws {
        let sameSize = writer.byteCount == content.compressedByteCount
        guard sameSize, content.storedSHA256.map({ $0 == writer.storedSHA256 }) ?? true else {
            throw ImagesKitError(
                .digestMismatch,
                "the copy of \(id) for \(region) does not match the stored image; nothing was kept in "
                    + "\(region). Export the image to check it, then replicate again")
        }
    }
}
