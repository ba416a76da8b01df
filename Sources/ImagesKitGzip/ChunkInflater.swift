import CImagesKitIsal
import ImagesKit

/// A worker thread's inflate state, on ISA-L, which decodes one independent deflate chunk at a
/// time and checks that it ends where its index says.
///
/// ISA-L keeps its whole state in one large struct, so it lives on the heap, owned here.
final class ChunkInflater {
    private let state: UnsafeMutablePointer<inflate_state>

    init() {
        state = .allocate(capacity: 1)
        state.initialize(to: inflate_state())
        isal_inflate_init(state)
    }

    deinit {
        state.deinitialize(count: 1)
        state.deallocate()
    }

    /// A final, empty block with fixed codes: appended to a chunk that is not the stream's last,
    /// it makes the chunk a whole deflate stream, which ends exactly at the chunk's end only when
    /// the chunk ends on a block boundary.
    static let closingBlock: [UInt8] = [0x03, 0x00]

    /// Room a job's input needs beyond its chunk for ``closingBlock``.
    static let closingRoom = 2

    /// Inflates the job's input into its output and takes its CRC-32, or records why it can't.
    ///
    /// A chunk but the last must end exactly where its bytes end, on a block boundary and
    /// without a final block; the last chunk must end with the final block.
    func inflate(_ job: GzipChunkJob) {
        let chunkBytes = job.inputCount
        if !job.isLast { close(job) }
        isal_inflate_reset(state)
        state.pointee.crc_flag = UInt32(ISAL_DEFLATE)
        state.pointee.next_in = job.input.baseAddress?.assumingMemoryBound(to: UInt8.self)
        state.pointee.avail_in = UInt32(job.inputCount)
        state.pointee.next_out = job.output.baseAddress?.assumingMemoryBound(to: UInt8.self)
        state.pointee.avail_out = UInt32(job.output.count)
        let code = isal_inflate(state)
        job.outputCount = Int(state.pointee.total_out)
        job.inputCount = chunkBytes
        state.pointee.next_in = nil
        state.pointee.next_out = nil
        if let problem = problem(code) {
            job.failure = ImagesKitError(
                .corruptData, "the gzip data is corrupt in chunk \(job.number) (\(problem))",
                context: ["chunk": String(job.number)])
            return
        }
        job.crc = GzipChunkJob.crc32(of: job.givenBytes)
    }

    private func close(_ job: GzipChunkJob) {
        let end = job.inputCount
        UnsafeMutableRawBufferPointer(rebasing: job.input[end..<end + Self.closingRoom])
            .copyBytes(from: Self.closingBlock)
        job.inputCount += Self.closingRoom
    }

    private func problem(_ code: Int32) -> String? {
        guard code == ISAL_DECOMP_OK || code == ISAL_END_INPUT else { return "ISA-L inflate returned \(code)" }
        guard state.pointee.block_state == ISAL_BLOCK_FINISH, state.pointee.avail_in == 0 else {
            return "its deflate data does not end where its index says"
        }
        guard state.pointee.avail_out > 0 else { return "it decodes to more bytes than a chunk holds" }
        return nil
    }
}
