import CImagesKitCrypto
import Foundation
import ImagesKit

/// HMAC-SHA256 computed by libcrypto.
enum HMACSHA256 {
    /// The 32-byte HMAC-SHA256 of `message` under `key`.
    static func mac(key: [UInt8], message: [UInt8]) -> [UInt8] {
        LibCrypto.start()
        var output = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        // libcrypto wants real pointers even for empty input, so empty arrays lend a dummy byte.
        let keyBytes = key.isEmpty ? [0] : key
        let messageBytes = message.isEmpty ? [0] : message
        let result = keyBytes.withUnsafeBufferPointer { keyBuffer in
            messageBytes.withUnsafeBufferPointer { messageBuffer in
                output.withUnsafeMutableBufferPointer { outputBuffer in
                    HMAC(
                        EVP_sha256(), keyBuffer.baseAddress, Int32(key.count), messageBuffer.baseAddress,
                        message.count, outputBuffer.baseAddress, &length)
                }
            }
        }
        precondition(result != nil && length == 32, "libcrypto: HMAC-SHA256 failed")
        return Array(output.prefix(32))
    }

    /// The HMAC-SHA256 of the UTF-8 bytes of `message` under `key`.
    static func mac(key: [UInt8], _ message: String) -> [UInt8] {
        mac(key: key, message: Array(message.utf8))
    }
}

/// Lowercase hexadecimal digits of bytes.
enum LowercaseHex {
    private static let digits = Array("0123456789abcdef".utf8)

    /// Two lowercase hexadecimal digits per byte.
    static func string(_ bytes: [UInt8]) -> String {
        var text: [UInt8] = []
        text.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            text += [digits[Int(byte >> 4)], digits[Int(byte & 0x0F)]]
        }
        return String(decoding: text, as: UTF8.self)
    }
}

/// A signing time in the two UTC forms SigV4 uses.
///
/// Computed with `gmtime_r`, so neither the machine's time zone nor its locale plays a part.
struct SigV4Timestamp: Sendable, Hashable {
    /// `YYYYMMDD`, the date of the credential scope.
    let day: String
    /// `YYYYMMDD'T'HHMMSS'Z'`, the value of `X-Amz-Date`.
    let instant: String

    /// The timestamp of `date`, truncated to the second.
    init(_ date: Date) {
        var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
        var fields = tm()
        precondition(gmtime_r(&seconds, &fields) != nil, "gmtime_r: date out of range")
        day =
            Self.digits(Int(fields.tm_year) + 1900, 4) + Self.digits(Int(fields.tm_mon) + 1, 2)
            + Self.digits(Int(fields.tm_mday), 2)
        let time =
            Self.digits(Int(fields.tm_hour), 2) + Self.digits(Int(fields.tm_min), 2)
            + Self.digits(Int(fields.tm_sec), 2)
        instant = day + "T" + time + "Z"
    }

    /// `value` in decimal, left-padded with zeros to `width` digits.
    private static func digits(_ value: Int, _ width: Int) -> String {
        let text = String(value)
        return String(repeating: "0", count: max(0, width - text.count)) + text
    }
}
