/// The id of an image: `private/<n>` for an account's images, `linode/<slug>` for public ones.
///
/// Account images get a positive number that is never reused. Public distribution images are
/// outside ImagesKit's scope; their ids parse so that requests naming them can be refused.
public enum ImageID: Hashable, Sendable, Comparable, CustomStringConvertible, Codable {
    /// An account's image, numbered from 1.
    case `private`(Int)
    /// A public distribution image, such as `linode/debian12`.
    case `public`(String)

    /// Parses `private/<n>` or `linode/<slug>`; returns `nil` for anything else.
    ///
    /// - Parameter text: The id as the public API spells it.
    public init?(_ text: String) {
        if text.hasPrefix("private/") {
            let digits = text.dropFirst("private/".count)
            guard !digits.isEmpty, digits.count <= 18, digits.allSatisfy(\.isASCIIDigit),
                digits.first != "0", let number = Int(digits)
            else { return nil }
            self = .private(number)
        } else if text.hasPrefix("linode/") {
            let slug = text.dropFirst("linode/".count)
            guard !slug.isEmpty, slug.count <= 64,
                slug.allSatisfy({ $0.isASCIILowercaseAlphanumeric || $0 == "-" || $0 == "." })
            else { return nil }
            self = .public(String(slug))
        } else {
            return nil
        }
    }

    /// The number of an account image, or `nil` for a public image.
    public var number: Int? {
        if case .private(let number) = self { return number }
        return nil
    }

    /// The id as the public API spells it.
    public var description: String {
        switch self {
        case .private(let number): "private/\(number)"
        case .public(let slug): "linode/\(slug)"
        }
    }

    /// Orders account images by number, after every public image.
    public static func < (lhs: ImageID, rhs: ImageID) -> Bool {
        switch (lhs, rhs) {
        case (.private(let left), .private(let right)): left < right
        case (.public(let left), .public(let right)): left < right
        case (.public, .private): true
        case (.private, .public): false
        }
    }

    /// Decodes the id from its string form.
    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let id = ImageID(text) else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "not an image id: \(text)"))
        }
        self = id
    }

    /// Encodes the id as its string form.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
    var isASCIILowercaseAlphanumeric: Bool { isASCII && (isNumber || isLowercase) }
}
