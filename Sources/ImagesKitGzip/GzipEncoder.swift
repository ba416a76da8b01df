import CImagesKitZlib
import ImagesKit

/// Compresses a stream given piece by piece into one standard gzip member, with zlib.
///
/// The member carries no file name and a zero modification time, so the same input and level
/// always give the same bytes.
public final class GzipEncoder: CompressionEncoder {
    private static let role = "gzip encoder"

    private let zlib: ZlibStream
    private var lifecycle = CoderLifecycle.open

    /// Uncompressed bytes consumed so far.
    public private(set) var inputByteCount: UInt64 = 0

    /// Compressed bytes handed to the output so far.
    public private(set) var outputByteCount: UInt64 = 0

    /// Makes an encoder at a compression level.
    ///
    /// - Parameters:
    ///   - level: The compression level, 1 (fastest) to 9 (smallest).
    ///   - bufferSize: Bytes in the output buffer handed to the output closure, at least 1.
    /// - Throws: ``ImagesKitError`` with `invalid_argument` for a level outside 1...9, or with
    ///   `invalid_state` when zlib can't start, with ``ZlibError`` as the cause.
    public init(level: Int, bufferSize: Int = GzipCompressor.defaultBufferSize) throws {
        try Self.check(level: level)
        zlib = ZlibStream(direction: .deflate, outputCapacity: bufferSize)
        try zlib.start(function: "deflateInit2", role: "gzip encoder") { stream in
            imageskit_deflate_init(stream, Int32(level), 31)
        }
    }

    /// Compresses `input`, handing each piece of compressed output to `output` before returning.
    ///
    /// - Parameters:
    ///   - input: The next uncompressed bytes.
    ///   - output: Receives compressed bytes; the buffer is valid only during the call.
    /// - Throws: ``ImagesKitError`` with `invalid_state` after `finish` or an earlier error, or
    ///   what `output` throws. After any error the encoder takes no more calls.
    public func encode(
        _ input: UnsafeRawBufferPointer,
        output: (UnsafeRawBufferPointer) throws -> Void
    ) throws {
        try lifecycle.checkOpen(role: Self.role)
        do {
            try compress(input, flush: Z_NO_FLUSH, output: output)
        } catch {
            stop(by: error)
            throw error
        }
    }

    /// Ends the member, handing the remaining compressed bytes and the trailer to `output`.
    ///
    /// - Parameter output: Receives compressed bytes; the buffer is valid only during the call.
    /// - Throws: ``ImagesKitError`` with `invalid_state` when called again or after an error, or
    ///   what `output` throws.
    public func finish(output: (UnsafeRawBufferPointer) throws -> Void) throws {
        try lifecycle.checkOpen(role: Self.role)
        do {
            try compress(UnsafeRawBufferPointer(start: nil, count: 0), flush: Z_FINISH, output: output)
            lifecycle = .finished
            zlib.release()
        } catch {
            stop(by: error)
            throw error
        }
    }

    /// Refuses a gzip compression level outside 1...9.
    ///
    /// - Throws: ``ImagesKitError`` with `invalid_argument`, naming the range.
    static func check(level: Int) throws {
        guard (1...9).contains(level) else {
            throw ImagesKitError(
                .invalidArgument,
                "gzip level \(level) is out of range; choose a level from 1 (fastest) to 9 (smallest)",
                context: ["level": String(level)])
        }
    }

    private func stop(by error: any Error) {
        lifecycle = .stopped(by: error)
        zlib.release()
    }

    /// Deflates until zlib has consumed all of `input` and, for `Z_FINISH`, written the trailer.
    private func compress(
        _ input: UnsafeRawBufferPointer,
        flush: Int32,
        output: (UnsafeRawBufferPointer) throws -> Void
    ) throws {
        var rest = input
        var isDone = false
        while !isDone {
            let progress = zlib.advance(input: rest, outputCount: zlib.outputCapacity, flush: flush)
            rest = UnsafeRawBufferPointer(rebasing: rest[progress.consumed...])
            inputByteCount += UInt64(progress.consumed)
            if progress.produced > 0 {
                try zlib.withOutput(count: progress.produced, output)
                outputByteCount += UInt64(progress.produced)
            }
            isDone = try hasFinished(progress, flush: flush, inputLeft: !rest.isEmpty)
        }
    }

    /// Reads zlib's return code: whether this call's work is done, or why zlib failed.
    ///
    /// Without flushing, the work is done once the input is used up and zlib either left room in
    /// the buffer or could not move at all; when finishing, only at the end of the stream.
    private func hasFinished(_ progress: ZlibProgress, flush: Int32, inputLeft: Bool) throws -> Bool {
        let stalled = progress.consumed == 0 && progress.produced == 0
        switch progress.code {
        case Z_STREAM_END:
            return true
        case Z_OK, Z_BUF_ERROR:
            if flush == Z_NO_FLUSH && !inputLeft && (stalled || progress.produced < zlib.outputCapacity) {
                return true
            }
            guard !stalled else { throw zlibFailure(zlib.error(function: "deflate", code: progress.code)) }
            return false
        default:
            throw zlibFailure(zlib.error(function: "deflate", code: progress.code))
        }
    }

    private func zlibFailure(_ cause: ZlibError) -> ImagesKitError {
        ImagesKitError(
            .invalidState,
            "zlib stopped compressing after \(inputByteCount) input bytes (\(cause.message)); "
                + "try again, and report it if it happens again",
            cause: cause,
            context: ["offset": String(inputByteCount)])
    }
}
