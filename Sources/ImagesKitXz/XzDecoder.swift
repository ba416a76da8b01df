import CImagesKitLzma
import ImagesKit

/// Decompresses and validates xz data given piece by piece, with liblzma.
///
/// Streams that follow one another decode as one, with stream padding (zero bytes in groups of
/// four) between and after them. liblzma decodes each stream and checks its blocks, index and
/// integrity checks; the decoder itself reads the bytes between streams, so that bytes after a
/// complete stream that are neither padding nor another stream are reported as trailing data, where
/// liblzma's own concatenated mode would call them corrupt or, when fewer than 12, truncated.
///
/// The output is counted in 64 bits and never exceeds the output limit, and a stream whose blocks
/// need more memory than ``XzCompressor/decoderMemoryLimit`` is refused before the memory is taken.
/// With more than one thread the blocks of a stream decode in parallel within
/// ``XzCompressor/memoryBudget``, as far as the input of one ``decode(_:output:)`` call reaches: the
/// call hands over all the output its input holds before it returns, so larger pieces of input
/// keep more threads busy.
public final class XzDecoder: CompressionDecoder {
    /// Where the decoder is in the input.
    private enum Position {
        /// Before a stream: at the start of input, or after a stream or its padding.
        /// `magicBytesSeen` counts the bytes of the six-byte magic already matched.
        case streamStart(magicBytesSeen: Int)
        /// Inside a stream whose magic was matched; liblzma reads the rest of it.
        case insideStream
        /// In zero bytes after a stream; `zeroCount` counts them.
        case padding(zeroCount: UInt64)
    }

    static let magic: [UInt8] = CompressionFormat.xz.magic
    static let role = "xz decoder"
    static let whatToUpload = "upload a raw disk image compressed with xz (.img.xz)"

    let lzma: LzmaStream
    private let threads: Int
    private let threadingMemoryLimit: UInt64
    let memoryLimit: UInt64
    let outputLimit: UInt64
    private var position = Position.streamStart(magicBytesSeen: 0)
    private var lifecycle = CoderLifecycle.open
    private(set) var consumedByteCount: UInt64 = 0
    var trailingDataOffset: UInt64?
    private(set) var recentInput: RecentInput?

    /// Compressed bytes consumed so far that belong to the .xz data: the streams and the stream
    /// padding between and after them, which the .xz format counts as part of the file.
    ///
    /// For valid input this is every byte consumed, so the first `streamByteCount` bytes are always
    /// a valid .xz file once ``finish()`` succeeds. After a `trailing_data` error it is the offset
    /// where the trailing bytes start.
    public var streamByteCount: UInt64 { trailingDataOffset ?? consumedByteCount }

    /// Uncompressed bytes handed to the output so far, counted in 64 bits.
    public private(set) var outputByteCount: UInt64 = 0

    /// The number of streams decoded to their end and verified so far.
    public private(set) var streamCount = 0

    /// Makes a decoder that refuses to produce more than `outputLimit` bytes.
    ///
    /// With more than one thread it is liblzma's multi-threaded decoder, which decodes blocks in
    /// parallel, on up to ``XzCompressor/threads`` threads, when their headers record their sizes, as
    /// multi-threaded encoders write them, and while the blocks in hand fit in
    /// ``XzCompressor/memoryBudget``; for other streams, such as those of `xz -T1`, it works as the
    /// single-threaded one.
    ///
    /// - Parameters:
    ///   - outputLimit: The most uncompressed bytes the whole input may hold.
    ///   - codec: The settings to use: threads, memory budget and limit, and output buffer size.
    /// - Throws: ``ImagesKitError`` with `invalid_state` when liblzma can't start, with ``LzmaError``
    ///   as the cause.
    public init(outputLimit: UInt64, codec: XzCompressor = XzCompressor()) throws {
        self.outputLimit = outputLimit
        threads = codec.threads
        memoryLimit = codec.decoderMemoryLimit
        threadingMemoryLimit = min(codec.memoryBudget, codec.decoderMemoryLimit)
        lzma = LzmaStream(outputCapacity: codec.bufferSize)
        recentInput = threads > 1 ? RecentInput() : nil
        try startLiblzma()
    }

