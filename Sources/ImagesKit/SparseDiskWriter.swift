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

    private func flush() throws {
        try buffer.withUnsafeBytes { bytes in
            var start = 0
            while start < filled {
                let end = min(start + Self.blockSize, filled)
                let block = UnsafeRawBufferPointer(rebasing: bytes[start..<end])
                if !Self.isZero(block) {
                    try target.write(block, at: bufferOffset + UInt64(start))
                }
                start = end
            }
        }
        bufferOffset += UInt64(filled)
        filled = 0
    }

    private static func isZero(_ block: UnsafeRawBufferPointer) -> Bool {
        var index = 0
        while index + 8 <= block.count {
            if block.loadUnaligned(fromByteOffset: index, as: UInt64.self) != 0 { return false }
            index += 8
        }
        return block[index...].allSatisfy { $0 == 0 }
    }
}
