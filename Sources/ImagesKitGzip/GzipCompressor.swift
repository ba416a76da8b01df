import Foundation
import ImagesKit

/// The gzip codec: makes encoders and decoders of gzip (RFC 1952) streams, on zlib and ISA-L.
///
/// Encoders write one standard member that `gzip -t` accepts, compressed on every core in
/// independent chunks (``ChunkedGzipEncoder``), with an index of where the chunks start.
/// Decoders read any number of members one after another, accept zero padding after the last,
/// and reject truncated, corrupt and trailing data with typed errors; given the index of a
/// chunked member, they decode its chunks on every core (``IndexedGzipDecoder``).
public struct GzipCompressor: Compressor {
    /// The output buffer size decoders use unless told otherwise: 256 KiB.
    public static let defaultBufferSize = 256 * 1024

    /// The uncompressed size of the chunks encoders write unless told otherwise: 4 MiB.
    public static let defaultChunkByteCount = 4 << 20

    /// Bytes in each decoder's output buffer.
    public let bufferSize: Int

    /// Threads that compress or decode chunks.
    public let threads: Int

    /// The uncompressed size of the chunks encoders write.
    public let chunkByteCount: Int

    /// Creates the codec.
    ///
    /// - Parameters:
    ///   - bufferSize: Bytes in each decoder's output buffer, at least 1; larger buffers mean
    ///     fewer, larger calls of the output closure.
    ///   - threads: Threads that compress or decode chunks; by default the processor count.
    ///   - chunkByteCount: The uncompressed size of the chunks encoders write, 64 KiB to 64 MiB.
    public init(
        bufferSize: Int = GzipCompressor.defaultBufferSize,
        threads: Int = ProcessInfo.processInfo.activeProcessorCount,
        chunkByteCount: Int = GzipCompressor.defaultChunkByteCount
    ) {
        precondition(bufferSize > 0, "a gzip output buffer needs at least one byte")
        self.bufferSize = bufferSize
        self.threads = max(1, threads)
        self.chunkByteCount = chunkByteCount
    }

    /// The format this codec reads and writes: ``ImagesKit/CompressionFormat/gzip``.
    public var format: CompressionFormat { .gzip }

    /// Makes an encoder that writes one gzip member in independent chunks.
    ///
    /// - Parameter level: The compression level, 1 (fastest) to 9 (smallest).
    /// - Returns: A new ``ChunkedGzipEncoder``.
    /// - Throws: ``ImagesKitError`` with `invalid_argument` for a level outside 1...9 or a chunk
    ///   size out of range.
    public func makeEncoder(level: Int) throws -> any CompressionEncoder {
        try ChunkedGzipEncoder(level: level, threads: threads, chunkByteCount: chunkByteCount)
    }

    /// Makes a decoder that refuses to produce more than `outputLimit` bytes.
    ///
    /// - Parameter outputLimit: The most uncompressed bytes the whole stream may hold.
    /// - Returns: A new ``GzipDecoder``.
    /// - Throws: ``ImagesKitError`` with `invalid_state` when zlib can't start.
    public func makeDecoder(outputLimit: UInt64) throws -> any CompressionDecoder {
        try GzipDecoder(outputLimit: outputLimit, bufferSize: bufferSize)
    }

    /// Makes a decoder that inflates the chunks `chunkIndex` describes in parallel, or, without
    /// an index or with one of another layout, a ``GzipDecoder``.
    ///
    /// - Parameters:
    ///   - outputLimit: The most uncompressed bytes the whole stream may hold.
    ///   - chunkIndex: Where the stream's chunks start, or `nil`.
    /// - Returns: A new ``IndexedGzipDecoder`` or ``GzipDecoder``.
    /// - Throws: ``ImagesKitError`` with `invalid_state` when zlib can't start.
    public func makeDecoder(outputLimit: UInt64, chunkIndex: ChunkIndex?) throws -> any CompressionDecoder {
        guard let chunkIndex, IndexedGzipDecoder.canRead(chunkIndex) else {
            return try makeDecoder(outputLimit: outputLimit)
        }
        return try IndexedGzipDecoder(chunkIndex: chunkIndex, outputLimit: outputLimit, threads: threads)
    }
}
