/// The product's rules for the fields a user sets: label, description, tags.
public enum ImageRules {
    /// The longest label, in characters.
    public static let maximumLabelLength = 50
    /// The longest description, in characters.
    public static let maximumDescriptionLength = 65_000
    /// The most tags an image may carry.
    public static let maximumTagCount = 500
    /// The shortest and longest tag, in characters.
    public static let tagLengths = 3...100

    /// Checks a label: 1 to 50 ASCII letters, digits, spaces and `, . ? - _ '`.
    ///
    /// - Parameter label: The label to check.
    /// - Throws: ``ImagesKitError`` with `invalid_argument`, naming the rule broken.
    public static func validateLabel(_ label: String) throws {
        guard (1...maximumLabelLength).contains(label.count) else {
            throw invalid(
                "label", "must be 1 to \(maximumLabelLength) characters long; this one has \(label.count)")
        }
        if let bad = label.unicodeScalars.first(where: { !isLabelCharacter($0) }) {
            throw invalid(
                "label",
                "may hold only ASCII letters, digits, spaces and , . ? - _ ' characters; found \(describe(bad))")
        }
    }

    /// Checks a description: at most 65,000 characters.
    ///
    /// - Throws: ``ImagesKitError`` with `invalid_argument`.
    public static func validateDescription(_ description: String?) throws {
        guard let description, description.count > maximumDescriptionLength else { return }
        throw invalid(
            "description", "must be at most \(maximumDescriptionLength) characters; this one has \(description.count)")
    }

    /// Checks tags (at most 500, each 3 to 100 characters) and returns them sorted without duplicates.
    ///
    /// - Returns: The tags, sorted and unique.
    /// - Throws: ``ImagesKitError`` with `invalid_argument`.
    public static func normalizedTags(_ tags: [String]) throws -> [String] {
        let unique = Array(Set(tags)).sorted()
        guard unique.count <= maximumTagCount else {
            throw invalid("tags", "may number at most \(maximumTagCount); \(unique.count) were given")
        }
        if let bad = unique.first(where: { !tagLengths.contains($0.count) }) {
            throw invalid(
                "tags", "must each be \(tagLengths.lowerBound) to \(tagLengths.upperBound) characters; '\(bad)' is not")
        }
        if unique.contains(where: { $0.unicodeScalars.contains(where: isControl) }) {
            throw invalid("tags", "may not hold control characters such as newlines or escapes")
        }
        return unique
    }

    /// Turns any text (a disk label, a file name) into a valid label.
    ///
    /// Characters outside the label alphabet become `_`, the result is cut to 50 characters,
    /// and empty text becomes `fallback`.
    /// - Parameters:
    ///   - text: The text to derive a label from.
    ///   - fallback: The label to use when nothing usable is left.
    /// - Returns: A label that passes ``validateLabel(_:)``.
    public static func label(derivedFrom text: String, fallback: String = "image") -> String {
        let scalars = text.unicodeScalars.map { isLabelCharacter($0) ? Character($0) : "_" }
        let trimmed = String(scalars.prefix(maximumLabelLength)).trimmingCharacters(in: " ")
        return trimmed.isEmpty ? fallback : trimmed
    }

    private static func isLabelCharacter(_ scalar: Unicode.Scalar) -> Bool {
        guard scalar.isASCII else { return false }
        let value = scalar.value
        let isLetterOrDigit =
            (0x30...0x39).contains(value) || (0x41...0x5a).contains(value) || (0x61...0x7a).contains(value)
        return isLetterOrDigit || " ,.?-_'".unicodeScalars.contains(scalar)
    }

    private static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.properties.generalCategory == .control
    }

    private static func describe(_ scalar: Unicode.Scalar) -> String {
        scalar.value < 0x20 || scalar.value == 0x7f
            ? "a control character (U+\(String(scalar.value, radix: 16, uppercase: true)))"
            : "'\(Character(scalar))'"
    }

    private static func invalid(_ field: String, _ rule: String) -> ImagesKitError {
        ImagesKitError(.invalidArgument, "\(field) \(rule)", context: ["field": field])
    }
}

extension String {
    fileprivate func trimmingCharacters(in set: Character) -> String {
        var text = Substring(self)
        while text.first == set { text.removeFirst() }
        while text.last == set { text.removeLast() }
        return String(text)
    }
}
