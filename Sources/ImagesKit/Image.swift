import Foundation

/// Where an image is in its life: being captured, waiting for its file, or ready to deploy.
public enum ImageStatus: String, Sendable, Codable, CaseIterable {
    /// A capture is running.
    case creating
    /// The image waits for its `.img.gz` file.
    case pendingUpload = "pending_upload"
    /// The image can be deployed.
    case available
}

/// How an image came to be.
public enum ImageType: String, Sendable, Codable, CaseIterable {
    /// Captured or uploaded by a user.
    case manual
    /// A recovery image made when a server was deleted.
    case automatic
}

/// The state of an image's copy in one region.
public enum RegionStatus: String, Sendable, Codable, CaseIterable {
    /// The copy is complete.
    case available
    /// The copy is being made by a capture or upload.
    case creating
    /// The copy is queued.
    case pending
    /// The region was asked for and waits for replication to start.
    case pendingReplication = "pending replication"
    /// The copy is being replicated from another region.
    case replicating
    /// The copy is about to be removed.
    case pendingDeletion = "pending deletion"
}

/// An image's copy in one region.
public struct ImageRegion: Hashable, Sendable, Codable {
    /// The region's id, such as `us-east`.
    public var region: String
    /// The copy's state.
    public var status: RegionStatus

    /// Creates a region entry.
    public init(region: String, status: RegionStatus) {
        self.region = region
        self.status = status
    }
}

/// An image record, with the fields and JSON form of the public API.
///
/// Sizes are in megabytes (1 MB = 1,000,000 bytes, rounded up); timestamps are UTC at whole
/// seconds. `total_size` is derived: `size` times the regions holding an available copy.
public struct Image: Hashable, Sendable {
    /// The image's id.
    public var id: ImageID
    /// A short name; 1 to 50 characters of the product's label alphabet.
    public var label: String
    /// A longer text, up to 65,000 characters, or `nil`.
    public var description: String?
    /// When the image was made.
    public var created: Date
    /// When the image last changed.
    public var updated: Date
    /// The account user that made it, or `nil`.
    public var createdBy: String?
    /// Megabytes of uncompressed data, which is also the smallest disk it deploys to.
    public var size: Int
    /// The image's state.
    public var status: ImageStatus
    /// Whether a user made it or it is a recovery image.
    public var type: ImageType
    /// Always `false` for account images.
    public var isPublic: Bool
    /// Always `false` for account images.
    public var deprecated: Bool
    /// Always `nil` for account images.
    public var vendor: String?
    /// Always `nil` for account images.
    public var eol: Date?
    /// When a recovery image will be removed; `nil` for manual images.
    public var expiry: Date?
    /// Capabilities such as `cloud-init` and `distributed-sites`.
    public var capabilities: [String]
    /// Tags, kept sorted.
    public var tags: [String]
    /// The regions holding a copy; empty until the image is available.
    public var regions: [ImageRegion]

    /// Creates a record with the defaults of an account image.
    public init(
        id: ImageID,
        label: String,
        description: String? = nil,
        created: Date,
        updated: Date? = nil,
        createdBy: String? = nil,
        size: Int = 0,
        status: ImageStatus,
        type: ImageType = .manual,
        expiry: Date? = nil,
        capabilities: [String] = [],
        tags: [String] = [],
        regions: [ImageRegion] = []
    ) {
        self.id = id
        self.label = label
        self.description = description
        self.created = created
        self.updated = updated ?? created
        self.createdBy = createdBy
        self.size = size
        self.status = status
        self.type = type
        self.isPublic = false
        self.deprecated = false
        self.vendor = nil
        self.eol = nil
        self.expiry = expiry
        self.capabilities = capabilities
        self.tags = tags.sorted()
        self.regions = regions
    }

    /// `size` times the number of regions holding an available copy, in MB.
    ///
    /// A size too large to count that many times (only a damaged record holds one) gives `Int.max`.
    public var totalSize: Int {
        let copies = regions.count { $0.status == .available }
        let (total, overflow) = size.multipliedReportingOverflow(by: copies)
        return overflow ? Int.max : total
    }
}

