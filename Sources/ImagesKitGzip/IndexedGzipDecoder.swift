import CImagesKitZlib
import Foundation
import ImagesKit

/// Decodes a gzip member written in independent chunks, several chunks at once, using the
/// stream's ``ImagesKit/ChunkIndex``.
///
/// The compressed bytes still arrive in order, and the decoded bytes leave in order; in between,
/// worker threads inflate chunks with ISA-L. A chunk whose bytes equal those of a chunk already
/// seen to inflate to nothing but zeros is not inflated again. Every check of a plain decoder
/// stays: each chunk must end where the index says and decode to its full size, the combined
/// CRC-32 and the size must match the trailer, and nothing may follow it. A wrong index fails
/// the read with `corrupt_data`; it can't change what is read.
public final class IndexedGzipDecoder: CompressionDecoder {
    private enum Stage {
        case header
        case chunks
        case trailer
        case done
    }

    private static let role = "gzip decoder"

    /// The index the decoder follows.
    public let chunkIndex: ChunkIndex

    private let outputLimit: UInt64
    private let workers: OrderedWorkers<ChunkInflater, GzipChunkJob>
    private let zeros: UnsafeMutableRawBufferPointer
    private var stage = Stage.header
    private var framing: [UInt8] = []
    private var nextChunk = 0
    private var filling: GzipChunkJob?
    private var spare: [GzipChunkJob] = []
    private var zeroChunk: (bytes: [UInt8], crc: UInt32)?
    private var crc: UInt32 = 0
    private var lifecycle = CoderLifecycle.open

    /// Compressed bytes consumed so far.
    public private(set) var streamByteCount: UInt64 = 0

    /// Uncompressed bytes handed to the output so far.
    public private(set) var outputByteCount: UInt64 = 0

    /// Makes a decoder for a stream that `chunkIndex` describes.
    ///
    /// - Parameters:
    ///   - chunkIndex: Where the chunks start; its header must be 10 bytes and its trailer 8, as
    ///     ``ChunkedGzipEncoder`` writes them.
    ///   - outputLimit: The most uncompressed bytes the stream may hold.
    ///   - threads: Threads that inflate chunks; by default the processor count.
    /// - Throws: ``ImagesKitError`` with `invalid_argument` for an index of another layout.
    public init(
        chunkIndex: ChunkIndex, outputLimit: UInt64, threads: Int = ProcessInfo.processInfo.activeProcessorCount
    ) throws {
        guard Self.canRead(chunkIndex) else {
            throw ImagesKitError(
                .invalidArgument,
                "this chunk index does not describe a gzip member as ImagesKit writes it; decode the "
                    + "stream without it")
        }
        self.chunkIndex = chunkIndex
        self.outputLimit = outputLimit
        workers = OrderedWorkers(
            threads: threads, depth: 2 * max(1, threads), makeWorker: { ChunkInflater() },
            run: { inflater, job in inflater.inflate(job) })
        zeros = UnsafeMutableRawBufferPointer(
            start: calloc(chunkIndex.chunkByteCount, 1), count: chunkIndex.chunkByteCount)
    }

    deinit {
        workers.close()
        free(zeros.baseAddress)
    }

    /// Whether `index` has the layout this decoder reads.
    public static func canRead(_ index: ChunkIndex) -> Bool {
        index.hasPossibleSizes && index.headerByteCount == GzipFraming.header.count
            && index.trailerByteCount == GzipFraming.trailerByteCount
    }

    /// Decodes `input`, handing the chunks decoded so far to `output` in order.
    ///
    /// - Parameters:
    ///   - input: The next compressed bytes.
    ///   - output: Receives uncompressed bytes; the buffer is valid only during the call.
    /// - Throws: ``ImagesKitError`` with `corrupt_data`, `trailing_data` or `image_too_large`, or
    ///   what `output` throws. After any error the decoder takes no more calls.
    public func decode(_ input: UnsafeRawBufferPointer, output: (UnsafeRawBufferPointer) throws -> Void) throws {
        try lifecycle.checkOpen(role: Self.role)
        do {
            var rest = input
            while !rest.isEmpty {
                let taken = try advance(rest, output)
                rest = UnsafeRawBufferPointer(rebasing: rest[taken...])
                streamByteCount += UInt64(taken)
            }
            while try handOldest(waiting: false, output) {}
        } catch {
            stop(by: error)
            throw error
        }
    }

    /// Checks that the stream ended with its trailer.
    ///
    /// - Throws: ``ImagesKitError`` with `empty_input` or `truncated_data`.
    public func finish() throws {
        try lifecycle.checkOpen(role: Self.role)
        guard stage == .done else {
            let error =
                streamByteCount == 0
                ? ImagesKitError(.emptyInput, "the stored gzip stream holds no data")
                : ImagesKitError(
                    .truncatedData,
                    "the gzip data ends at compressed byte \(streamByteCount), inside chunk \(nextChunk); "
                        + "the stream is truncated",
                    context: ["offset": String(streamByteCount)])
            stop(by: error)
            throw error
        }
        lifecycle = .finished
        workers.close()
    }

    private func stop(by error: any Error) {
        lifecycle = .stopped(by: error)
        workers.close()
    }

