/// Compresses a filesystem's used ranges, with zeros for the gaps, into a content writer.
final class CompressingPump {
    let encoder: any CompressionEncoder
    let writer: any ImageContentWriter
    let digest = SHA256Digest()
    private var pending: [UInt8] = []
    private var buffer: [UInt8]

    init(encoder: any CompressionEncoder, writer: any ImageContentWriter, chunkSize: Int) {
        self.encoder = encoder
        self.writer = writer
        self.buffer = [UInt8](repeating: 0, count: chunkSize)
        pending.reserveCapacity(chunkSize * 2)
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
        try encoder.finish { pending.append(contentsOf: $0) }
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
        try encoder.encode(bytes) { pending.append(contentsOf: $0) }
    }

    private func flush(force: Bool) async throws {
        guard force || pending.count >= buffer.count, !pending.isEmpty else { return }
        try await writer.write(pending)
        pending.removeAll(keepingCapacity: true)
    }
}
