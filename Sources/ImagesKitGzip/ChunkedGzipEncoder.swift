import CImagesKitZlib
import Foundation
import ImagesKit

/// Compresses a stream into one standard gzip member on every core, in independent chunks, and
/// keeps an index of where they start so that deploys can decode them in parallel too.
///
/// Input is cut into chunks of ``chunkByteCount`` bytes. Worker threads deflate each chunk from
/// an empty window and end it on a byte boundary, and the chunks are written in order between
/// one header and one trailer (the CRC-32s of the chunks combined). Any gzip reader reads the
/// result; ``chunkIndex`` says where each chunk starts. A chunk of zeros is deflated once and its
/// bytes reused, so free space costs almost nothing.
///
/// What it costs: each chunk starts without the previous 32 KiB of history, which makes the
/// output about 0.03% larger than one zlib stream's at 4 MiB chunks; and up to two chunks per
/// thread, with their output, are held at once (about 40 MiB with two threads).
public final class ChunkedGzipEncoder: CompressionEncoder {
    private static let role = "gzip encoder"

    /// The uncompressed size of each chunk but the last.
    public let chunkByteCount: Int

    private let workers: OrderedWorkers<ChunkDeflater, GzipChunkJob>
    private var filling: GzipChunkJob
    private var spare: [GzipChunkJob] = []
    private var chunkCount = 0
    private var zeroChunk: (bytes: [UInt8], crc: UInt32)?
    private var crc: UInt32 = 0
    private var compressedSizes: [Int] = []
    private var headerWritten = false
    private var lifecycle = CoderLifecycle.open

    /// Uncompressed bytes consumed so far.
    public private(set) var inputByteCount: UInt64 = 0

    /// Compressed bytes handed to the output so far.
    public private(set) var outputByteCount: UInt64 = 0

    /// Where each chunk starts, once the stream is finished.
    public private(set) var chunkIndex: ChunkIndex?

    /// Makes an encoder.
    ///
    /// - Parameters:
    ///   - level: The compression level, 1 (fastest) to 9 (smallest).
    ///   - threads: Threads that deflate chunks; by default the processor count.
    ///   - chunkByteCount: Uncompressed bytes per chunk, within ``ImagesKit/ChunkIndex/chunkByteCountRange``.
    /// - Throws: ``ImagesKitError`` with `invalid_argument` for a level or chunk size out of range.
    public init(
        level: Int, threads: Int = ProcessInfo.processInfo.activeProcessorCount,
        chunkByteCount: Int = GzipCompressor.defaultChunkByteCount
    ) throws {
        try GzipEncoder.check(level: level)
        try Self.check(chunkByteCount: chunkByteCount)
        self.chunkByteCount = chunkByteCount
        let bound = ChunkIndex.largestChunk(chunkByteCount)
        let zlibLevel = Int32(level)
        workers = OrderedWorkers(
            threads: threads, depth: 2 * max(1, threads),
            makeWorker: { ChunkDeflater(level: zlibLevel, outputCapacity: 256 << 10) },
            run: { deflater, job in deflater.compress(job) })
        filling = GzipChunkJob(inputCapacity: chunkByteCount, outputCapacity: bound)
    }

    deinit {
        workers.close()
    }

    /// Compresses `input`, handing the compressed chunks finished so far to `output` in order.
    ///
    /// - Parameters:
    ///   - input: The next uncompressed bytes.
    ///   - output: Receives compressed bytes; the buffer is valid only during the call.
    /// - Throws: ``ImagesKitError`` with `invalid_state` after `finish`, an earlier error or a
    ///   zlib failure, or what `output` throws. After any error the encoder takes no more calls.
    public func encode(_ input: UnsafeRawBufferPointer, output: (UnsafeRawBufferPointer) throws -> Void) throws {
        try lifecycle.checkOpen(role: Self.role)
        do {
            var rest = input
            while !rest.isEmpty {
                if filling.inputCount == chunkByteCount { try send(isLast: false, output) }
                let taken = filling.take(rest, upTo: chunkByteCount)
                rest = UnsafeRawBufferPointer(rebasing: rest[taken...])
            }
            inputByteCount += UInt64(input.count)
            try hand(waiting: false, output)
        } catch {
            stop(by: error)
            throw error
        }
    }

