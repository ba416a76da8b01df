/// Writes a stream to a freshly erased disk, skipping blocks that are all zeros.
///
/// Pieces of at least a buffer's size are written straight from the caller's memory; smaller
/// ones are gathered first. Every run of non-zero blocks is one write, and writeback to storage
/// is started as the stream goes, so the final flush has little left to wait for.
final class SparseDiskWriter {
    private let target: any DiskTarget
    private var buffer: [UInt8]
    private var filled = 0
    private var offset: UInt64 = 0
    private var writtenBack: UInt64 = 0

    private static let blockSize = 4096
    private static let writebackStep: UInt64 = 8 << 20

    init(target: any DiskTarget, chunkSize: Int) {
        self.target = target
        self.buffer = [UInt8](repeating: 0, count: max(chunkSize, Self.blockSize))
    }

    func append(_ bytes: UnsafeRawBufferPointer) throws {
        var consumed = 0
        while consumed < bytes.count {
            let rest = UnsafeRawBufferPointer(rebasing: bytes[consumed...])
            if filled == 0 && rest.count >= buffer.count {
                let whole = rest.count - rest.count % Self.blockSize
                try writeRuns(UnsafeRawBufferPointer(rebasing: rest[..<whole]))
                consumed += whole
                continue
            }
            let step = min(buffer.count - filled, rest.count)
            buffer.withUnsafeMutableBytes { destination in
                UnsafeMutableRawBufferPointer(rebasing: destination[filled..<filled + step])
                    .copyMemory(from: UnsafeRawBufferPointer(rebasing: rest[..<step]))
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
        let count = filled
        filled = 0
        try buffer.withUnsafeBytes { try writeRuns(UnsafeRawBufferPointer(rebasing: $0[..<count])) }
    }

    /// Writes the runs of non-zero blocks in `bytes`, which start at the stream's current offset.
    private func writeRuns(_ bytes: UnsafeRawBufferPointer) throws {
        var start = 0
        while start < bytes.count {
            let runStart = Self.firstBlock(in: bytes, from: start, zero: false)
            guard runStart < bytes.count else { break }
            let runEnd = Self.firstBlock(in: bytes, from: runStart, zero: true)
            try target.write(UnsafeRawBufferPointer(rebasing: bytes[runStart..<runEnd]), at: offset + UInt64(runStart))
            start = runEnd
        }
        offset += UInt64(bytes.count)
        if offset - writtenBack >= Self.writebackStep {
            target.startWriteback(writtenBack..<offset)
            writtenBack = offset
        }
    }

    /// The offset of the first block from `start` that is (or, with `zero` false, is not) all
    /// zeros, or the end of `bytes`.
    private static func firstBlock(in bytes: UnsafeRawBufferPointer, from start: Int, zero: Bool) -> Int {
        var offset = start
        while offset < bytes.count {
            let end = min(offset + blockSize, bytes.count)
            if ZeroScan.isAllZero(UnsafeRawBufferPointer(rebasing: bytes[offset..<end])) == zero { return offset }
            offset = end
        }
        return bytes.count
    }
}
