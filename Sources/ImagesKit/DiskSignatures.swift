/// The magic numbers the probe looks for in the first bytes of a disk, other than ext's.
///
/// Compressed data and image containers are looked for first, since their magic sits at byte 0;
/// then filesystems and volumes, which overwrite any old boot sector; partition tables last.
enum DiskSignatures {
    /// Names what `prefix` holds, or `.unknown`.
    static func content(of prefix: [UInt8]) -> DiskContent {
        if let name = container(prefix) { return .compressed(name) }
        if let name = filesystem(prefix) { return .otherFilesystem(name) }
        if let name = partitionTable(prefix) { return .partitionTable(name) }
        return .unknown
    }

    /// A signature: text or bytes expected at an offset.
    private struct Signature {
        let name: String
        let offset: Int
        let magic: [UInt8]

        init(_ name: String, at offset: Int, _ text: String) {
            self.init(name, at: offset, bytes: Array(text.utf8))
        }

        init(_ name: String, at offset: Int, bytes: [UInt8]) {
            self.name = name
            self.offset = offset
            self.magic = bytes
        }

        func matches(_ prefix: [UInt8]) -> Bool {
            ProbeBytes.matches(prefix, magic, at: offset)
        }
    }

    private static func firstMatch(_ signatures: [Signature], in prefix: [UInt8]) -> String? {
        signatures.first { $0.matches(prefix) }?.name
    }

    // MARK: Compressed data and image containers

    private static let containers: [Signature] = [
        Signature("gzip-compressed data", at: 0, bytes: CompressionFormat.gzip.magic),
        Signature("xz-compressed data", at: 0, bytes: CompressionFormat.xz.magic),
        Signature("zstd-compressed data", at: 0, bytes: [0x28, 0xB5, 0x2F, 0xFD]),
        Signature("lz4-compressed data", at: 0, bytes: [0x04, 0x22, 0x4D, 0x18]),
        Signature("bzip2-compressed data", at: 0, "BZh"),
        Signature("compress (.Z) data", at: 0, bytes: [0x1F, 0x9D]),
        Signature("a zip archive", at: 0, bytes: [0x50, 0x4B, 0x03, 0x04]),
        Signature("a 7-Zip archive", at: 0, bytes: [0x37, 0x7A, 0xBC, 0xAF, 0x27, 0x1C]),
        Signature("a tar archive", at: 257, "ustar"),
        Signature("a qcow2 image", at: 0, bytes: [0x51, 0x46, 0x49, 0xFB]),
        Signature("a VMDK image", at: 0, "KDMV"),
        Signature("a VMDK descriptor", at: 0, "# Disk DescriptorFile"),
        Signature("a VHDX image", at: 0, "vhdxfile"),
        Signature("a VHD image", at: 0, "conectix"),
        Signature("a VirtualBox VDI image", at: 0x40, bytes: [0x7F, 0x10, 0xDA, 0xBE]),
    ]

    private static func container(_ prefix: [UInt8]) -> String? {
        firstMatch(containers, in: prefix)
    }

    // MARK: Filesystems and volumes

    private static let filesystems: [Signature] =
        [
            Signature("xfs", at: 0, "XFSB"),
            Signature("btrfs", at: 0x10040, "_BHRfS_M"),
            Signature("a LUKS volume", at: 0, bytes: Array("LUKS".utf8) + [0xBA, 0xBE]),
            Signature("squashfs", at: 0, "hsqs"),
            Signature("f2fs", at: 0x400, bytes: [0x10, 0x20, 0xF5, 0xF2]),
            Signature("a Linux RAID member", at: 0, bytes: [0xFC, 0x4E, 0x2B, 0xA9]),
            Signature("a Linux RAID member", at: 0x1000, bytes: [0xFC, 0x4E, 0x2B, 0xA9]),
            Signature("ntfs", at: 3, "NTFS    "),
            Signature("exfat", at: 3, "EXFAT   "),
            Signature("iso9660", at: 0x8001, "CD001"),
        ] + swapSignatures + lvmSignatures

    /// Swap's signature ends the first page, whose size depends on the machine that made it.
    private static let swapSignatures = [4096, 8192, 16384, 65536].flatMap { page in
        ["SWAPSPACE2", "SWAP-SPACE"].map { Signature("swap space", at: page - 10, $0) }
    }

    /// An LVM label sits in one of the first four sectors.
    private static let lvmSignatures = (0..<4).map {
        Signature("an LVM physical volume", at: $0 * 512 + 24, "LVM2 001")
    }

    private static func filesystem(_ prefix: [UInt8]) -> String? {
        if let name = firstMatch(filesystems, in: prefix) { return name }
        return isFATBootSector(prefix) ? "vfat" : nil
    }

    /// A FAT boot sector: the boot signature and a FAT type string where FAT12/16 or FAT32 keep it.
    private static func isFATBootSector(_ prefix: [UInt8]) -> Bool {
        guard hasBootSignature(prefix) else { return false }
        return ProbeBytes.matches(prefix, "FAT", at: 54) || ProbeBytes.matches(prefix, "FAT32   ", at: 82)
    }

    // MARK: Partition tables

    private static func partitionTable(_ prefix: [UInt8]) -> String? {
        if [512, 4096].contains(where: { ProbeBytes.matches(prefix, "EFI PART", at: $0) }) {
            return "a GPT partition table"
        }
        return hasMBRPartition(prefix) ? "an MBR partition table" : nil
    }

    /// The boot signature 0x55 0xAA ending the first sector.
    private static func hasBootSignature(_ prefix: [UInt8]) -> Bool {
        ProbeBytes.matches(prefix, [0x55, 0xAA], at: 510)
    }

    /// The boot signature and at least one of the four entries at 446 with a partition type.
    private static func hasMBRPartition(_ prefix: [UInt8]) -> Bool {
        guard hasBootSignature(prefix) else { return false }
        return (0..<4).contains { prefix[446 + 16 * $0 + 4] != 0 }
    }
}