    /// Compresses the last chunk, then hands every remaining chunk and the trailer to `output`.
    ///
    /// - Parameter output: Receives compressed bytes; the buffer is valid only during the call.
    /// - Throws: ``ImagesKitError`` with `invalid_state` when called again, after an error or on a
    ///   zlib failure, or what `output` throws.
    public func finish(output: (UnsafeRawBufferPointer) throws -> Void) throws {
        try lifecycle.checkOpen(role: Self.role)
        do {
            try send(isLast: true, output)
            while !workers.isEmpty { try handOldest(waiting: true, output) }
            try write(GzipFraming.trailer(crc: crc, size: inputByteCount), output)
            chunkIndex = ChunkIndex(
                chunkByteCount: chunkByteCount, headerByteCount: GzipFraming.header.count,
                trailerByteCount: GzipFraming.trailerByteCount, compressedByteCounts: compressedSizes)
            lifecycle = .finished
            workers.close()
        } catch {
            stop(by: error)
            throw error
        }
    }

    private static func check(chunkByteCount: Int) throws {
        guard ChunkIndex.chunkByteCountRange.contains(chunkByteCount) else {
            throw ImagesKitError(
                .invalidArgument,
                "a gzip chunk of \(chunkByteCount) bytes is out of range; choose 64 KiB to 64 MiB",
                context: ["chunk_bytes": String(chunkByteCount)])
        }
    }

    private func stop(by error: any Error) {
        lifecycle = .stopped(by: error)
        workers.close()
    }

    /// Hands the filling chunk to the workers, or reuses the known bytes of a chunk of zeros.
    private func send(isLast: Bool, _ output: (UnsafeRawBufferPointer) throws -> Void) throws {
        while workers.isFull { try handOldest(waiting: true, output) }
        let job = filling
        job.number = chunkCount
        job.isLast = isLast
        job.holdsZeros = !isLast && ZeroScan.isAllZero(job.takenBytes)
        chunkCount += 1
        filling = spare.popLast() ?? GzipChunkJob(inputCapacity: chunkByteCount, outputCapacity: job.output.count)
        if job.holdsZeros, let zeroChunk {
            zeroChunk.bytes.withUnsafeBytes { job.output.copyMemory(from: $0) }
            job.outputCount = zeroChunk.bytes.count
            job.crc = zeroChunk.crc
            workers.submitDone(job)
        } else {
            workers.submit(job)
        }
    }

    /// Hands every finished chunk at the front of the order to `output`.
    private func hand(waiting: Bool, _ output: (UnsafeRawBufferPointer) throws -> Void) throws {
        while try handOldest(waiting: waiting, output) {}
    }

    /// Hands the oldest chunk to `output` once it is done; returns whether there was one.
    @discardableResult
    private func handOldest(waiting: Bool, _ output: (UnsafeRawBufferPointer) throws -> Void) throws -> Bool {
        guard let job = workers.next(waiting: waiting) else { return false }
        if let failure = job.failure { throw failure }
        if job.holdsZeros, zeroChunk == nil { zeroChunk = (Array(job.givenBytes), job.crc) }
        try write(job.givenBytes, output)
        crc = UInt32(crc32_combine(UInt(crc), UInt(job.crc), off_t(job.inputCount)))
        compressedSizes.append(job.outputCount)
        job.reset()
        spare.append(job)
        return true
    }

    private func write(_ bytes: [UInt8], _ output: (UnsafeRawBufferPointer) throws -> Void) throws {
        try bytes.withUnsafeBytes { try write($0, output) }
    }

    private func write(_ bytes: UnsafeRawBufferPointer, _ output: (UnsafeRawBufferPointer) throws -> Void) throws {
        if !headerWritten {
            headerWritten = true
            try GzipFraming.header.withUnsafeBytes { try output($0) }
            outputByteCount += UInt64(GzipFraming.header.count)
        }
        try output(bytes)
        outputByteCount += UInt64(bytes.count)
    }
}
