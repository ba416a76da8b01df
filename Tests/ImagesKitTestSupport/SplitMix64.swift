/// SplitMix64: a small seeded generator, so random test data is the same on every run.
public struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    /// Starts the sequence from `seed`.
    public init(seed: UInt64) {
        state = seed
    }

    /// The next 64 bits of the sequence.
    public mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var mixed = state
        mixed = (mixed ^ (mixed >> 30)) &* 0xbf58_476d_1ce4_e5b9
        mixed = (mixed ^ (mixed >> 27)) &* 0x94d0_49bb_1331_11eb
        return mixed ^ (mixed >> 31)
    }

    /// `count` bytes drawn from the generator.
    public mutating func bytes(_ count: Int) -> [UInt8] {
        var result = [UInt8](repeating: 0, count: count)
        result.withUnsafeMutableBytes { buffer in
            var offset = 0
            while offset < count {
                let step = min(8, count - offset)
                withUnsafeBytes(of: next().littleEndian) { word in
                    buffer[offset..<offset + step].copyBytes(from: word[..<step])
                }
                offset += step
            }
        }
        return result
    }
}
