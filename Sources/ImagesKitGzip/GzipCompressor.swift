import ImagesKit

/// The gzip codec: makes encoders and decoders of gzip (RFC 1952) streams, on zlib.
///
/// Encoders write one standard member that `gzip -t` accepts. Decoders read any number of
/// members one after another, accept zero padding after the last, and reject truncated,
/// corrupt and trailing data with typed errors.
public struct GzipCompressor: Compressor {
    /// The output buffer size encoders and decoders use unless told otherwise: 256 KiB.
    public static let defaultBufferSize = 256 * 1024

    /// Bytes in each encoder's and decoder's output buffer.
    public let bufferSize: Int

    /// Creates the codec.
    ///
    /// - Parameter bufferSize: Bytes in each output buffer, at least 1; larger buffers mean
    ///   fewer, larger calls of the output closure.
    public init(bufferSize: Int = GzipCompressor.defaultBufferSize) {
        precondition(bufferSize > 0, "a gzip output buffer needs at least one byte")
        self.bufferSize = bufferSize
    }

    /// The format this codec reads and writes: ``ImagesKit/CompressionFormat/gzip``.
    public var format: CompressionFormat { .gzip }

    /// Makes an encoder that writes one gzip member.
    ///
    /// - Parameter level: The compression level, 1 (fastest) to 9 (smallest).
    /// - Returns: A new ``GzipEncoder``.
    /// - Throws: ``ImagesKitError`` with `invalid_argument` for a level outside 1...9, or with
    ///   `invalid_state` when zlib can't start.
    public func makeEncoder(level: Int) throws -> any CompressionEncoder {
        try GzipEncoder(level: level, bufferSize: bufferSize)
    }

    /// Makes a decoder that refuses to produce more than `outputLimit` bytes.
    ///
    /// - Parameter outputLimit: The most uncompressed bytes the whole stream may hold.
    /// - Returns: A new ``GzipDecoder``.
    /// - Throws: ``ImagesKitError`` with `invalid_state` when zlib can't start.
    public func makeDecoder(outputLimit: UInt64) throws -> any CompressionDecoder {
        try GzipDecoder(outputLimit: outputLimit, bufferSize: bufferSize)
    }
}
