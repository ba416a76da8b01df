import CImagesKitZlib
import ImagesKit

/// One call of `inflate` or `deflate`: what it returned and how far it moved.
struct ZlibProgress {
    /// The return code of the call.
    var code: Int32
    /// Input bytes the call consumed.
    var consumed: Int
    /// Output bytes the call wrote at the start of the output buffer.
    var produced: Int
}

/// Owns one zlib stream and the output buffer it writes into.
///
/// zlib keeps a pointer back to its `z_stream` inside its private state, so the struct must never
/// move: it lives on the heap from creation to teardown. The input and output pointers are set
/// only for the length of one call, while the buffers they point into are borrowed.
final class ZlibStream {
    /// Which way the stream runs, which picks the zlib functions to call.
    enum Direction {
        case inflate
        case deflate
    }

    private let direction: Direction
    private let stream: UnsafeMutablePointer<z_stream>
    private let outputBuffer: UnsafeMutableBufferPointer<Bytef>
    private var isStarted = false
    private var isReleased = false

    /// Allocates the stream and an output buffer; ``start(function:with:)`` initialises zlib.
    ///
    /// - Parameters:
    ///   - direction: Whether the stream inflates or deflates.
    ///   - outputCapacity: Bytes in the output buffer, at least 1.
    init(direction: Direction, outputCapacity: Int) {
        precondition(outputCapacity > 0, "a zlib output buffer needs at least one byte")
        self.direction = direction
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        outputBuffer = .allocate(capacity: min(outputCapacity, Int(UInt32.max)))
    }

    deinit {
        release()
    }

    /// Bytes the output buffer holds.
    var outputCapacity: Int { outputBuffer.count }

    /// Initialises the stream through `initialise` (a shim over zlib's init macros).
    ///
    /// - Parameters:
    ///   - function: The zlib function's name, for the error.
    ///   - role: What the stream is for, such as `gzip decoder`, for the error.
    ///   - initialise: Calls the zlib initialiser on the stream.
    /// - Throws: ``ImagesKitError`` with `invalid_state` and the ``ZlibError`` as its cause.
    func start(function: String, role: String, with initialise: (z_streamp) -> Int32) throws {
        precondition(!isStarted && !isReleased, "a zlib stream starts once")
        let code = initialise(stream)
        guard code == Z_OK else {
            let failure = error(function: function, code: code)
            throw ImagesKitError(
                .invalidState,
                "zlib could not start a \(role) (\(failure.message)); check that the process has memory left",
                cause: failure)
        }
        isStarted = true
    }

    /// Inflates or deflates from `input` into the output buffer, once.
    ///
    /// - Parameters:
    ///   - input: The bytes zlib may consume; only up to 4 GiB are offered per call.
    ///   - outputCount: The most output bytes zlib may write this call.
    ///   - flush: zlib's flush mode, such as `Z_NO_FLUSH` or `Z_FINISH`.
    /// - Returns: The return code and the bytes consumed and produced.
    func advance(input: UnsafeRawBufferPointer, outputCount: Int, flush: Int32) -> ZlibProgress {
        precondition(isStarted && !isReleased, "a zlib stream is used between start and release")
        let offered = min(input.count, Int(UInt32.max))
        let room = min(outputCount, outputBuffer.count)
        stream.pointee.next_in = input.baseAddress.map {
            UnsafeMutablePointer(mutating: $0.assumingMemoryBound(to: Bytef.self))
        }
        stream.pointee.avail_in = UInt32(offered)
        stream.pointee.next_out = outputBuffer.baseAddress
        stream.pointee.avail_out = UInt32(room)
        defer { clearBufferPointers() }

        let code = direction == .inflate ? inflate(stream, flush) : deflate(stream, flush)
        let consumed = offered - Int(stream.pointee.avail_in)
        let produced = room - Int(stream.pointee.avail_out)
        return ZlibProgress(code: code, consumed: consumed, produced: produced)
    }

    /// Lends the first `count` bytes of the output buffer, as the last ``advance`` wrote them.
    ///
    /// - Parameters:
    ///   - count: How many bytes to lend.
    ///   - body: Reads the bytes; they are valid only during the call.
    /// - Returns: What `body` returns.
    func withOutput<Result>(
        count: Int,
        _ body: (UnsafeRawBufferPointer) throws -> Result
    ) rethrows -> Result {
        precondition(count <= outputBuffer.count, "lending more than the output buffer holds")
        return try body(UnsafeRawBufferPointer(start: outputBuffer.baseAddress, count: count))
    }

    /// Prepares an inflating stream for the next gzip member, keeping its allocated window.
    ///
    /// - Throws: ``ZlibError`` when zlib reports the stream state as broken.
    func resetInflate() throws(ZlibError) {
        precondition(direction == .inflate && isStarted && !isReleased)
        let code = inflateReset(stream)
        guard code == Z_OK else { throw error(function: "inflateReset", code: code) }
    }

    /// Prepares a deflating stream for the next independent chunk, keeping its level and memory.
    ///
    /// - Throws: ``ZlibError`` when zlib reports the stream state as broken.
    func resetDeflate() throws(ZlibError) {
        precondition(direction == .deflate && isStarted && !isReleased)
        let code = deflateReset(stream)
        guard code == Z_OK else { throw error(function: "deflateReset", code: code) }
    }

    /// Builds the error for a failed call, with the message zlib left in the stream.
    ///
    /// - Parameters:
    ///   - function: The zlib function that failed.
    ///   - code: Its return code.
    /// - Returns: The error, with zlib's message or, when it left none, the code's meaning.
    func error(function: String, code: Int32) -> ZlibError {
        let text = stream.pointee.msg.map { String(cString: $0) } ?? String(cString: zError(code))
        return ZlibError(function: function, code: code, message: text)
    }

    /// Ends the zlib stream and frees its memory; later calls do nothing.
    func release() {
        guard !isReleased else { return }
        isReleased = true
        if isStarted {
            _ = direction == .inflate ? inflateEnd(stream) : deflateEnd(stream)
        }
        stream.deinitialize(count: 1)
        stream.deallocate()
        outputBuffer.deallocate()
    }

    private func clearBufferPointers() {
        stream.pointee.next_in = nil
        stream.pointee.avail_in = 0
        stream.pointee.next_out = nil
        stream.pointee.avail_out = 0
    }
}
