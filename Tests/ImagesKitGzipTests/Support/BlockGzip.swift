/// One member of a BGZF file, the block-compressed gzip that `bgzip` writes.
struct BlockGzipMember: Equatable {
    /// Where the member starts in the file.
    var offset: Int
    /// The member's size in bytes, header and trailer included.
    var size: Int
    /// The header's flag byte.
    var flags: UInt8
    /// The length of the header's extra field.
    var extraLength: Int
    /// The uncompressed size the member's trailer states.
    var uncompressedSize: UInt32
}

/// Splits BGZF files into members by reading the sizes they state, without inflating anything,
/// so that a test can compare the decoder's member count with an independent one.
enum BlockGzip {
    /// The members of `file`, or nil when one lacks the `BC` subfield that gives its size or
    /// runs past the end of the file.
    static func members(of file: [UInt8]) -> [BlockGzipMember]? {
        var members: [BlockGzipMember] = []
        var offset = 0
        while offset < file.count {
            guard let member = member(of: file, at: offset) else { return nil }
            members.append(member)
            offset += member.size
        }
        return members
    }

    /// The member starting at `offset`, found by walking the subfields of its extra field.
    private static func member(of file: [UInt8], at offset: Int) -> BlockGzipMember? {
        let fixedHeader = 12
        guard offset + fixedHeader <= file.count, file[offset..<offset + 3] == [0x1f, 0x8b, 8] else { return nil }
        let flags = file[offset + 3]
        let extraLength = Int(littleEndian16(file, at: offset + 10))
        let extraEnd = offset + fixedHeader + extraLength
        guard flags & 0x04 != 0, extraEnd <= file.count else { return nil }

        var field = offset + fixedHeader
        while field + 4 <= extraEnd {
            let fieldLength = Int(littleEndian16(file, at: field + 2))
            if file[field] == UInt8(ascii: "B"), file[field + 1] == UInt8(ascii: "C"), fieldLength == 2 {
                let size = Int(littleEndian16(file, at: field + 4)) + 1
                guard size >= fixedHeader + extraLength + 8, offset + size <= file.count else { return nil }
                return BlockGzipMember(
                    offset: offset, size: size, flags: flags, extraLength: extraLength,
                    uncompressedSize: littleEndian32(file, at: offset + size - 4))
            }
            field += 4 + fieldLength
        }
        return nil
    }
}

/// The unsigned 16-bit little-endian number at `offset` in `bytes`.
func littleEndian16(_ bytes: [UInt8], at offset: Int) -> UInt16 {
    UInt16(bytes[offset]) | UInt16(bytes[offset + 1]) << 8
}

/// The unsigned 32-bit little-endian number at `offset` in `bytes`, as in a gzip trailer.
func littleEndian32(_ bytes: [UInt8], at offset: Int) -> UInt32 {
    bytes[offset..<offset + 4].reversed().reduce(0) { $0 << 8 | UInt32($1) }
}
