import Foundation

/// The fields of a new image, checked against the product's rules when made.
struct ImageFields: Sendable {
    /// The label asked for; `nil` lets a capture derive one.
    var label: String?
    var description: String?
    /// Sorted and unique.
    var tags: [String]
    var cloudInit: Bool
    var createdBy: String?
    var type = ImageType.manual
    /// When a recovery image is removed.
    var expiry: Date?
    /// The format to keep the image in; `nil` for the service's default.
    var format: CompressionFormat?

    /// Checks the fields a user gave.
    ///
    /// - Throws: ``ImagesKitError`` with `invalid_argument`, naming the field and the rule.
    init(label: String?, description: String?, tags: [String], cloudInit: Bool, createdBy: String?) throws {
        if let label { try ImageRules.validateLabel(label) }
        try ImageRules.validateDescription(description)
        self.label = label
        self.description = description?.isEmpty == true ? nil : description
        self.tags = try ImageRules.normalizedTags(tags)
        self.cloudInit = cloudInit
        self.createdBy = createdBy
    }
}
