import CImagesKitLzma
import ImagesKit

/// Compresses a stream given piece by piece into one .xz stream, with liblzma.
///
/// With ``XzCompressor/threads`` at 1 the encoder is liblzma's easy encoder at the level's preset;
/// above 1 it is the multi-threaded encoder, on the threads ``XzCompressor/encoderThreads(level:)``
/// gives (one, when the memory budget holds no more). That one writes a block every
/// ``XzCompressor/blockSize`` bytes and records each block's sizes in its header so the
/// multi-threaded decoder can share the work. Either way the same input, level and settings always
/// give the same bytes.
public final class XzEncoder: CompressionEncoder {
    private static let role = "xz encoder"

    private let lzma: LzmaStream
    private var lifecycle = CoderLifecycle.open

    /// Uncompressed bytes consumed so far.
    public private(set) var inputByteCount: UInt64 = 0

    /// Compressed bytes handed to the output so far.
    public private(set) var outputByteCount: UInt64 = 0

    /// Makes an encoder at a compression level, with a codec's threads and memory budget, block size,
    /// check and buffer.
    ///
    /// - Parameters:
    ///   - level: The compression level, 1 (fastest) to 9 (smallest).
    ///   - codec: The settings to use; by default one ``XzCompressor`` makes.
    /// - Throws: ``ImagesKitError`` with `invalid_argument` for a level outside 1...9, or with
    ///   `invalid_state` when liblzma can't start, with ``LzmaError`` as the cause.
    public init(level: Int, codec: XzCompressor = XzCompressor()) throws {
        guard (1...9).contains(level) else {
            throw ImagesKitError(
                .invalidArgument,
                "xz level \(level) is out of range; choose a level from 1 (fastest) to 9 (smallest)",
                context: ["level": String(level)])
        }
        lzma = LzmaStream(outputCapacity: codec.bufferSize)
        let preset = UInt32(level)
        let check = codec.check.lzmaCheck
        if codec.threads > 1 {
            let threads = UInt32(codec.encoderThreads(level: level) ?? 1)
            try lzma.start(function: "lzma_stream_encoder_mt", role: Self.role) { stream in
                imageskit_lzma_encoder_mt(stream, preset, check, threads, codec.blockSize, codec.dictionaryLimit)
            }
        } else {
            try lzma.start(function: "lzma_easy_encoder", role: Self.role) { lzma_easy_encoder($0, preset, check) }
        }
    }

    /// Compresses `input`, handing each piece of compressed output to `output` before returning.
    ///
    /// - Parameters:
    ///   - input: The next uncompressed bytes.
    ///   - output: Receives compressed bytes; the buffer is valid only during the call.
    /// - Throws: ``ImagesKitError`` with `invalid_state` after `finish` or an earlier error, or
    ///   what `output` throws. After any error the encoder takes no more calls.
    public func encode(_ input: UnsafeRawBufferPointer, output: (UnsafeRawBufferPointer) throws -> Void) throws {
        try lifecycle.checkOpen(role: Self.role)
        do {
            try compress(input, action: LZMA_RUN, output: output)
        } catch {
            stop(by: error)
            throw error
        }
    }

    /// Ends the stream, handing the remaining compressed bytes, the index and the footer to `output`.
    ///
    /// - Parameter output: Receives compressed bytes; the buffer is valid only during the call.
    /// - Throws: ``ImagesKitError`` with `invalid_state` when called again or after an error, or
    ///   what `output` throws.
    public func finish(output: (UnsafeRawBufferPointer) throws -> Void) throws {
        try lifecycle.checkOpen(role: Self.role)
        do {
            try compress(UnsafeRawBufferPointer(start: nil, count: 0), action: LZMA_FINISH, output: output)
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

    /// Runs the encoder until it has consumed all of `input` and, for `LZMA_FINISH`, ended the stream.
    private func compress(
        _ input: UnsafeRawBufferPointer,
        action: lzma_action,
        output: (UnsafeRawBufferPointer) throws -> Void
    ) throws {
        var rest = input
        var isDone = false
        while !isDone {
            let progress = lzma.advance(input: rest, outputCount: lzma.outputCapacity, action: action)
            rest = UnsafeRawBufferPointer(rebasing: rest[progress.consumed...])
            inputByteCount += UInt64(progress.consumed)
            if progress.produced > 0 {
                try lzma.withOutput(count: progress.produced, output)
                outputByteCount += UInt64(progress.produced)
            }
            isDone = try hasFinished(progress, action: action, inputLeft: !rest.isEmpty)
        }
    }

    /// Reads liblzma's return code: whether this call's work is done, or why the encoder failed.
    ///
    /// While running, the work is done once the input is used up and the output buffer was not
    /// filled, so nothing waits for room; when finishing, only at the end of the stream.
    private func hasFinished(_ progress: LzmaProgress, action: lzma_action, inputLeft: Bool) throws -> Bool {
        switch progress.code {
        case LZMA_STREAM_END:
            return true
        case LZMA_OK where action == LZMA_RUN:
            return !inputLeft && progress.produced < lzma.outputCapacity
        case LZMA_BUF_ERROR where action == LZMA_RUN && !inputLeft:
            // A second call in a row with nothing to do, such as encoding an empty piece twice.
            return true
        case LZMA_OK:
            return false
        default:
            throw encoderFailure(LzmaError(function: "lzma_code", ret: progress.code))
        }
    }

    private func encoderFailure(_ cause: LzmaError) -> ImagesKitError {
        ImagesKitError(
            .invalidState,
            "liblzma stopped compressing after \(inputByteCount) input bytes (\(cause.message)); "
                + "check that the process has memory left, and report it if it happens again",
            cause: cause,
            context: ["offset": String(inputByteCount)])
    }
}
