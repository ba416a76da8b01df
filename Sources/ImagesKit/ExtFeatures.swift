/// The three feature masks of an ext superblock: compatible, incompatible and read-only compatible.
struct ExtFeatures: Sendable, Equatable {
    /// One feature: the mask it lives in and its bit.
    struct Feature {
        enum Mask: CaseIterable {
            case compatible, incompatible, readOnly

            /// The letter `dumpe2fs` puts in the name of a bit it can't name (`FEATURE_I20`).
            var letter: String {
                switch self {
                case .compatible: "C"
                case .incompatible: "I"
                case .readOnly: "R"
                }
            }
        }

        let mask: Mask
        let bit: UInt32
    }

    let compatible: UInt32
    let incompatible: UInt32
    let readOnly: UInt32

    /// Whether the feature's bit is set.
    func contains(_ feature: Feature) -> Bool {
        value(of: feature.mask) & feature.bit != 0
    }

    private func value(of mask: Feature.Mask) -> UInt32 {
        switch mask {
        case .compatible: compatible
        case .incompatible: incompatible
        case .readOnly: readOnly
        }
    }

    /// Whether a feature that ext3 lacks is set, which makes the filesystem ext4.
    ///
    /// ext3 knows the compatible features before fast_commit, the incompatible features filetype,
    /// needs_recovery, journal_dev and meta_bg, and the read-only features sparse_super,
    /// large_file and btree_dir; anything else needs ext4.
    var hasExt4OnlyFeature: Bool {
        let ext4OnlyCompatible: UInt32 = 0x0400 | 0x0800 | 0x1000
        let ext3Incompatible: UInt32 = 0x0002 | 0x0004 | 0x0008 | 0x0010
        let ext3ReadOnly: UInt32 = 0x0001 | 0x0002 | 0x0004
        return compatible & ext4OnlyCompatible != 0 || incompatible & ~ext3Incompatible != 0
            || readOnly & ~ext3ReadOnly != 0
    }

    /// The names of the set bits, compatible first, as `dumpe2fs` lists them.
    var names: [String] {
        Feature.Mask.allCases.flatMap { mask in
            (0..<32).compactMap { shift -> String? in
                let bit = UInt32(1) << UInt32(shift)
                guard value(of: mask) & bit != 0 else { return nil }
                return Self.knownNames[mask]?[bit] ?? "FEATURE_\(mask.letter)\(shift)"
            }
        }
    }

    /// The names of set incompatible bits whose layout ImagesKit does not know.
    var unknownIncompatibleNames: [String] {
        let unknown = ExtFeatures(compatible: 0, incompatible: incompatible & ~Self.knownIncompatible, readOnly: 0)
        return unknown.names
    }

    /// Incompatible features whose on-disk layout the probe understands or that leave it unchanged.
    private static let knownIncompatible: UInt32 =
        (Self.knownNames[.incompatible] ?? [:]).keys.reduce(0, |)
        & ~0x0001  // compression was never finished; its blocks can't be trusted

    private static let knownNames: [Feature.Mask: [UInt32: String]] = [
        .compatible: [
            0x0001: "dir_prealloc", 0x0002: "imagic_inodes", 0x0004: "has_journal", 0x0008: "ext_attr",
            0x0010: "resize_inode", 0x0020: "dir_index", 0x0040: "lazy_bg", 0x0080: "snapshot_exclude",
            0x0100: "snapshot_bitmap", 0x0200: "sparse_super2", 0x0400: "fast_commit",
            0x0800: "stable_inodes", 0x1000: "orphan_file",
        ],
        .incompatible: [
            0x0001: "compression", 0x0002: "filetype", 0x0004: "needs_recovery", 0x0008: "journal_dev",
            0x0010: "meta_bg", 0x0040: "extent", 0x0080: "64bit", 0x0100: "mmp", 0x0200: "flex_bg",
            0x0400: "ea_inode", 0x1000: "dirdata", 0x2000: "metadata_csum_seed", 0x4000: "large_dir",
            0x8000: "inline_data", 0x10000: "encrypt", 0x20000: "casefold",
        ],
        .readOnly: [
            0x0001: "sparse_super", 0x0002: "large_file", 0x0004: "btree_dir", 0x0008: "huge_file",
            0x0010: "uninit_bg", 0x0020: "dir_nlink", 0x0040: "extra_isize", 0x0080: "snapshot",
            0x0100: "quota", 0x0200: "bigalloc", 0x0400: "metadata_csum", 0x0800: "replica",
            0x1000: "read-only", 0x2000: "project", 0x4000: "shared_blocks", 0x8000: "verity",
            0x10000: "orphan_present",
        ],
    ]
}

extension ExtFeatures.Feature {
    static let hasJournal = Self(mask: .compatible, bit: 0x0004)
    static let resizeInode = Self(mask: .compatible, bit: 0x0010)
    static let sparseSuper2 = Self(mask: .compatible, bit: 0x0200)
    static let needsRecovery = Self(mask: .incompatible, bit: 0x0004)
    static let journalDevice = Self(mask: .incompatible, bit: 0x0008)
    static let metaGroups = Self(mask: .incompatible, bit: 0x0010)
    static let is64Bit = Self(mask: .incompatible, bit: 0x0080)
    static let flexibleGroups = Self(mask: .incompatible, bit: 0x0200)
    static let checksumSeed = Self(mask: .incompatible, bit: 0x2000)
    static let sparseSuper = Self(mask: .readOnly, bit: 0x0001)
    static let groupDescriptorChecksums = Self(mask: .readOnly, bit: 0x0010)
    static let bigalloc = Self(mask: .readOnly, bit: 0x0200)
    static let metadataChecksums = Self(mask: .readOnly, bit: 0x0400)
}
