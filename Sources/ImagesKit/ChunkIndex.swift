/// Where the independent chunks of a stored stream start, so a reader can decode them at once
/// on several cores and pass over chunks that only hold zeros.
///
/// A stream with an index is still one standard stream: the index is a hint kept beside it in
/// the record, never needed to read it. A reader that uses it checks every chunk against the
/// stream's own checks (sizes, CRC-32) and the stored bytes' SHA-256, so a wrong index fails a
/// read; it can't change what is read.
///
/// The stream is laid out as a header of ``headerByteCount`` bytes, then one chunk after another,
/// each ``compressedByteCounts``[i] bytes long, then the format's trailer. Every chunk but the
/// last decodes on its own to exactly ``chunkByteCount`` bytes; the last to at most that.
public struct ChunkIndex: Hashable, Sendable, Codable {
    /// Uncompressed bytes in every chunk but the last.
    public var chunkByteCount: Int
    /// Bytes of the format's header before the first chunk.
    public var headerByteCount: Int
    /// Bytes of the format's trailer after the last chunk.
    public var trailerByteCount: Int
    /// The compressed size of each chunk, in stream order.
    public var compressedByteCounts: [Int]

    /// The smallest and largest chunk sizes a reader accepts: 64 KiB to 64 MiB.
    public static let chunkByteCountRange = (64 << 10)...(64 << 20)

    /// Creates an index.
    public init(chunkByteCount: Int, headerByteCount: Int, trailerByteCount: Int, compressedByteCounts: [Int]) {
        self.chunkByteCount = chunkByteCount
        self.headerByteCount = headerByteCount
        self.trailerByteCount = trailerByteCount
        self.compressedByteCounts = compressedByteCounts
    }

    enum CodingKeys: String, CodingKey {
        case chunkByteCount = "chunk_bytes"
        case headerByteCount = "header_bytes"
        case trailerByteCount = "trailer_bytes"
        case compressedByteCounts = "compressed_chunk_bytes"
    }

    /// Why this index can't describe a stream of `compressedByteCount` bytes holding
    /// `uncompressedByteCount` bytes, or `nil` when it can.
    ///
    /// - Parameters:
    ///   - compressedByteCount: The whole stream's size.
    ///   - uncompressedByteCount: What the stream decodes to.
    /// - Returns: A short reason, for messages, or `nil`.
    public func mismatch(compressedByteCount: UInt64, uncompressedByteCount: UInt64) -> String? {
        guard hasPossibleSizes else {
            return "its chunk, header, trailer or compressed chunk sizes are out of range"
        }
        let expectedChunks = max(1, (uncompressedByteCount + UInt64(chunkByteCount) - 1) / UInt64(chunkByteCount))
        guard UInt64(compressedByteCounts.count) == expectedChunks else {
            return "it lists \(compressedByteCounts.count) chunks where the image needs \(expectedChunks)"
        }
        let total = compressedByteCounts.reduce(UInt64(headerByteCount + trailerByteCount)) { $0 + UInt64($1) }
        guard total == compressedByteCount else {
            return "its chunks add up to \(total) bytes where the stream holds \(compressedByteCount)"
        }
        return nil
    }

    /// Whether every size is one some stream can have: a chunk size in ``chunkByteCountRange``,
    /// a header and trailer of at most 4 KiB, at least one chunk, and every chunk between 1 byte
    /// and ``largestChunk(_:)``. Readers check this before they size buffers from the index.
    public var hasPossibleSizes: Bool {
        Self.chunkByteCountRange.contains(chunkByteCount) && (0...4096).contains(headerByteCount)
            && (0...4096).contains(trailerByteCount) && !compressedByteCounts.isEmpty
            && compressedByteCounts.allSatisfy { (1...Self.largestChunk(chunkByteCount)).contains($0) }
    }

    /// The most compressed bytes a chunk of `chunkByteCount` bytes may take: deflate and xz both
    /// expand incompressible data by well under 1/16, plus a fixed overhead.
    public static func largestChunk(_ chunkByteCount: Int) -> Int {
        chunkByteCount + chunkByteCount / 16 + 4096
    }
}