    /// Decompresses `input`, handing each piece of output to `output` before returning.
    ///
    /// All output the input given so far holds comes out before the call returns.
    ///
    /// - Parameters:
    ///   - input: The next compressed bytes.
    ///   - output: Receives uncompressed bytes; the buffer is valid only during the call.
    /// - Throws: ``ImagesKitError`` with `corrupt_data`, `trailing_data`, `unsupported_format` (not
    ///   xz, an unsupported filter or check, or more memory needed than the limit) or
    ///   `image_too_large`, `invalid_state` after `finish` or an earlier error, or what `output`
    ///   throws. After any error the decoder takes no more calls.
    public func decode(_ input: UnsafeRawBufferPointer, output: (UnsafeRawBufferPointer) throws -> Void) throws {
        try lifecycle.checkOpen(role: Self.role)
        do {
            var rest = input
            while !rest.isEmpty {
                rest = try consume(rest, output: output)
            }
        } catch {
            stop(by: error)
            throw error
        }
    }

    /// Declares the end of input and checks the data ended cleanly.
    ///
    /// - Throws: ``ImagesKitError`` with `empty_input` when no byte came, `truncated_data` when the
    ///   input ends inside a stream, `trailing_data` when it ends with padding that is not a
    ///   multiple of four bytes, or `invalid_state` when called again.
    public func finish() throws {
        try lifecycle.checkOpen(role: Self.role)
        do {
            try checkEnding()
            lifecycle = .finished
            lzma.release()
        } catch {
            stop(by: error)
            throw error
        }
    }

    private func stop(by error: any Error) {
        lifecycle = .stopped(by: error)
        lzma.release()
    }

    /// Sets liblzma up for one stream, without `LZMA_CONCATENATED`, so it stops at the stream's end.
    private func startLiblzma() throws(ImagesKitError) {
        let flags = imageskit_lzma_tell_unsupported_check
        if threads > 1 {
            try lzma.start(function: "lzma_stream_decoder_mt", role: Self.role) {
                [threads, threadingMemoryLimit, memoryLimit] in
                imageskit_lzma_decoder_mt($0, UInt32(threads), threadingMemoryLimit, memoryLimit, flags)
            }
        } else {
            try lzma.start(function: "lzma_stream_decoder", role: Self.role) { [memoryLimit] in
                lzma_stream_decoder($0, memoryLimit, flags)
            }
        }
    }

    private func checkEnding() throws(ImagesKitError) {
        switch position {
        case .streamStart(magicBytesSeen: 0) where streamCount > 0:
            return
        case .streamStart(magicBytesSeen: 0) where consumedByteCount == 0:
            throw ImagesKitError(.emptyInput, "the upload holds no data; \(Self.whatToUpload)")
        case .streamStart:
            throw truncatedError(cause: nil)
        case .insideStream:
            try finishInsideStream()
        case .padding(let zeroCount):
            guard zeroCount % 4 == 0 else { throw paddingError(zeroCount: zeroCount, atEnd: true) }
        }
    }

    /// Asks liblzma, with `LZMA_FINISH` and no more input, whether the open stream can end; it
    /// can't, or the stream would have ended when its last bytes came, so this names the cause.
    private func finishInsideStream() throws(ImagesKitError) {
        let none = UnsafeRawBufferPointer(start: nil, count: 0)
        var progress = lzma.advance(input: none, outputCount: 0, action: LZMA_FINISH)
        if progress.code == LZMA_OK {
            progress = lzma.advance(input: none, outputCount: 0, action: LZMA_FINISH)
        }
        switch progress.code {
        case LZMA_STREAM_END:
            streamCount += 1
        case LZMA_OK, LZMA_BUF_ERROR:
            throw truncatedError(cause: LzmaError(function: "lzma_code", ret: progress.code))
        default:
            throw rejection(progress.code)
        }
    }
}

// MARK: - Reading the input

extension XzDecoder {
    private func consume(
        _ input: UnsafeRawBufferPointer,
        output: (UnsafeRawBufferPointer) throws -> Void
    ) throws -> UnsafeRawBufferPointer {
        switch position {
        case .streamStart(let magicBytesSeen):
            return try matchMagic(input, magicBytesSeen: magicBytesSeen)
        case .insideStream:
            return try decodeStream(input, output: output)
        case .padding(let zeroCount):
            return try skipPadding(input, zeroCount: zeroCount)
        }
    }

