import CImagesKitLzma
import ImagesKit

/// One call of `lzma_code`: what it returned and how far it moved.
struct LzmaProgress {
    /// The return code of the call.
    var code: lzma_ret
    /// Input bytes the call consumed.
    var consumed: Int
    /// Output bytes the call wrote at the start of the output buffer.
    var produced: Int

    /// Whether the call neither consumed nor produced a byte.
    var isStalled: Bool { consumed == 0 && produced == 0 }
}

/// Owns one liblzma stream and the output buffer it writes into.
///
/// The multi-threaded coders keep pointers to the `lzma_stream`, so the struct must never move: it
/// lives on the heap from creation to teardown. The input and output pointers are set only for the
/// length of one call, while the buffers they point into are borrowed.
final class LzmaStream {
    private let stream: UnsafeMutablePointer<lzma_stream>
    private let outputBuffer: UnsafeMutableBufferPointer<UInt8>
    private var isStarted = false
    private var isReleased = false

    /// Allocates the stream and an output buffer; ``start(function:role:with:)`` sets up a coder.
    ///
    /// - Parameter outputCapacity: Bytes in the output buffer, at least 1.
    init(outputCapacity: Int) {
        precondition(outputCapacity > 0, "an lzma output buffer needs at least one byte")
        stream = .allocate(capacity: 1)
        imageskit_lzma_stream_clear(stream)
        outputBuffer = .allocate(capacity: outputCapacity)
    }

    deinit {
        release()
    }

    /// Bytes the output buffer holds.
    var outputCapacity: Int { outputBuffer.count }

    /// The memory the coder uses now, or for a decoder refused by its limit, the memory it needed.
    var memoryUsage: UInt64 { lzma_memusage(stream) }

    /// Sets up a coder through `initialise`; called again, it replaces the coder, keeping what
    /// liblzma can reuse.
    ///
    /// - Parameters:
    ///   - function: The liblzma function's name, for the error.
    ///   - role: What the stream is for, such as `xz decoder`, for the error.
    ///   - initialise: Calls the liblzma initialiser on the stream.
    /// - Throws: ``ImagesKitError`` with `invalid_state` and the ``LzmaError`` as its cause.
    func start(
        function: String,
        role: String,
        with initialise: (UnsafeMutablePointer<lzma_stream>) -> lzma_ret
    ) throws(ImagesKitError) {
        precondition(!isReleased, "an lzma stream starts before it is released")
        let code = initialise(stream)
        guard code == LZMA_OK else {
            let failure = LzmaError(function: function, ret: code)
            throw ImagesKitError(
                .invalidState,
                "liblzma could not start a \(role) (\(failure.message)); check that the process has memory "
                    + "left and that liblzma is 5.4 or later",
                cause: failure)
        }
        isStarted = true
    }

    /// Runs the coder once from `input` into the output buffer.
    ///
    /// - Parameters:
    ///   - input: The bytes liblzma may consume.
    ///   - outputCount: The most output bytes liblzma may write this call; 0 lets it write none.
    ///   - action: `LZMA_RUN`, or `LZMA_FINISH` once no more input will come.
    /// - Returns: The return code and the bytes consumed and produced.
    func advance(input: UnsafeRawBufferPointer, outputCount: Int, action: lzma_action) -> LzmaProgress {
        precondition(isStarted && !isReleased, "an lzma stream is used between start and release")
        let room = min(outputCount, outputBuffer.count)
        stream.pointee.next_in = input.baseAddress?.assumingMemoryBound(to: UInt8.self)
        stream.pointee.avail_in = input.count
        stream.pointee.next_out = outputBuffer.baseAddress
        stream.pointee.avail_out = room
        defer { clearBufferPointers() }

        let code = lzma_code(stream, action)
        let consumed = input.count - stream.pointee.avail_in
        let produced = room - stream.pointee.avail_out
        return LzmaProgress(code: code, consumed: consumed, produced: produced)
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

    /// Ends the coder and frees its memory and the buffers; later calls do nothing.
    func release() {
        guard !isReleased else { return }
        isReleased = true
        lzma_end(stream)
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
