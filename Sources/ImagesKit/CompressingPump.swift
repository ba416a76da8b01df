/// Compresses a filesystem's used ranges, with zeros for the gaps, into a content writer.
final class CompressingPump {
    let encoder: any CompressionEncoder
    let writer: any ImageContentWriter
    let digest = SHA256Digest()
    /// Compressed output not yet written, in pieces of at most one chunk: an encoder can hand
    /// over many megabytes in one call, and one growing buffer would hold them up to twice
    /// over while it doubles.
    private var pending: [[UInt8]] = []
    private var pendingByteCount = 0
    /// The size of each read from the disk and of each write to the store.
    private let chunkSize: Int
    private var buffer: [UInt8]

    init(encoder: any CompressionEncoder, writer: any ImageContentWriter, chunkSize: Int) {
        self.encoder = encoder
        self.writer = writer
        self.chunkSize = chunkSize
        self.buffer = [UInt8](repeating: 0, count: chunkSize)
    }

    func compress(
        _ filesystem: ExtFilesystem, on disk: some DiskSource, progress: (UInt64) -> Void
    ) async throws {
        var ranges: [Range<UInt64>] = []
        try filesystem.forEachUsedRange(on: disk) { ranges.append($0) }
        var position: UInt64 = 0
        for range in ranges {
            try await feedZeros(count: range.lowerBound - position)
            try await feed(range, from: disk)
            position = range.upperBound
            progress(position)
        }
        try await feedZeros(count: filesystem.byteCount - position)
        try encoder.finish { keep($0) }
        try await flush(force: true)
        progress(filesystem.byteCount)
    }

    private func feed(_ range: Range<UInt64>, from disk: some DiskSource) async throws {
        var offset = range.lowerBound
        while offset < range.upperBound {
            try Task.checkCancellation()
            let count = Int(min(UInt64(buffer.count), range.upperBound - offset))
            try buffer.withUnsafeMutableBytes { chunk in
                let piece = UnsafeMutableRawBufferPointer(rebasing: chunk[..<count])
                try disk.readExactly(into: piece, at: offset)
                try encode(UnsafeRawBufferPointer(piece))
            }
            offset += UInt64(count)
            try await flush(force: false)
        }
    }

    private func feedZeros(count: UInt64) async throws {
        var remaining = count
        let zeros = [UInt8](repeating: 0, count: min(buffer.count, Int(min(count, UInt64(Int.max)))))
        while remaining > 0 {
            try Task.checkCancellation()
            let step = Int(min(UInt64(zeros.count), remaining))
            try zeros.withUnsafeBytes { try encode(UnsafeRawBufferPointer(rebasing: $0[..<step])) }
            remaining -= UInt64(step)
            try await flush(force: false)
        }
    }

    private func encode(_ bytes: UnsafeRawBufferPointer) throws {
        digest.update(bytes)
        try encoder.encode(bytes) { keep($0) }
    }

    /// Adds compressed output to the last pending piece while it has room, else to new pieces.
    private func keep(_ output: UnsafeRawBufferPointer) {
        var rest = output[...]
        while !rest.isEmpty {
            if pending.isEmpty || pending[pending.count - 1].count == chunkSize {
                pending.append([])
                pending[pending.count - 1].reserveCapacity(chunkSize)
            }
            let room = chunkSize - pending[pending.count - 1].count
            pending[pending.count - 1].append(contentsOf: rest.prefix(room))
            rest = rest.dropFirst(room)
        }
        pendingByteCount += output.count
    }

    /// Writes the pending output once it fills a chunk, or whatever there is when `force`d.
    private func flush(force: Bool) async throws {
        guard force || pendingByteCount >= chunkSize, pendingByteCount > 0 else { return }
        for piece in pending { try await writer.write(piece) }
        pending.removeAll()
        pendingByteCount = 0
    }
}