    /// Matches the stream magic byte by byte, so bytes after a stream that don't start another are
    /// reported as trailing data and never reach liblzma.
    private func matchMagic(_ input: UnsafeRawBufferPointer, magicBytesSeen: Int) throws -> UnsafeRawBufferPointer {
        let byte = input[0]
        if magicBytesSeen == 0 && byte == 0 && streamCount > 0 {
            position = .padding(zeroCount: 0)
            return input
        }
        guard byte == Self.magic[magicBytesSeen] else {
            throw notAStreamError(input, magicBytesSeen: magicBytesSeen)
        }
        consumedByteCount += 1
        let rest = UnsafeRawBufferPointer(rebasing: input[1...])
        guard magicBytesSeen + 1 == Self.magic.count else {
            position = .streamStart(magicBytesSeen: magicBytesSeen + 1)
            return rest
        }
        try beginStream()
        return rest
    }

    /// Starts liblzma on a new stream whose magic was matched, handing it the magic.
    private func beginStream() throws {
        if streamCount > 0 {
            try startLiblzma()
        }
        recentInput?.startStream()
        let progress = Self.magic.withUnsafeBytes { lzma.advance(input: $0, outputCount: 0, action: LZMA_RUN) }
        guard progress.code == LZMA_OK, progress.consumed == Self.magic.count else {
            throw liblzmaFailure(LzmaError(function: "lzma_code", ret: progress.code))
        }
        position = .insideStream
    }

    /// Decodes until the input is used up and liblzma has nothing more to give, or the stream ends.
    ///
    /// A call that neither consumes nor produces ends the loop: only then has liblzma handed over
    /// everything the input so far holds (the multi-threaded decoder waits for its threads first).
    /// Right after a call that filled the output buffer it does not wait, so an idle call then
    /// proves nothing and the loop goes on.
    private func decodeStream(
        _ input: UnsafeRawBufferPointer,
        output: (UnsafeRawBufferPointer) throws -> Void
    ) throws -> UnsafeRawBufferPointer {
        var rest = input
        var filledOutput = false
        while true {
            let room = outputRoom()
            let progress = lzma.advance(input: rest, outputCount: room, action: LZMA_RUN)
            recentInput?.record(UnsafeRawBufferPointer(rebasing: rest[..<progress.consumed]))
            rest = UnsafeRawBufferPointer(rebasing: rest[progress.consumed...])
            consumedByteCount += UInt64(progress.consumed)
            try deliver(progress.produced, output: output)

            if try streamEnded(progress.code) { return rest }
            if progress.isStalled && !filledOutput {
                guard rest.isEmpty else { throw liblzmaFailure(LzmaError(function: "lzma_code", ret: progress.code)) }
                return rest
            }
            filledOutput = progress.produced == room
        }
    }

    /// The output room for the next call: the buffer, or one byte past the limit.
    private func outputRoom() -> Int {
        let remaining = outputLimit - outputByteCount
        return remaining >= UInt64(lzma.outputCapacity) ? lzma.outputCapacity : Int(remaining) + 1
    }

    /// Hands produced bytes to `output`, stopping at the limit before the byte that exceeds it.
    private func deliver(_ produced: Int, output: (UnsafeRawBufferPointer) throws -> Void) throws {
        guard produced > 0 else { return }
        let remaining = outputLimit - outputByteCount
        let allowed = UInt64(produced) > remaining ? Int(remaining) : produced
        if allowed > 0 {
            try lzma.withOutput(count: allowed, output)
            outputByteCount += UInt64(allowed)
        }
        guard allowed == produced else { throw tooLargeError() }
    }

    /// Reads liblzma's return code: whether the stream ended, or why the data is rejected.
    private func streamEnded(_ code: lzma_ret) throws(ImagesKitError) -> Bool {
        switch code {
        case LZMA_STREAM_END:
            streamCount += 1
            position = .streamStart(magicBytesSeen: 0)
            return true
        case LZMA_OK, LZMA_BUF_ERROR:
            return false
        default:
            throw rejection(code)
        }
    }

    /// Takes zero bytes after a stream; a non-zero byte ends the padding and must start a stream.
    private func skipPadding(_ input: UnsafeRawBufferPointer, zeroCount: UInt64) throws -> UnsafeRawBufferPointer {
        let zeros = input.prefix { $0 == 0 }.count
        consumedByteCount += UInt64(zeros)
        let total = zeroCount + UInt64(zeros)
        guard zeros < input.count else {
            position = .padding(zeroCount: total)
            return UnsafeRawBufferPointer(start: nil, count: 0)
        }
        guard total % 4 == 0 else { throw paddingError(zeroCount: total, atEnd: false) }
        position = .streamStart(magicBytesSeen: 0)
        return UnsafeRawBufferPointer(rebasing: input[zeros...])
    }
}
