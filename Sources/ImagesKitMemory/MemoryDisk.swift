import Foundation
import ImagesKit
import Synchronization

/// A disk in memory, sparse: only pieces that were written take memory.
///
/// Filesystem tools reach it through ``withFilePath(_:)``, which copies it to a temporary
/// file and reads the result back.
public final class MemoryDisk: DiskTarget {
    /// The disk's name.
    public let name: String

    private let state: Mutex<State>

    private static let pieceSize = 64 * 1024

    struct State {
        var byteCount: UInt64
        var pieces: [UInt64: [UInt8]] = [:]
    }

    /// Creates a zero-filled disk.
    ///
    /// - Parameters:
    ///   - name: A name for messages and default labels.
    ///   - byteCount: The disk's size in bytes.
    public init(name: String = "memory-disk", byteCount: UInt64) {
        self.name = name
        self.state = Mutex(State(byteCount: byteCount))
    }

    /// Creates a disk holding a copy of a file, such as one made by `mkfs.ext4`.
    ///
    /// - Parameters:
    ///   - path: The file to copy.
    ///   - name: A name for messages; by default the file's name.
    /// - Throws: ``ImagesKitError`` with `io_failure`.
    public convenience init(copying path: String, name: String? = nil) throws {
        let file = try FileDisk(path: path)
        self.init(name: name ?? file.name, byteCount: file.byteCount)
        try load(from: file)
    }

    /// The disk's size in bytes.
    public var byteCount: UInt64 { state.withLock { $0.byteCount } }

    /// Reads up to `buffer.count` bytes at `offset`; unwritten bytes read as zero.
    public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws -> Int {
        state.withLock { state in
            guard offset < state.byteCount else { return 0 }
            let count = Int(min(UInt64(buffer.count), state.byteCount - offset))
            var done = 0
            while done < count {
                let position = offset + UInt64(done)
                let index = position / UInt64(Self.pieceSize)
                let within = Int(position % UInt64(Self.pieceSize))
                let step = min(Self.pieceSize - within, count - done)
                let target = UnsafeMutableRawBufferPointer(rebasing: buffer[done..<done + step])
                if let piece = state.pieces[index] {
                    piece.withUnsafeBytes {
                        target.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[within..<within + step]))
                    }
                } else {
                    target.initializeMemory(as: UInt8.self, repeating: 0)
                }
                done += step
            }
            return count
        }
    }

    /// Writes `bytes` at `offset`; writing past the end fails.
    public func write(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws {
        try state.withLock { state in
            guard offset + UInt64(bytes.count) <= state.byteCount else {
                throw ImagesKitError(.ioFailure, "write past the end of memory disk \(name)")
            }
            var done = 0
            while done < bytes.count {
                let position = offset + UInt64(done)
                let index = position / UInt64(Self.pieceSize)
                let within = Int(position % UInt64(Self.pieceSize))
                let step = min(Self.pieceSize - within, bytes.count - done)
                var piece = state.pieces[index] ?? [UInt8](repeating: 0, count: Self.pieceSize)
                piece.withUnsafeMutableBytes {
                    UnsafeMutableRawBufferPointer(rebasing: $0[within..<within + step])
                        .copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[done..<done + step]))
                }
                state.pieces[index] = piece
                done += step
            }
        }
    }

    /// Changes the size; bytes past a shrunk end are dropped.
    public func resize(to byteCount: UInt64) throws {
        state.withLock { state in
            state.byteCount = byteCount
            let limit = (byteCount + UInt64(Self.pieceSize) - 1) / UInt64(Self.pieceSize)
            state.pieces = state.pieces.filter { $0.key < limit }
        }
    }

    /// Drops every written piece, so the whole disk reads as zero.
    public func eraseAll() throws {
        state.withLock { $0.pieces = [:] }
    }

    /// Does nothing: memory needs no flushing.
    public func synchronize() throws {}

    /// Copies the disk to a temporary file, runs `body` on it, and reads the file back.
    public func withFilePath<Result>(_ body: (String) async throws -> Result) async throws -> Result {
        let path = NSTemporaryDirectory() + "imageskit-memory-disk-\(UUID().uuidString).img"
        defer { unlink(path) }
        let file = try FileDisk.create(path: path, byteCount: byteCount)
        try copyPieces(to: file)
        let result = try await body(path)
        try eraseAll()
        try resize(to: file.byteCount)
        try load(from: file)
        return result
    }

    private static let zeroPiece = [UInt8](repeating: 0, count: pieceSize)

    private static func isZero(_ bytes: UnsafeRawBufferPointer) -> Bool {
        zeroPiece.withUnsafeBytes { memcmp(bytes.baseAddress!, $0.baseAddress!, bytes.count) == 0 }
    }

    private func copyPieces(to file: FileDisk) throws {
        let pieces = state.withLock { $0.pieces }
        let size = byteCount
        for (index, piece) in pieces {
            let offset = index * UInt64(Self.pieceSize)
            let count = Int(min(UInt64(piece.count), size - offset))
            try piece.withUnsafeBytes { try file.write(UnsafeRawBufferPointer(rebasing: $0[..<count]), at: offset) }
        }
    }

    private func load(from file: FileDisk) throws {
        var buffer = [UInt8](repeating: 0, count: Self.pieceSize)
        var offset: UInt64 = 0
        while true {
            let count = try buffer.withUnsafeMutableBytes { try file.read(into: $0, at: offset) }
            if count == 0 { break }
            try buffer.withUnsafeBytes { bytes in
                let piece = UnsafeRawBufferPointer(rebasing: bytes[..<count])
                if !Self.isZero(piece) { try write(piece, at: offset) }
            }
            offset += UInt64(count)
        }
    }
}
