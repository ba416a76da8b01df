import Foundation
import ImagesKitMemory
import ImagesKitTestSupport
import Testing

@testable import ImagesKit

/// The deploy's writer puts every byte where it belongs, writes no block of zeros, and asks for
/// early writeback, however the stream is cut.
@Suite("Sparse disk writer")
struct SparseDiskWriterTests {
    /// A memory disk that remembers every write and writeback hint.
    final class RecordingDisk: DiskTarget, @unchecked Sendable {
        let disk: MemoryDisk
        private(set) var writes: [Range<UInt64>] = []
        private(set) var writebacks: [Range<UInt64>] = []

        init(byteCount: UInt64) { disk = MemoryDisk(byteCount: byteCount) }

        var name: String { disk.name }
        var byteCount: UInt64 { disk.byteCount }
        func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws -> Int {
            try disk.read(into: buffer, at: offset)
        }
        func write(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws {
            writes.append(offset..<offset + UInt64(bytes.count))
            try disk.write(bytes, at: offset)
        }
        func resize(to byteCount: UInt64) throws { try disk.resize(to: byteCount) }
        func eraseAll() throws { try disk.eraseAll() }
        func synchronize() throws {}
        func startWriteback(_ range: Range<UInt64>) { writebacks.append(range) }
        func withFilePath<Result>(_ body: (String) async throws -> Result) async throws -> Result {
            try await disk.withFilePath(body)
        }
    }

    /// Blocks of random bytes and of zeros, with an odd tail.
    static func stream(blocks: Int) -> [UInt8] {
        var generator = SplitMix64(seed: 17)
        var bytes: [UInt8] = []
        for block in 0..<blocks {
            bytes += block % 3 == 0 ? [UInt8](repeating: 0, count: 4096) : generator.bytes(4096)
        }
        return bytes + generator.bytes(1234)
    }

    @Test(
        "every piece size gives the same disk, and no write covers a zero block", arguments: [7, 4095, 70_000, 1 << 20])
    func piecesOfEverySize(piece: Int) throws {
        let original = Self.stream(blocks: 2500)
        let disk = RecordingDisk(byteCount: UInt64(original.count))
        let writer = SparseDiskWriter(target: disk, chunkSize: 256 << 10)
        try original.withUnsafeBytes { all in
            var start = 0
            while start < all.count {
                let end = min(start + piece, all.count)
                try writer.append(UnsafeRawBufferPointer(rebasing: all[start..<end]))
                start = end
            }
        }
        try writer.finish()

        var read = [UInt8](repeating: 0xff, count: original.count)
        _ = try read.withUnsafeMutableBytes { try disk.read(into: $0, at: 0) }
        let same = read == original
        #expect(same)
        let zeroBlock = [UInt8](repeating: 0, count: 4096)
        let writesOfZeros = disk.writes.filter { range in
            stride(from: range.lowerBound, to: range.upperBound, by: 4096).contains { offset in
                let end = min(Int(offset) + 4096, original.count)
                return original[Int(offset)..<end].elementsEqual(zeroBlock.prefix(end - Int(offset)))
            }
        }
        #expect(writesOfZeros.isEmpty)
        #expect(!disk.writebacks.isEmpty)
    }
}
