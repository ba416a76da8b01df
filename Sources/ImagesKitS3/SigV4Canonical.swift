/// The pieces of a SigV4 canonical request: path, query and headers in their canonical forms.
///
/// Everything works on UTF-8 bytes and compares bytes, so neither Unicode normalization nor the
/// machine's locale can change a canonical string.
enum SigV4Canonical {
    private static let slash = UInt8(ascii: "/")
    private static let percent = UInt8(ascii: "%")
    private static let hexDigits = Array("0123456789ABCDEF".utf8)

    // MARK: Path

    /// The canonical URI of a path sent on the wire.
    ///
    /// - Parameters:
    ///   - path: The path as sent, already percent-encoded.
    ///   - normalizing: Whether to drop `.` segments, resolve `..` segments and merge repeated slashes.
    ///   - encodingAgain: Whether to percent-encode the path once more (every service but S3).
    /// - Returns: The path line of the canonical request.
    static func path(_ path: String, normalizing: Bool, encodingAgain: Bool) -> String {
        var bytes = Array(path.utf8)
        if bytes.isEmpty { bytes = [slash] }
        if normalizing { bytes = normalizedPath(bytes) }
        return encodingAgain ? percentEncoded(bytes, keepingSlash: true) : String(decoding: bytes, as: UTF8.self)
    }

    /// The path with dot segments removed and repeated slashes merged; a trailing slash is kept.
    static func normalizedPath(_ path: [UInt8]) -> [UInt8] {
        let parts = path.split(separator: slash, omittingEmptySubsequences: true)
        var kept: [ArraySlice<UInt8>] = []
        for part in parts {
            switch dotSegment(part) {
            case 1: continue
            case 2: _ = kept.popLast()
            default: kept.append(part)
            }
        }
        var result: [UInt8] = [slash]
        result += kept.joined(separator: [slash])
        let endsInDirectory = path.last == slash || parts.last.map { dotSegment($0) > 0 } ?? false
        if !kept.isEmpty && endsInDirectory { result.append(slash) }
        return result
    }

    /// 1 for a `.` segment, 2 for a `..` segment, 0 for any other.
    private static func dotSegment(_ part: ArraySlice<UInt8>) -> Int {
        part.count <= 2 && part.allSatisfy { $0 == UInt8(ascii: ".") } ? part.count : 0
    }

    // MARK: Query

    /// The canonical query string: every name and value decoded and encoded again, sorted by name then value.
    ///
    /// - Parameter items: The query parameters as sent on the wire.
    /// - Returns: The query line of the canonical request, empty when there are no parameters.
    static func query(_ items: [(name: String, value: String)]) -> String {
        let encoded = items.map { (name: reencoded($0.name), value: reencoded($0.value)) }
        let sorted = encoded.sorted { lhs, rhs in
            lhs.name == rhs.name ? bytesPrecede(lhs.value, rhs.value) : bytesPrecede(lhs.name, rhs.name)
        }
        return sorted.map { "\($0.name)=\($0.value)" }.joined(separator: "&")
    }

    /// Percent-decodes `text` and encodes it again, so that any spelling of a character signs the same way.
    static func reencoded(_ text: String) -> String {
        percentEncoded(percentDecoded(text), keepingSlash: false)
    }

    // MARK: Headers

    /// Canonical headers: names lowercased, values trimmed with inner whitespace runs collapsed,
    /// repeated names merged into one comma-separated line in the order sent, sorted by name.
    ///
    /// - Parameter headers: The headers to sign, in the order sent.
    /// - Returns: One entry per distinct lowercased name.
    static func headers(_ headers: [(name: String, value: String)]) -> [(name: String, value: String)] {
        var order: [String] = []
        var values: [String: [String]] = [:]
        for header in headers {
            let name = lowercased(header.name)
            if values[name] == nil { order.append(name) }
            values[name, default: []].append(trimmed(header.value))
        }
        return order.sorted(by: bytesPrecede).map { (name: $0, value: values[$0, default: []].joined(separator: ",")) }
    }

    /// The header name with ASCII letters lowercased; other bytes are left alone.
    static func lowercased(_ name: String) -> String {
        let bytes = name.utf8.map { byte in
            (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) ? byte + 32 : byte
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The value without leading or trailing whitespace, each inner run of spaces, tabs
    /// or line breaks (folded continuation lines) replaced by one space.
    static func trimmed(_ value: String) -> String {
        var result: [UInt8] = []
        var pendingSpace = false
        for byte in value.utf8 {
            if isWhitespace(byte) {
                pendingSpace = !result.isEmpty
                continue
            }
            if pendingSpace { result.append(UInt8(ascii: " ")) }
            pendingSpace = false
            result.append(byte)
        }
        return String(decoding: result, as: UTF8.self)
    }

    private static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D
    }

    // MARK: Percent-encoding

    /// Percent-encodes every byte but the unreserved characters of RFC 3986 (and `/` when asked),
    /// with uppercase hexadecimal digits.
    static func percentEncoded<Bytes: Sequence<UInt8>>(_ bytes: Bytes, keepingSlash: Bool) -> String {
        var result: [UInt8] = []
        for byte in bytes {
            if isUnreserved(byte) || (keepingSlash && byte == slash) {
                result.append(byte)
            } else {
                result += [percent, hexDigits[Int(byte >> 4)], hexDigits[Int(byte & 0x0F)]]
            }
        }
        return String(decoding: result, as: UTF8.self)
    }

    /// Percent-encodes a whole value, `/` included: for query values the signer adds itself.
    static func percentEncoded(_ text: String) -> String {
        percentEncoded(text.utf8, keepingSlash: false)
    }

    /// Decodes each `%XY` escape; a `%` not followed by two hexadecimal digits stays as it is.
    static func percentDecoded(_ text: String) -> [UInt8] {
        let bytes = Array(text.utf8)
        var result: [UInt8] = []
        result.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            if bytes[index] == percent, index + 2 < bytes.count,
                let high = hexValue(bytes[index + 1]), let low = hexValue(bytes[index + 2])
            {
                result.append(high << 4 | low)
                index += 3
            } else {
                result.append(bytes[index])
                index += 1
            }
        }
        return result
    }

    private static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
            UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        default: return nil
        }
    }

    // MARK: Ordering

    /// Whether `lhs` sorts before `rhs` comparing their UTF-8 bytes.
    static func bytesPrecede(_ lhs: String, _ rhs: String) -> Bool {
        lhs.utf8.lexicographicallyPrecedes(rhs.utf8)
    }
}
