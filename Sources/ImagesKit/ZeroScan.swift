/// Finds out whether memory holds nothing but zeros, 32 bytes at a time; the deploy's writer
/// and the codecs use it to skip zero blocks and chunks.
package enum ZeroScan {
    /// Whether every byte of `bytes` is zero.
    package static func isAllZero(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var index = 0
        let wide = bytes.count & ~31
        while index < wide {
            let first = bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self)
            let second = bytes.loadUnaligned(fromByteOffset: index + 8, as: UInt64.self)
            let third = bytes.loadUnaligned(fromByteOffset: index + 16, as: UInt64.self)
            let fourth = bytes.loadUnaligned(fromByteOffset: index + 24, as: UInt64.self)
            if first | second | third | fourth != 0 { return false }
            index += 32
        }
        return bytes[index...].allSatisfy { $0 == 0 }
    }
}
