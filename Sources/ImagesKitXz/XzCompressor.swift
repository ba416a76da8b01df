import CImagesKitLzma
import Foundation
import ImagesKit

/// The xz codec: makes encoders and decoders of .xz streams, on liblzma.
///
/// Encoders write one stream that `xz -t` accepts. Decoders read any number of streams with stream
/// padding between and after them, and reject truncated, corrupt, trailing and unsupported data
/// with typed errors. Both run on several threads when ``threads`` is more than one.
///
/// Memory: a multi-threaded encoder cuts the data into blocks of ``blockSize`` bytes and keeps the
/// LZMA2 dictionary no larger than ``dictionaryLimit`` nor than a block (a block never refers to
/// bytes before it). With the defaults, 16 MiB blocks and a 4 MiB dictionary, each thread needs
/// at most about 96 MiB at any level (57 MiB at level 1), so two threads stay well under 256 MiB;
/// on the golden disk the 4 MiB dictionary costs about 0.6% of size against level 6's own
/// 8 MiB. ``encoderMemoryUsage(level:)`` gives the exact figure. A single-threaded encoder uses liblzma's preset as it is: about 673 MiB
/// at level 9. What liblzma takes for a decoder, its threads and their buffers included, stays
/// within ``decoderMemoryLimit``; the decoder adds only its output buffer.
public struct XzCompressor: Compressor {
    /// The integrity check an encoder stores with each block.
    public enum Check: Sendable, CaseIterable {
        /// No check; the image's own SHA-256 is then the only guard against corruption.
        case none
        /// CRC-32.
        case crc32
        /// CRC-64, what the `xz` tool uses by default.
        case crc64
        /// SHA-256.
        case sha256

        var lzmaCheck: lzma_check {
            switch self {
            case .none: LZMA_CHECK_NONE
            case .crc32: LZMA_CHECK_CRC32
            case .crc64: LZMA_CHECK_CRC64
            case .sha256: LZMA_CHECK_SHA256
            }
        }
    }

    /// The output buffer size encoders and decoders use unless told otherwise: 256 KiB.
    public static let defaultBufferSize = 256 * 1024

    /// The memory a decoder may use unless told otherwise: 256 MiB, enough for every `xz` preset
    /// (a level 9 stream needs about 64 MiB) with room for threads.
    public static let defaultDecoderMemoryLimit: UInt64 = 256 << 20

    /// The block size of multi-threaded encoders unless told otherwise: 16 MiB.
    public static let defaultBlockSize: UInt64 = 16 << 20

    /// The largest dictionary of multi-threaded encoders unless told otherwise: 4 MiB.
    public static let defaultDictionaryLimit: UInt64 = 4 << 20

    /// The number of threads encoders and decoders run; 1 uses liblzma's single-threaded coders.
    public let threads: Int

    /// The most memory, in bytes, a decoder may use; a stream that needs more is refused before
    /// the memory is allocated.
    public let decoderMemoryLimit: UInt64

    /// The uncompressed bytes in each block a multi-threaded encoder writes.
    public let blockSize: UInt64

    /// The largest LZMA2 dictionary, in bytes, a multi-threaded encoder uses; smaller than a
    /// level's own dictionary, it trades a little size for much less memory per thread.
    public let dictionaryLimit: UInt64

    /// The integrity check encoders store.
    public let check: Check

    /// Bytes in each encoder's and decoder's output buffer.
    public let bufferSize: Int

    /// Creates the codec.
    ///
    /// - Parameters:
    ///   - threads: Threads for each encoder and decoder, at least 1; by default the machine's active
    ///     processor count. liblzma refuses more threads than it supports, and coders then fail to start.
    ///   - decoderMemoryLimit: The most memory a decoder may use, in bytes.
    ///   - blockSize: The uncompressed bytes in each block of a multi-threaded encoder, at least 1 MiB.
    ///   - dictionaryLimit: The largest dictionary of a multi-threaded encoder, at least 1 MiB.
    ///   - check: The integrity check encoders store; CRC-64 by default, as `xz` does.
    ///   - bufferSize: Bytes in each output buffer, at least 1; larger buffers mean fewer, larger
    ///     calls of the output closure.
    public init(
        threads: Int = ProcessInfo.processInfo.activeProcessorCount,
        decoderMemoryLimit: UInt64 = XzCompressor.defaultDecoderMemoryLimit,
        blockSize: UInt64 = XzCompressor.defaultBlockSize,
        dictionaryLimit: UInt64 = XzCompressor.defaultDictionaryLimit,
        check: Check = .crc64,
        bufferSize: Int = XzCompressor.defaultBufferSize
    ) {
        // TODO(#6): derive the default threads from a memory budget, so many cores can't exceed it.
        precondition((1...Int(UInt32.max)).contains(threads), "an xz coder needs at least one thread")
        precondition(blockSize >= 1 << 20, "an xz block should hold at least 1 MiB")
        precondition(dictionaryLimit >= 1 << 20, "an xz dictionary should hold at least 1 MiB")
        precondition(bufferSize > 0, "an xz output buffer needs at least one byte")
        self.threads = threads
        self.decoderMemoryLimit = decoderMemoryLimit
        self.blockSize = blockSize
        self.dictionaryLimit = dictionaryLimit
        self.check = check
        self.bufferSize = bufferSize
    }

    /// The format this codec reads and writes: ``ImagesKit/CompressionFormat/xz``.
    public var format: CompressionFormat { .xz }

    /// Makes an encoder that writes one xz stream.
    ///
    /// - Parameter level: The compression level, 1 (fastest) to 9 (smallest).
    /// - Returns: A new ``XzEncoder``.
    /// - Throws: ``ImagesKitError`` with `invalid_argument` for a level outside 1...9, or with
    ///   `invalid_state` when liblzma can't start.
    public func makeEncoder(level: Int) throws -> any CompressionEncoder {
        try XzEncoder(level: level, codec: self)
    }

    /// Makes a decoder that refuses to produce more than `outputLimit` bytes.
    ///
    /// - Parameter outputLimit: The most uncompressed bytes the whole input may hold.
    /// - Returns: A new ``XzDecoder``.
    /// - Throws: ``ImagesKitError`` with `invalid_state` when liblzma can't start.
    public func makeDecoder(outputLimit: UInt64) throws -> any CompressionDecoder {
        try XzDecoder(outputLimit: outputLimit, codec: self)
    }

    /// The memory, in bytes, an encoder at `level` needs with this codec's threads, block size and
    /// dictionary limit.
    ///
    /// - Parameter level: The compression level, 1 to 9.
    /// - Returns: liblzma's estimate, or `nil` for a level it does not know.
    public func encoderMemoryUsage(level: Int) -> UInt64? {
        guard (1...9).contains(level) else { return nil }
        let usage =
            threads > 1
            ? imageskit_lzma_encoder_mt_memusage(UInt32(level), UInt32(threads), blockSize, dictionaryLimit)
            : lzma_easy_encoder_memusage(UInt32(level))
        return usage == .max ? nil : usage
    }
}
