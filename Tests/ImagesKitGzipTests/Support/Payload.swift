import ImagesKitTestSupport

/// Test payloads of different kinds, the same on every run.
enum Payload {
    static func zeros(_ count: Int) -> [UInt8] {
        [UInt8](repeating: 0, count: count)
    }

    static func random(_ count: Int, seed: UInt64) -> [UInt8] {
        var generator = SplitMix64(seed: seed)
        return generator.bytes(count)
    }

    /// English-like text: compresses well but not trivially.
    static func text(_ count: Int) -> [UInt8] {
        let words = ["image", "disk", "ext4", "gzip", "member", "block", "inode", "deflate", "trailer", "zone"]
        var generator = SplitMix64(seed: 7)
        var result: [UInt8] = []
        while result.count < count {
            let word = words[Int(generator.next() % UInt64(words.count))]
            result.append(contentsOf: Array(word.utf8) + [generator.next() % 9 == 0 ? 0x0a : 0x20])
        }
        return Array(result.prefix(count))
    }

    /// Runs of zeros between random blocks, like a sparse disk image.
    static func sparseDisk(_ count: Int, seed: UInt64) -> [UInt8] {
        var generator = SplitMix64(seed: seed)
        var result: [UInt8] = []
        while result.count < count {
            let run = Int(generator.next() % 20_000) + 1
            result.append(contentsOf: generator.next() % 2 == 0 ? zeros(run) : generator.bytes(run))
        }
        return Array(result.prefix(count))
    }
}

extension Array {
    /// The array's elements `count` times over.
    func repeated(_ count: Int) -> [Element] {
        [[Element]](repeating: self, count: count).flatMap { $0 }
    }
}
