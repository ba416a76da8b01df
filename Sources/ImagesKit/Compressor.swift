/// A compressed format ImagesKit can recognise by its first bytes.
public struct CompressionFormat: Hashable, Sendable, CustomStringConvertible {
    /// The format's short name, such as `gzip`.
    public let name: String
    /// The file name extension of a compressed raw image, such as `.img.gz`.
    public let fileExtension: String
    /// The bytes every stream of this format starts with.
    public let magic: [UInt8]

    /// Creates a format description.
    public init(name: String, fileExtension: String, magic: [UInt8]) {
        self.name = name
        self.fileExtension = fileExtension
        self.magic = magic
    }

    /// The format's short name.
    public var description: String { name }

    /// gzip (RFC 1952), the format of uploads and exports.
    public static let gzip = CompressionFormat(name: "gzip", fileExtension: ".img.gz", magic: [0x1f, 0x8b])
    /// xz, the format of liblzma.
    public static let xz = CompressionFormat(
        name: "xz", fileExtension: ".img.xz", magic: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])

    /// Whether `prefix` starts with this format's magic bytes.
    ///
    /// - Parameter prefix: The first bytes of a stream; at least as many as ``magic`` holds.
    public func matches(_ prefix: some Collection<UInt8>) -> Bool {
        prefix.count >= magic.count && zip(prefix, magic).allSatisfy { $0 == $1 }
    }
}

/// A codec: makes encoders and decoders of one compressed format.
///
/// Encoders and decoders are incremental, keep memory bounded whatever the data size, and are
/// owned by one task at a time.
public protocol Compressor: Sendable {
    /// The format this codec reads and writes.
    var format: CompressionFormat { get }

    /// Makes an encoder.
    ///
    /// - Parameter level: The compression level, 1 (fastest) to 9 (smallest).
    /// - Throws: ``ImagesKitError`` when the codec can't start.
    func makeEncoder(level: Int) throws -> any CompressionEncoder

    /// Makes a decoder that refuses to produce more than `outputLimit` bytes.
    ///
    /// - Parameter outputLimit: The most uncompressed bytes the whole stream may hold.
    /// - Throws: ``ImagesKitError`` when the codec can't start.
    func makeDecoder(outputLimit: UInt64) throws -> any CompressionDecoder

    /// Makes a decoder that may use `chunkIndex` to decode the stream's chunks in parallel.
    ///
    /// The decoder checks the stream as fully as one without the index, and refuses a stream the
    /// index does not fit. Codecs that can't use an index ignore it (the default).
    ///
    /// - Parameters:
    ///   - outputLimit: The most uncompressed bytes the whole stream may hold.
    ///   - chunkIndex: Where the stream's chunks start, from the content's facts, or `nil`.
    /// - Throws: ``ImagesKitError`` when the codec can't start.
    func makeDecoder(outputLimit: UInt64, chunkIndex: ChunkIndex?) throws -> any CompressionDecoder
}

extension Compressor {
    /// Makes a decoder that reads the stream in one piece, as codecs without parallel decoding do.
    public func makeDecoder(outputLimit: UInt64, chunkIndex: ChunkIndex?) throws -> any CompressionDecoder {
        try makeDecoder(outputLimit: outputLimit)
    }
}

/// Compresses a stream given piece by piece.
public protocol CompressionEncoder: AnyObject {
    /// Compresses `input`, handing each piece of compressed output to `output` before returning.
    ///
    /// - Parameters:
    ///   - input: The next uncompressed bytes.
    ///   - output: Receives compressed bytes; the buffer is valid only during the call.
    func encode(_ input: UnsafeRawBufferPointer, output: (UnsafeRawBufferPointer) throws -> Void) throws

    /// Ends the stream, handing the remaining compressed bytes to `output`.
    ///
    /// - Parameter output: Receives compressed bytes; the buffer is valid only during the call.
    func finish(output: (UnsafeRawBufferPointer) throws -> Void) throws

    /// Where the finished stream's independent chunks start, for encoders that write them; `nil`
    /// before ``finish(output:)`` and for streams written in one piece.
    var chunkIndex: ChunkIndex? { get }
}

extension CompressionEncoder {
    /// No index: the stream is written in one piece.
    public var chunkIndex: ChunkIndex? { nil }
}

/// Decompresses and validates a stream given piece by piece.
public protocol CompressionDecoder: AnyObject {
    /// Decompresses `input`, handing each piece of output to `output` before returning.
    ///
    /// - Parameters:
    ///   - input: The next compressed bytes.
    ///   - output: Receives uncompressed bytes; the buffer is valid only during the call.
    /// - Throws: ``ImagesKitError`` with `corrupt_data`, `trailing_data` or `image_too_large`.
    func decode(_ input: UnsafeRawBufferPointer, output: (UnsafeRawBufferPointer) throws -> Void) throws

    /// Declares the end of input and checks the stream ended cleanly.
    ///
    /// - Throws: ``ImagesKitError`` with `truncated_data` or `empty_input`.
    func finish() throws

    /// Compressed bytes consumed so far that belong to the stream itself, without padding.
    var streamByteCount: UInt64 { get }

    /// Uncompressed bytes produced so far.
    var outputByteCount: UInt64 { get }
}
