import Foundation

/// The public API's timestamp form: UTC, whole seconds, no zone, as in `2026-12-04T15:09:43`.
public enum APITimestamp {
    /// Formats a date as the API does, dropping any fraction of a second.
    ///
    /// - Parameter date: The date to format.
    /// - Returns: The timestamp text, such as `2026-12-04T15:09:43`.
    public static func format(_ date: Date) -> String {
        var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(
            format: "%04d-%02d-%02dT%02d:%02d:%02d",
            Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday),
            Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec))
    }

    /// Parses the API's timestamp form; returns `nil` for any other text.
    ///
    /// - Parameter text: Text such as `2026-12-04T15:09:43`.
    /// - Returns: The date, or `nil` when the text is not in the API's form.
    public static func parse(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        guard bytes.count == 19, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"),
            bytes[10] == UInt8(ascii: "T"), bytes[13] == UInt8(ascii: ":"), bytes[16] == UInt8(ascii: ":")
        else { return nil }
        let fields = [(0, 4), (5, 2), (8, 2), (11, 2), (14, 2), (17, 2)].map { number(bytes, $0.0, $0.1) }
        guard fields.allSatisfy({ $0 != nil }) else { return nil }
        let values = fields.map { $0! }
        guard (1...12).contains(values[1]), (1...31).contains(values[2]), values[3] < 24, values[4] < 60,
            values[5] < 60
        else { return nil }
        var parts = tm()
        parts.tm_year = Int32(values[0] - 1900)
        parts.tm_mon = Int32(values[1] - 1)
        parts.tm_mday = Int32(values[2])
        parts.tm_hour = Int32(values[3])
        parts.tm_min = Int32(values[4])
        parts.tm_sec = Int32(values[5])
        let seconds = timegm(&parts)
        guard parts.tm_mday == Int32(values[2]) else { return nil }
        return Date(timeIntervalSince1970: TimeInterval(seconds))
    }

    /// Drops the fraction of a second, so a date survives a round trip through the API's form.
    ///
    /// - Parameter date: Any date.
    /// - Returns: The same date at a whole second.
    public static func wholeSeconds(_ date: Date) -> Date {
        Date(timeIntervalSince1970: date.timeIntervalSince1970.rounded(.down))
    }

    private static func number(_ bytes: [UInt8], _ start: Int, _ length: Int) -> Int? {
        var value = 0
        for byte in bytes[start..<start + length] {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return value
    }
}
