/// The checksums ext4 keeps over its metadata, computed as the kernel and e2fsprogs compute them.
///
/// With metadata_csum, the superblock, each group descriptor and each block bitmap carry a CRC32C
/// (Castagnoli) seeded from the filesystem's UUID; with the older uninit_bg (gdt_csum), group
/// descriptors carry a CRC16. The probe checks them before it trusts a bitmap or a
/// `BLOCK_UNINIT` flag, since a wrong one would silently drop used blocks.
struct ExtChecksums: Sendable, Equatable {
    /// The CRC32C every metadata_csum checksum starts from.
    let seed: UInt32
    /// The filesystem's UUID, which starts each gdt_csum CRC16.
    let uuid: [UInt8]
    /// Which algorithm guards the group descriptors, if any.
    let kind: Kind

    enum Kind: Sendable, Equatable {
        case none, crc16, crc32c
    }

    init(_ superblock: ExtSuperblock, features: ExtFeatures) {
        uuid = Array(superblock.bytes[0x68..<0x78])
        let storedSeed = ProbeBytes.uint32(superblock.bytes, at: 0x270)
        seed = features.contains(.checksumSeed) ? storedSeed : Self.crc32c(0xFFFF_FFFF, uuid[...])
        if features.contains(.metadataChecksums) {
            kind = .crc32c
        } else {
            kind = features.contains(.groupDescriptorChecksums) ? .crc16 : .none
        }
    }

    /// The superblock's own CRC32C (`s_checksum`), over the bytes before it.
    static func superblockChecksum(_ superblock: ExtSuperblock) -> UInt32 {
        crc32c(0xFFFF_FFFF, superblock.bytes[..<0x3FC])
    }

    /// Whether the superblock's stored `s_checksum` matches its bytes.
    static func superblockMatches(_ superblock: ExtSuperblock) -> Bool {
        superblockChecksum(superblock) == ProbeBytes.uint32(superblock.bytes, at: 0x3FC)
    }

    /// The checksum the descriptor at `offset` of `block` should store at byte 0x1E, or nil when
    /// descriptors carry none.
    func descriptorChecksum(_ block: [UInt8], at offset: Int, size: Int, group: UInt64) -> UInt16? {
        let number = (0..<4).map { UInt8(truncatingIfNeeded: group >> (8 * $0)) }
        let head = block[offset..<offset + 0x1E]
        let tail = block[offset + 0x20..<offset + size]

        switch kind {
        case .none:
            return nil
        case .crc32c:
            let crc = Self.crc32c(Self.crc32c(Self.crc32c(seed, number[...]), head), [0, 0][...])
            return UInt16(truncatingIfNeeded: Self.crc32c(crc, tail))
        case .crc16:
            let crc = Self.crc16(Self.crc16(Self.crc16(0xFFFF, uuid[...]), number[...]), head)
            return Self.crc16(crc, tail)
        }
    }

    /// Whether the checksum stored in the descriptor at `offset` of `block` matches its bytes.
    func descriptorMatches(_ block: [UInt8], at offset: Int, size: Int, group: UInt64) -> Bool {
        guard let expected = descriptorChecksum(block, at: offset, size: size, group: group) else { return true }
        return expected == ProbeBytes.uint16(block, at: offset + 0x1E)
    }

    /// Whether a block bitmap's CRC32C matches the one its descriptor records.
    ///
    /// - Parameters:
    ///   - bitmap: The bitmap block.
    ///   - byteCount: How many bytes the checksum covers: clusters per group / 8.
    ///   - stored: The descriptor's `bg_block_bitmap_csum` halves; `high` is nil for 32-byte
    ///     descriptors, which keep only the low 16 bits.
    func bitmapMatches(_ bitmap: [UInt8], byteCount: Int, stored: (low: UInt16, high: UInt16?)) -> Bool {
        guard kind == .crc32c else { return true }

        let crc = Self.crc32c(seed, bitmap[..<byteCount])
        guard let high = stored.high else { return UInt16(truncatingIfNeeded: crc) == stored.low }
        return crc == UInt32(high) << 16 | UInt32(stored.low)
    }

    // MARK: The CRCs

    /// CRC32C (reflected polynomial 0x82F63B78) continued from `crc`, without the final inversion,
    /// as the kernel's `ext4_chksum` computes it.
    static func crc32c(_ crc: UInt32, _ bytes: ArraySlice<UInt8>) -> UInt32 {
        bytes.reduce(crc) { crc, byte in (crc >> 8) ^ crc32cTable[Int(UInt8(truncatingIfNeeded: crc) ^ byte)] }
    }

    /// CRC16 (reflected polynomial 0xA001) continued from `crc`, as the kernel's `crc16` computes it.
    static func crc16(_ crc: UInt16, _ bytes: ArraySlice<UInt8>) -> UInt16 {
        bytes.reduce(crc) { crc, byte in (crc >> 8) ^ crc16Table[Int(UInt8(truncatingIfNeeded: crc) ^ byte)] }
    }

    private static let crc32cTable: [UInt32] = table(polynomial: 0x82F6_3B78)
    private static let crc16Table: [UInt16] = table(polynomial: 0xA001).map { UInt16(truncatingIfNeeded: $0) }

    private static func table(polynomial: UInt32) -> [UInt32] {
        (0..<256).map { index in
            (0..<8).reduce(UInt32(index)) { value, _ in value & 1 == 1 ? (value >> 1) ^ polynomial : value >> 1 }
        }
    }
}
