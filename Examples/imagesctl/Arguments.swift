import Foundation
import ImagesKit

/// The command line split into a command, its positional words and its options.
struct Arguments {
    var command: String?
    var positional: [String] = []
    var options: [String: [String]] = [:]
    var flags: Set<String> = []

    static let flagNames: Set<String> = ["--json", "--cloud-init", "--help"]
    static let optionNames: Set<String> = [
        "--store", "--label", "--region", "--description", "--tag", "--size", "--now", "--active-hours",
        "--image", "--from", "--to", "--status", "--type",
    ]

    init(_ words: [String]) throws {
        var index = 0
        while index < words.count {
            let word = words[index]
            if Self.flagNames.contains(word) {
                flags.insert(word)
            } else if Self.optionNames.contains(word) {
                guard index + 1 < words.count else {
                    throw UsageError("\(word) needs a value; run imagesctl --help")
                }
                options[word, default: []].append(words[index + 1])
                index += 1
            } else if word.hasPrefix("--") {
                throw UsageError("unknown option \(word); run imagesctl --help")
            } else if command == nil {
                command = word
            } else {
                positional.append(word)
            }
            index += 1
        }
    }

    func value(_ name: String) throws -> String? {
        guard let values = options[name] else { return nil }
        guard values.count == 1 else { throw UsageError("\(name) may be given once; run imagesctl --help") }
        return values[0]
    }

    func required(_ name: String) throws -> String {
        guard let value = try value(name) else {
            throw UsageError("\(command ?? "") needs \(name); run imagesctl --help")
        }
        return value
    }

    func values(_ name: String) -> [String] {
        options[name] ?? []
    }

    func positional(_ count: Int, _ names: String) throws -> [String] {
        guard positional.count == count else {
            throw UsageError("\(command ?? "") takes \(names); run imagesctl --help")
        }
        return positional
    }
}

/// A mistake on the command line.
struct UsageError: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) {
        self.description = description
    }
}

/// Sizes as `truncate` and `qemu-img` read them: bytes, or K, M, G, T in powers of 1024.
enum SizeArgument {
    static func parse(_ text: String) throws -> UInt64 {
        let units: [Character: UInt64] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40]
        var digits = Substring(text)
        var multiplier: UInt64 = 1
        if let last = digits.last, let unit = units[Character(last.uppercased())] {
            multiplier = unit
            digits = digits.dropLast()
        }
        guard let number = UInt64(digits), number > 0 else {
            throw UsageError("size '\(text)' is not a positive number with an optional K, M, G or T suffix")
        }
        let (bytes, overflow) = number.multipliedReportingOverflow(by: multiplier)
        guard !overflow else { throw UsageError("size '\(text)' is too large") }
        return bytes
    }
}

/// Times as ISO 8601: `2026-12-04T15:09:43` (UTC), with an optional `Z` or offset such as
/// `+02:00`, or a bare date `2026-12-04` for its midnight, UTC.
enum TimeArgument {
    static func parse(_ text: String, option: String) throws -> Date {
        if let date = APITimestamp.parse(text) { return date }
        if text.count == 10, let date = APITimestamp.parse(text + "T00:00:00") { return date }
        let zoned = ISO8601DateFormatter()
        if let date = zoned.date(from: text) { return APITimestamp.wholeSeconds(date) }
        zoned.formatOptions.insert(.withFractionalSeconds)
        if let date = zoned.date(from: text) { return APITimestamp.wholeSeconds(date) }
        throw UsageError("\(option) '\(text)' is not a time such as 2026-12-04T15:09:43 or a date such as 2026-12-04")
    }
}

/// Hours as a decimal number (`12`, `11.5`) or hours and minutes (`11:59`), as whole seconds.
enum HoursArgument {
    static func parse(_ text: String) throws -> TimeInterval {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        if parts.count == 2, let hours = Int(parts[0]), let minutes = Int(parts[1]), hours >= 0,
            (0..<60).contains(minutes)
        {
            return TimeInterval(hours * 3600 + minutes * 60)
        }
        guard parts.count == 1, let hours = Decimal(string: text, locale: Locale(identifier: "en_US_POSIX")),
            hours >= 0, hours <= 1_000_000, text.allSatisfy({ $0.isNumber || $0 == "." })
        else {
            throw UsageError("--active-hours '\(text)' is not a number of hours such as 12, 11.5 or 11:59")
        }
        var seconds = hours * 3600
        var whole = Decimal()
        NSDecimalRound(&whole, &seconds, 0, .plain)
        return TimeInterval(NSDecimalNumber(decimal: whole).int64Value)
    }
}
