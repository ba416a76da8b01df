/// Filters and paging for listing images.
public struct ImageQuery: Hashable, Sendable {
    /// The page wanted, from 1.
    public var page = 1
    /// Images per page, 25 to 500.
    public var pageSize = 100
    /// Only images whose label contains this text, ignoring case.
    public var label: String?
    /// Only images in this status.
    public var status: ImageStatus?
    /// Only images of this type.
    public var type: ImageType?
    /// Only images carrying every one of these tags.
    public var tags: [String] = []
    /// Only images whose `size`, in MB, is in this range.
    public var size: ClosedRange<Int>?

    /// Creates a query for the first page of all images.
    public init(
        page: Int = 1, pageSize: Int = 100, label: String? = nil, status: ImageStatus? = nil,
        type: ImageType? = nil, tags: [String] = [], size: ClosedRange<Int>? = nil
    ) {
        self.page = page
        self.pageSize = pageSize
        self.label = label
        self.status = status
        self.type = type
        self.tags = tags
        self.size = size
    }

    /// Whether an image passes the filters.
    public func matches(_ image: Image) -> Bool {
        if let label, !image.label.lowercased().contains(label.lowercased()) { return false }
        if let status, image.status != status { return false }
        if let type, image.type != type { return false }
        if let size, !size.contains(image.size) { return false }
        return tags.allSatisfy(image.tags.contains)
    }

    func validate() throws {
        guard page >= 1 else {
            throw ImagesKitError(.invalidArgument, "page must be 1 or more; \(page) was asked for")
        }
        guard (25...500).contains(pageSize) else {
            throw ImagesKitError(.invalidArgument, "page size must be 25 to 500; \(pageSize) was asked for")
        }
    }
}

/// One page of images, shaped as the public API's list envelope.
public struct ImagePage: Hashable, Sendable, Codable {
    /// The images on this page.
    public var data: [Image]
    /// This page's number, from 1.
    public var page: Int
    /// How many pages there are (at least 1).
    public var pages: Int
    /// How many images match in all.
    public var results: Int

    /// Creates a page from its parts.
    public init(data: [Image], page: Int, pages: Int, results: Int) {
        self.data = data
        self.page = page
        self.pages = pages
        self.results = results
    }

    init(slicing images: [Image], page: Int, pageSize: Int) {
        let start = min((page - 1) * pageSize, images.count)
        let end = min(start + pageSize, images.count)
        self.init(
            data: Array(images[start..<end]), page: page,
            pages: max(1, (images.count + pageSize - 1) / pageSize), results: images.count)
    }
}

/// The fields an update may change; `nil` leaves a field as it is.
public struct ImageUpdate: Hashable, Sendable {
    /// A new label.
    public var label: String?
    /// A new description; an empty string clears it.
    public var description: String?
    /// A new, complete set of tags.
    public var tags: [String]?

    /// Creates an update.
    public init(label: String? = nil, description: String? = nil, tags: [String]? = nil) {
        self.label = label
        self.description = description
        self.tags = tags
    }

    /// The fields it changes, for the event: `label, tags changed`.
    var summary: String {
        let names = [("label", label != nil), ("description", description != nil), ("tags", tags != nil)]
            .filter(\.1).map(\.0)
        return names.isEmpty ? "nothing changed" : names.joined(separator: ", ") + " changed"
    }

    func apply(to image: inout Image) throws {
        if let label {
            try ImageRules.validateLabel(label)
            image.label = label
        }
        if let description {
            try ImageRules.validateDescription(description)
            image.description = description.isEmpty ? nil : description
        }
        if let tags {
            image.tags = try ImageRules.normalizedTags(tags)
        }
    }
}
