/// Writes a stream to a freshly erased disk, skipping blocks that are all zeros.
final class SparseDiskWriter {
    private let target: any DiskTarget
    private var buffer: [UInt8]
    private var filled = 0
    private var bufferOffset: UInt64 = 0

    private static let blockSize = 4096

    init(target: any DiskTarget, chunkSize: Int) {
        self.target = target
        self.buffer = [UInt8](repeating: 0, count: max(chunkSize, Self.blockSize))
    }

    func append(_ bytes: UnsafeRawBufferPointer) throws {
        var consumed = 0
        while consumed < bytes.count {
            let step = min(buffer.count - filled, bytes.count - consumed)
            buffer.withUnsafeMutableBytes { destination in
                let source = UnsafeRawBufferPointer(rebasing: bytes[consumed..<consumed + step])
                UnsafeMutableRawBufferPointer(rebasing: destination[filled..<filled + step]).copyMemory(from: source)
            }
            filled += step
            consumed += step
            if filled == buffer.count { try flush() }
        }
    }

    func finish() throws {
        try flush()
    }

    /// Writes the buffer's runs of non-zero blocks, one write per run.
    private func flush() throws {
        try buffer.withUnsafeBytes { bytes in
            var start = 0
            while start < filled {
                let runStart = firstBlock(in: bytes, from: start, zero: false)
                guard runStart < filled else { break }
                let runEnd = firstBlock(in: bytes, from: runStart, zero: true)
                try target.write(
                    UnsafeRawBufferPointer(rebasing: bytes[runStart..<runEnd]), at: bufferOffset + UInt64(runStart))
                start = runEnd
            }
        }
        bufferOffset += UInt64(filled)
        filled = 0
    }

    /// The offset of the first block from `start` that is (or, with `zero` false, is not) all
    /// zeros, or the end of the filled part.
    private func firstBlock(in bytes: UnsafeRawBufferPointer, from start: Int, zero: Bool) -> Int {
        var offset = start
        while offset < filled {
            let end = min(offset + Self.blockSize, filled)
            if Self.isZero(UnsafeRawBufferPointer(rebasing: bytes[offset..<end])) == zero { return offset }
            offset = end
        }
        return filled
    }

    private static func isZero(_ block: UnsafeRawBufferPointer) -> Bool {
        var index = 0
        while index + 32 <= block.count {
            let first = block.loadUnaligned(fromByteOffset: index, as: UInt64.self)
            let second = block.loadUnaligned(fromByteOffset: index + 8, as: UInt64.self)
            let third = block.loadUnaligned(fromByteOffset: index + 16, as: UInt64.self)
            let fourth = block.loadUnaligned(fromByteOffset: index + 24, as: UInt64.self)
            if first | second | third | fourth != 0 { return false }
            index += 32
        }
        return block[index...].allSatisfy { $0 == 0 }
    }
}
