/// Names what a stream that is not gzip looks like, from the bytes it starts with.
///
/// Only the bytes at hand are examined: a signature further in than the prefix is not seen,
/// and the description falls back to the first bytes in hexadecimal.
enum UploadSniffer {
    /// A signature: bytes found at a fixed offset, and what they mean.
    private struct Signature {
        var offset: Int
        var bytes: [UInt8]
        var name: String
    }

    private static let signatures: [Signature] = [
        Signature(offset: 0, bytes: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00], name: "xz-compressed data"),
        Signature(offset: 0, bytes: Array("QFI".utf8) + [0xfb], name: "a qcow2 disk image"),
        Signature(offset: 0, bytes: Array("KDMV".utf8), name: "a VMDK disk image"),
        Signature(offset: 0, bytes: Array("# Disk DescriptorFile".utf8), name: "a VMDK descriptor"),
        Signature(offset: 0, bytes: Array("vhdxfile".utf8), name: "a VHDX disk image"),
        Signature(offset: 0, bytes: Array("conectix".utf8), name: "a VHD disk image"),
        Signature(offset: 0, bytes: Array("BZh".utf8), name: "bzip2-compressed data"),
        Signature(offset: 0, bytes: [0x28, 0xb5, 0x2f, 0xfd], name: "zstd-compressed data"),
        Signature(offset: 0, bytes: [0x04, 0x22, 0x4d, 0x18], name: "lz4-compressed data"),
        Signature(offset: 0, bytes: [0x1f, 0x9d], name: "compress (.Z) data"),
        Signature(offset: 0, bytes: Array("PK".utf8) + [0x03, 0x04], name: "a zip archive"),
        Signature(offset: 257, bytes: Array("ustar".utf8), name: "a tar archive"),
        Signature(offset: 1080, bytes: [0x53, 0xef], name: "an uncompressed ext2/3/4 filesystem"),
        Signature(offset: 510, bytes: [0x55, 0xaa], name: "an uncompressed disk with a partition table"),
    ]

    /// Describes what `prefix` looks like, for a message that says the input is not gzip.
    ///
    /// - Parameter prefix: The first bytes of the stream, as many as are at hand.
    /// - Returns: A phrase such as "a qcow2 disk image" or "data starting with 51 46 49 fb".
    static func describe(_ prefix: some Collection<UInt8>) -> String {
        let bytes = Array(prefix.prefix(2048))
        if let match = signatures.first(where: { matches($0, bytes) }) {
            return match.name
        }
        if !bytes.isEmpty && bytes.allSatisfy({ $0 == 0 }) {
            return "zero bytes, like an uncompressed raw disk"
        }
        let hex = bytes.prefix(8).map { byte in
            let digits = String(byte, radix: 16)
            return digits.count == 1 ? "0" + digits : digits
        }
        return "data starting with \(hex.joined(separator: " "))"
    }

    private static func matches(_ signature: Signature, _ bytes: [UInt8]) -> Bool {
        let end = signature.offset + signature.bytes.count
        guard bytes.count >= end else { return false }
        return bytes[signature.offset..<end].elementsEqual(signature.bytes)
    }
}
