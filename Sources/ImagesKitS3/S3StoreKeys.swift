import Foundation
import ImagesKit

/// Where a store's objects live under its prefix.
///
/// Numbers are written with twelve digits, so that keys list in numeric order and a listing can
/// start after a given number.
struct S3StoreKeys: Sendable {
    /// The configured prefix: empty, or ending with `/`.
    let prefix: String

    var recordsFolder: String { prefix + "records/" }
    var contentFolder: String { prefix + "content/" }
    var numbersFolder: String { prefix + "numbers/" }
    var eventsFolder: String { prefix + "events/" }
    var usageFolder: String { prefix + "usage/" }
    var claimsFolder: String { prefix + "claims/" }
    var nextNumber: String { prefix + "next-number" }

    func record(_ number: Int) -> String { recordsFolder + Self.digits(number) + ".json" }
    func content(_ number: Int) -> String { contentFolder + Self.digits(number) + ".data" }
    func numberFolder(_ number: Int) -> String { numbersFolder + Self.digits(number) + "/" }

    /// The number in a record, content or number-marker key, or `nil` for a key of another shape.
    func number(in key: String, folder: String) -> Int? {
        guard key.hasPrefix(folder) else { return nil }
        let digits = key.dropFirst(folder.count).prefix(12)
        guard digits.count == 12, digits.allSatisfy(\.isASCII), let number = Int(digits), number > 0 else {
            return nil
        }
        return number
    }

    /// `number` in decimal, with zeros in front up to `width` digits.
    static func digits(_ number: some BinaryInteger, width: Int = 12) -> String {
        let text = String(number)
        return String(repeating: "0", count: max(0, width - text.count)) + text
    }

    /// The number of an account image.
    ///
    /// - Throws: ``ImagesKitError`` with `invalid_argument` for a public image, which no
    ///   store holds.
    static func number(of id: ImageID) throws -> Int {
        guard let number = id.number, number > 0, number < 1_000_000_000_000 else {
            throw ImagesKitError(.notModifiable, "\(id) is not an account image")
        }
        return number
    }
}