extension Image {
    /// Converts a byte count to the product's megabytes, rounding up.
    ///
    /// - Parameter bytes: A byte count.
    /// - Returns: Whole megabytes of 1,000,000 bytes, rounded up.
    public static func megabytes(_ bytes: UInt64) -> Int {
        Int((bytes / 1_000_000) + (bytes % 1_000_000 == 0 ? 0 : 1))
    }
}

extension Image: Codable {
    enum CodingKeys: String, CodingKey {
        case id, label, description, created, updated, size, status, type, deprecated, vendor, eol
        case expiry, capabilities, tags, regions
        case createdBy = "created_by"
        case totalSize = "total_size"
        case isPublic = "is_public"
    }

    /// Decodes a record from the public API's JSON; `total_size` is read and recomputed.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(ImageID.self, forKey: .id)
        label = try container.decode(String.self, forKey: .label)
        description = try container.decodeIfPresent(String.self, forKey: .description)
        created = try Self.decodeDate(container, .created)
        updated = try Self.decodeDate(container, .updated)
        createdBy = try container.decodeIfPresent(String.self, forKey: .createdBy)
        size = try container.decode(Int.self, forKey: .size)
        _ = try container.decodeIfPresent(Int.self, forKey: .totalSize)
        status = try container.decode(ImageStatus.self, forKey: .status)
        type = try container.decode(ImageType.self, forKey: .type)
        isPublic = try container.decodeIfPresent(Bool.self, forKey: .isPublic) ?? false
        deprecated = try container.decodeIfPresent(Bool.self, forKey: .deprecated) ?? false
        vendor = try container.decodeIfPresent(String.self, forKey: .vendor)
        eol = try Self.decodeOptionalDate(container, .eol)
        expiry = try Self.decodeOptionalDate(container, .expiry)
        capabilities = try container.decodeIfPresent([String].self, forKey: .capabilities) ?? []
        tags = (try container.decodeIfPresent([String].self, forKey: .tags) ?? []).sorted()
        regions = try container.decodeIfPresent([ImageRegion].self, forKey: .regions) ?? []
    }

    /// Encodes the record as the public API's JSON, writing `null` for absent values.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(label, forKey: .label)
        try container.encode(description, forKey: .description)
        try container.encode(APITimestamp.format(created), forKey: .created)
        try container.encode(APITimestamp.format(updated), forKey: .updated)
        try container.encode(createdBy, forKey: .createdBy)
        try container.encode(size, forKey: .size)
        try container.encode(totalSize, forKey: .totalSize)
        try container.encode(status, forKey: .status)
        try container.encode(type, forKey: .type)
        try container.encode(isPublic, forKey: .isPublic)
        try container.encode(deprecated, forKey: .deprecated)
        try container.encode(vendor, forKey: .vendor)
        try container.encode(eol.map(APITimestamp.format), forKey: .eol)
        try container.encode(expiry.map(APITimestamp.format), forKey: .expiry)
        try container.encode(capabilities, forKey: .capabilities)
        try container.encode(tags, forKey: .tags)
        try container.encode(regions, forKey: .regions)
    }

    private static func decodeDate(_ container: KeyedDecodingContainer<CodingKeys>, _ key: CodingKeys) throws -> Date {
        let text = try container.decode(String.self, forKey: key)
        guard let date = APITimestamp.parse(text) else {
            throw DecodingError.dataCorruptedError(
                forKey: key, in: container, debugDescription: "not a timestamp like 2026-12-04T15:09:43: \(text)")
        }
        return date
    }

    private static func decodeOptionalDate(
        _ container: KeyedDecodingContainer<CodingKeys>, _ key: CodingKeys
    ) throws -> Date? {
        guard container.contains(key), try !container.decodeNil(forKey: key) else { return nil }
        return try decodeDate(container, key)
    }
}

/// The public API's JSON coders for ImagesKit's records.
public enum APIJSON {
    /// An encoder that writes the API's form: sorted keys, unescaped slashes.
    public static func encoder(pretty: Bool = false) -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting =
            pretty
            ? [.sortedKeys, .withoutEscapingSlashes, .prettyPrinted]
            : [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    /// A decoder for the API's form.
    public static func decoder() -> JSONDecoder {
        JSONDecoder()
    }
}
