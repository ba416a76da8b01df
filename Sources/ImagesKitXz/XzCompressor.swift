import CImagesKitLzma
import Foundation
import ImagesKit

/// The xz codec: makes encoders and decoders of .xz streams, on liblzma.
///
/// Encoders write one stream that `xz -t` accepts. Decoders read any number of streams with stream
/// padding between and after them, and reject truncated, corrupt, trailing and unsupported data
/// with typed errors. Both run on several threads when ``threads`` is more than one.
///
/// Memory: each encoder and decoder plans its threads within ``memoryBudget``, 192 MiB by default.
/// With more than one thread allowed, an encoder is liblzma's multi-threaded one: it cuts the data
/// into blocks of ``blockSize`` bytes and keeps the LZMA2 dictionary no larger than
/// ``dictionaryLimit`` nor than a block (a block never refers to bytes before it), and it runs as
/// many threads, up to ``threads``, as liblzma's own estimate fits in the budget
/// (``encoderThreads(level:)``), never fewer than one. With the defaults, 16 MiB blocks and a
/// 4 MiB dictionary, a thread needs 95.1 MiB at levels 4 to 9 and 56.6 MiB at level 1, so the
/// default budget runs at most two threads at levels 2 to 9 and three at level 1, however many
/// processors the machine has; on the golden disk the 4 MiB dictionary costs about 0.6% of size
/// against level 6's own 8 MiB. ``encoderMemoryUsage(level:)`` gives the exact figure. With
/// `threads: 1` an encoder is liblzma's single-threaded one at the level's preset as it is,
/// outside the budget: 93 MiB at level 6, about 673 MiB at level 9.
///
/// A decoder runs up to ``threads`` threads on the blocks whose headers record their sizes, as
/// multi-threaded encoders write them, while their buffers and dictionaries fit in the budget
/// (liblzma's `memlimit_threading`); other blocks, and a block that alone needs more, decode on one
/// thread. A stream whose dictionary needs more than ``decoderMemoryLimit`` is refused before the
/// memory is taken. The decoder adds only its output buffer.
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

    /// The memory budget of each encoder and decoder unless told otherwise: 192 MiB.
    ///
    /// An operation of ImagesKit should stay under 256 MiB of memory. The rest of the process (the
    /// service's buffers, hashing, the store, the Swift runtime) peaks at about 30 MiB in gzip
    /// operations, so 64 MiB are left to it, twice that, and 192 MiB to the xz coder: two encoder
    /// threads at every level with the default block size and dictionary limit (liblzma estimates
    /// 190.2 MiB for them at levels 4 to 9), or a decoder's threads with room for several blocks.
    public static let defaultMemoryBudget: UInt64 = 192 << 20

    /// The memory a decoder may use unless told otherwise: 256 MiB, enough for every `xz` preset
    /// (a level 9 stream needs about 64 MiB).
    public static let defaultDecoderMemoryLimit: UInt64 = 256 << 20

    /// The block size of multi-threaded encoders unless told otherwise: 16 MiB.
    public static let defaultBlockSize: UInt64 = 16 << 20

    /// The largest dictionary of multi-threaded encoders unless told otherwise: 4 MiB.
    public static let defaultDictionaryLimit: UInt64 = 4 << 20

    /// The most threads an encoder or decoder runs; 1 uses liblzma's single-threaded coders.
    ///
    /// An encoder runs as many of them as ``memoryBudget`` holds (``encoderThreads(level:)``); a
    /// decoder starts as many as the blocks of a stream and the budget let it use.
    public let threads: Int

    /// The memory, in bytes, the threads of one encoder or one decoder may plan to use together.
    ///
    /// It sets how many threads an encoder runs, and it is the decoder's `memlimit_threading`: a
    /// decoder starts a block on a further thread only while the buffers and dictionaries of the
    /// blocks in hand fit in it. It never makes a coder fail: an encoder runs at least one thread,
    /// and a block too large for it decodes on one thread, up to ``decoderMemoryLimit``.
    public let memoryBudget: UInt64

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
    ///   - threads: The most threads of each encoder and decoder, at least 1; by default the machine's
    ///     active processor count. liblzma refuses more threads than it supports, and coders then fail
    ///     to start.
    ///   - memoryBudget: The memory the threads of one encoder or decoder may plan to use, in bytes.
    ///   - decoderMemoryLimit: The most memory a decoder may use, in bytes.
    ///   - blockSize: The uncompressed bytes in each block of a multi-threaded encoder, at least 1 MiB.
    ///   - dictionaryLimit: The largest dictionary of a multi-threaded encoder, at least 1 MiB.
    ///   - check: The integrity check encoders store; CRC-64 by default, as `xz` does.
    ///   - bufferSize: Bytes in each output buffer, at least 1; larger buffers mean fewer, larger
    ///     calls of the output closure.
    public init(
        threads: Int = ProcessInfo.processInfo.activeProcessorCount,
        memoryBudget: UInt64 = XzCompressor.defaultMemoryBudget,
        decoderMemoryLimit: UInt64 = XzCompressor.defaultDecoderMemoryLimit,
        blockSize: UInt64 = XzCompressor.defaultBlockSize,
        dictionaryLimit: UInt64 = XzCompressor.defaultDictionaryLimit,
        check: Check = .crc64,
        bufferSize: Int = XzCompressor.defaultBufferSize
    ) {
        precondition((1...Int(UInt32.max)).contains(threads), "an xz coder needs at least one thread")
        precondition(blockSize >= 1 << 20, "an xz block should hold at least 1 MiB")
        precondition(dictionaryLimit >= 1 << 20, "an xz dictionary should hold at least 1 MiB")
        precondition(bufferSize > 0, "an xz output buffer needs at least one byte")
        self.threads = threads
        self.memoryBudget = memoryBudget
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

    /// The number of threads an encoder at `level` runs: the most, up to ``threads``, whose memory
    /// liblzma estimates at no more than ``memoryBudget``, and never fewer than one.
    ///
    /// liblzma's estimate (`lzma_stream_encoder_mt_memusage`) counts, for each thread, the
    /// dictionary and match finder of the level's preset with the dictionary limited as
    /// ``dictionaryLimit`` says, and the input and output buffers of a block of ``blockSize`` bytes.
    ///
    /// - Parameter level: The compression level, 1 to 9.
    /// - Returns: The thread count, or `nil` for a level liblzma does not know.
    public func encoderThreads(level: Int) -> Int? {
        guard (1...9).contains(level) else { return nil }
        var fitting = 1
        var tooMany = threads + 1
        // The estimate grows with the thread count, so a binary search finds the most that fit.
        while tooMany - fitting > 1 {
            let middle = fitting + (tooMany - fitting) / 2
            if let usage = multiThreadedEncoderUsage(level: level, threads: middle), usage <= memoryBudget {
                fitting = middle
            } else {
                tooMany = middle
            }
        }
        return fitting
    }

    /// The memory, in bytes, an encoder at `level` needs with the threads ``encoderThreads(level:)``
    /// gives it, this codec's block size and dictionary limit.
    ///
    /// - Parameter level: The compression level, 1 to 9.
    /// - Returns: liblzma's estimate, or `nil` for a level it does not know.
    public func encoderMemoryUsage(level: Int) -> UInt64? {
        guard let encoderThreads = encoderThreads(level: level) else { return nil }
        guard threads > 1 else {
            let usage = lzma_easy_encoder_memusage(UInt32(level))
            return usage == .max ? nil : usage
        }
        return multiThreadedEncoderUsage(level: level, threads: encoderThreads)
    }

    /// What liblzma estimates a multi-threaded encoder at `level` with `threads` threads needs, or
    /// `nil` when it refuses the settings, such as more threads than it supports.
    private func multiThreadedEncoderUsage(level: Int, threads: Int) -> UInt64? {
        let usage = imageskit_lzma_encoder_mt_memusage(UInt32(level), UInt32(threads), blockSize, dictionaryLimit)
        return usage == .max ? nil : usage
    }
}
