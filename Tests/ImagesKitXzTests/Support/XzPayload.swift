import ImagesKitTestSupport

/// Data to compress, the same on every run.
enum XzPayload {
    static func zeros(_ count: Int) -> [UInt8] {
        [UInt8](repeating: 0, count: count)
    }

    static func random(_ count: Int, seed: UInt64) -> [UInt8] {
        var generator = SplitMix64(seed: seed)
        return generator.bytes(count)
    }

    /// Lines of words: compresses well, though not to nothing.
    static func text(_ count: Int, seed: UInt64 = 5) -> [UInt8] {
        let words = ["xz", "stream", "block", "index", "footer", "padding", "lzma2", "filter", "check", "disk"]
        var generator = SplitMix64(seed: seed)
        var result: [UInt8] = []
        result.reserveCapacity(count + 16)
        while result.count < count {
            result += Array(words[Int(generator.next() % UInt64(words.count))].utf8)
            result.append(generator.next() % 8 == 0 ? 0x0a : 0x20)
        }
        return Array(result.prefix(count))
    }

    /// Random runs between runs of zeros, like a disk image with free space.
    static func mixed(_ count: Int, seed: UInt64) -> [UInt8] {
        var generator = SplitMix64(seed: seed)
        var result: [UInt8] = []
        result.reserveCapacity(count + 65_536)
        while result.count < count {
            let run = Int(generator.next() % 65_536) + 1
            result += generator.next() % 2 == 0 ? zeros(run) : generator.bytes(run)
        }
        return Array(result.prefix(count))
    }
}