    /// Takes what the current part of the stream needs from `input`; returns how many bytes.
    private func advance(
        _ input: UnsafeRawBufferPointer, _ output: (UnsafeRawBufferPointer) throws -> Void
    ) throws
        -> Int
    {
        switch stage {
        case .header:
            let taken = collect(input, upTo: chunkIndex.headerByteCount)
            if framing.count == chunkIndex.headerByteCount { try checkHeader() }
            return taken
        case .chunks:
            return try fill(input, output)
        case .trailer:
            let taken = collect(input, upTo: chunkIndex.trailerByteCount)
            if framing.count == chunkIndex.trailerByteCount {
                while try handOldest(waiting: true, output) {}
                try checkTrailer()
            }
            return taken
        case .done:
            throw ImagesKitError(
                .trailingData,
                "bytes follow the gzip trailer at compressed byte \(streamByteCount); the stream was changed",
                context: ["offset": String(streamByteCount)])
        }
    }

    private func collect(_ input: UnsafeRawBufferPointer, upTo count: Int) -> Int {
        let step = min(input.count, count - framing.count)
        framing.append(contentsOf: input[..<step])
        return step
    }

    private func checkHeader() throws {
        guard Array(framing.prefix(4)) == Array(GzipFraming.header.prefix(4)) else {
            throw corrupt("its header is not the plain gzip header its index describes", at: 0)
        }
        framing = []
        stage = .chunks
    }

    private func checkTrailer() throws {
        let expectedCRC = GzipFraming.littleEndian32(framing, at: 0)
        let expectedSize = GzipFraming.littleEndian32(framing, at: 4)
        guard expectedCRC == crc, expectedSize == UInt32(truncatingIfNeeded: outputByteCount) else {
            throw corrupt("its CRC-32 or size does not match its trailer", at: streamByteCount)
        }
        stage = .done
    }

    /// Copies input into the current chunk and sends the chunk once it is whole.
    private func fill(
        _ input: UnsafeRawBufferPointer, _ output: (UnsafeRawBufferPointer) throws -> Void
    ) throws
        -> Int
    {
        let capacity = ChunkIndex.largestChunk(chunkIndex.chunkByteCount) + ChunkInflater.closingRoom
        let job =
            filling ?? spare.popLast()
            ?? GzipChunkJob(inputCapacity: capacity, outputCapacity: chunkIndex.chunkByteCount + 64)
        filling = job
        let need = chunkIndex.compressedByteCounts[nextChunk]
        let taken = job.take(input, upTo: need)
        if job.inputCount == need {
            try send(job, output)
            filling = nil
            nextChunk += 1
            if nextChunk == chunkIndex.compressedByteCounts.count { stage = .trailer }
        }
        return taken
    }

    /// Hands a whole chunk to the workers, or places it as zeros when its bytes are known to be.
    private func send(_ job: GzipChunkJob, _ output: (UnsafeRawBufferPointer) throws -> Void) throws {
        while workers.isFull { try handOldest(waiting: true, output) }
        job.number = nextChunk
        job.isLast = nextChunk == chunkIndex.compressedByteCounts.count - 1
        if !job.isLast, let zeroChunk, zeroChunk.bytes.elementsEqual(job.takenBytes) {
            job.holdsZeros = true
            job.outputCount = chunkIndex.chunkByteCount
            job.crc = zeroChunk.crc
            workers.submitDone(job)
        } else {
            workers.submit(job)
        }
    }

    /// Hands the oldest chunk's bytes to `output` once it is decoded; returns whether there was one.
    @discardableResult
    private func handOldest(waiting: Bool, _ output: (UnsafeRawBufferPointer) throws -> Void) throws -> Bool {
        guard let job = workers.next(waiting: waiting) else { return false }
        if let failure = job.failure { throw failure }
        try checkSize(of: job)
        learnZeros(from: job)
        let bytes = job.holdsZeros ? UnsafeRawBufferPointer(zeros) : job.givenBytes
        try output(bytes)
        crc = UInt32(crc32_combine(UInt(crc), UInt(job.crc), off_t(job.outputCount)))
        outputByteCount += UInt64(job.outputCount)
        job.reset()
        spare.append(job)
        return true
    }

    private func checkSize(of job: GzipChunkJob) throws {
        let size = chunkIndex.chunkByteCount
        guard job.isLast ? job.outputCount <= size : job.outputCount == size else {
            throw corrupt("chunk \(job.number) decodes to \(job.outputCount) bytes, not \(size)", at: streamByteCount)
        }
        guard outputByteCount + UInt64(job.outputCount) <= outputLimit else {
            throw ImagesKitError(
                .imageTooLarge,
                "the image inflates to more than \(outputLimit) bytes, the most it may hold",
                context: ["limit": String(outputLimit)])
        }
    }

    /// Remembers the bytes of a small chunk that decoded to nothing but zeros.
    private func learnZeros(from job: GzipChunkJob) {
        guard zeroChunk == nil, !job.isLast, !job.holdsZeros, job.inputCount <= chunkIndex.chunkByteCount / 64,
            ZeroScan.isAllZero(job.givenBytes)
        else { return }
        zeroChunk = (Array(job.takenBytes), job.crc)
    }

    private func corrupt(_ reason: String, at offset: UInt64) -> ImagesKitError {
        ImagesKitError(
            .corruptData, "the gzip data is corrupt: \(reason)", context: ["offset": String(offset)])
    }
}
