import Foundation
import ImagesKit

/// The command line split into a command, its positional words and its options.
struct Arguments {
    var command: String?
    var positional: [String] = []
    var options: [String: [String]] = [:]
    var flags: Set<String> = []

    static let flagNames: Set<String> = ["--json", "--cloud-init", "--help", "--accept-xz"]
    static let optionNames: Set<String> = [
        "--store", "--label", "--region", "--description", "--tag", "--size", "--now", "--active-hours",
        "--image", "--from", "--to", "--status", "--type", "--codec", "--s3-endpoint", "--s3-region",
        "--s3-addressing",
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

/// Times as ISO 8601: `2026-12-04T15:09:43` (UTC), with optional fractions of a second (dropped)
/// and an optional `Z` or offset such as `+02:00` or `+0200`, or a bare date `2026-12-04` for
/// its midnight, UTC. Years run from 1970 to 9989, so every expiry stays writable.
enum TimeArgument {
    static func parse(_ text: String, option: String) throws -> Date {
        guard let date = strictly(text), (earliest..<latest).contains(date) else {
            throw UsageError(
                "\(option) '\(text)' is not a time such as 2026-12-04T15:09:43, 2026-12-04T17:09:43+02:00 "
                    + "or a date such as 2026-12-04, in the years 1970 to 9989")
        }
        return date
    }

    private static let earliest = Date(timeIntervalSince1970: 0)
    private static let latest = APITimestamp.parse("9990-01-01T00:00:00")!

    private static func strictly(_ text: String) -> Date? {
        let characters = Array(text)
        if characters.count == 10 { return APITimestamp.parse(text + "T00:00:00") }
        guard characters.count >= 19, let local = APITimestamp.parse(String(characters[..<19])) else { return nil }
        var rest = characters[19...]
        if rest.first == "." {
            rest = rest.dropFirst()
            let digits = rest.prefix { $0.isASCII && $0.isNumber }
            guard (1...9).contains(digits.count) else { return nil }
            rest = rest.dropFirst(digits.count)
        }
        guard let offset = offsetSeconds(String(rest)) else { return nil }
        return local.addingTimeInterval(-TimeInterval(offset))
    }

    /// Seconds east of UTC for nothing, `Z`, `+HH:MM` or `+HHMM` (hours up to 14).
    private static func offsetSeconds(_ zone: String) -> Int? {
        if zone.isEmpty || zone == "Z" { return 0 }
        let characters = Array(zone)
        guard let sign = characters.first, sign == "+" || sign == "-" else { return nil }
        var digits = String(characters.dropFirst())
        if digits.count == 5, Array(digits)[2] == ":" {
            digits.remove(at: digits.index(digits.startIndex, offsetBy: 2))
        }
        guard digits.count == 4, digits.allSatisfy({ $0.isASCII && $0.isNumber }),
            let hours = Int(digits.prefix(2)), let minutes = Int(digits.suffix(2)), hours <= 14, minutes < 60
        else { return nil }
        return (sign == "-" ? -1 : 1) * (hours * 3600 + minutes * 60)
    }
}

/// Hours as a decimal number (`12`, `11.5`) or hours and minutes (`11:59`), as whole seconds,
/// rounded down so no active time is made to reach a threshold it did not.
enum HoursArgument {
    static let most = 1_000_000

    static func parse(_ text: String) throws -> TimeInterval {
        guard let seconds = strictly(text) else {
            throw UsageError(
                "--active-hours '\(text)' is not a number of hours such as 12, 11.5 or 11:59, at most \(most)")
        }
        return TimeInterval(seconds)
    }

    private static func strictly(_ text: String) -> Int? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        if parts.count == 2 {
            guard let hours = wholeNumber(parts[0]), parts[1].count == 2, let minutes = wholeNumber(parts[1]),
                minutes < 60, hours < most || (hours == most && minutes == 0)
            else { return nil }
            return hours * 3600 + minutes * 60
        }
        let pieces = text.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...2).contains(pieces.count), let hours = wholeNumber(pieces[0]), hours <= most else { return nil }
        guard pieces.count == 2 else { return hours * 3600 }
        let fraction = pieces[1]
        guard (1...9).contains(fraction.count), fraction.allSatisfy({ $0.isASCII && $0.isNumber }),
            let numerator = Int(fraction)
        else { return nil }
        var scale = 1
        for _ in 0..<fraction.count { scale *= 10 }
        let seconds = hours * 3600 + numerator * 3600 / scale
        return seconds <= most * 3600 ? seconds : nil
    }

    /// Digits only, at most seven of them.
    private static func wholeNumber(_ text: Substring) -> Int? {
        guard (1...7).contains(text.count), text.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return Int(text)
    }
}
