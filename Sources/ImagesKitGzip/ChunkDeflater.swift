import CImagesKitZlib
import ImagesKit

/// A worker thread's raw deflate stream, which compresses one chunk after another so that each
/// decodes on its own: every chunk starts from an empty window and ends on a byte boundary.
///
/// Chunks but the last end with a full flush (an empty stored block, not final); the last ends
/// the deflate data. Laid one after another, they form one standard deflate stream.
final class ChunkDeflater {
    private let zlib: ZlibStream
    private let startFailure: ImagesKitError?

    /// Starts a raw deflate stream at `level`; a failure to start is reported by every chunk.
    init(level: Int32, outputCapacity: Int) {
        zlib = ZlibStream(direction: .deflate, outputCapacity: outputCapacity)
        do {
            try zlib.start(function: "deflateInit2", role: "gzip chunk encoder") { stream in
                imageskit_deflate_init(stream, level, -15)
            }
            startFailure = nil
        } catch {
            startFailure = error as? ImagesKitError
        }
    }

    /// Compresses the job's input into its output and takes its CRC-32, or records why not.
    func compress(_ job: GzipChunkJob) {
        if let startFailure {
            job.failure = startFailure
            return
        }
        do {
            try zlib.resetDeflate()
            try deflate(job)
            job.crc = GzipChunkJob.crc32(of: job.takenBytes)
        } catch let error as ImagesKitError {
            job.failure = error
        } catch {
            job.failure = failure(job, ZlibError(function: "deflate", code: Z_STREAM_ERROR, message: "\(error)"))
        }
    }

    private func deflate(_ job: GzipChunkJob) throws {
        let flush = job.isLast ? Z_FINISH : Z_FULL_FLUSH
        var rest = job.takenBytes
        while true {
            let progress = zlib.advance(input: rest, outputCount: zlib.outputCapacity, flush: flush)
            rest = UnsafeRawBufferPointer(rebasing: rest[progress.consumed...])
            try keep(progress.produced, of: job)
            let flushed = rest.isEmpty && progress.produced < zlib.outputCapacity
            switch progress.code {
            case Z_STREAM_END:
                return
            case Z_OK where !job.isLast && flushed:
                return
            case Z_OK:
                continue
            default:
                throw failure(job, zlib.error(function: "deflate", code: progress.code))
            }
        }
    }

    private func keep(_ count: Int, of job: GzipChunkJob) throws {
        guard count > 0 else { return }
        guard job.outputCount + count <= job.output.count else {
            throw failure(job, ZlibError(function: "deflate", code: Z_BUF_ERROR, message: "output beyond its bound"))
        }
        zlib.withOutput(count: count) { bytes in
            UnsafeMutableRawBufferPointer(rebasing: job.output[job.outputCount..<job.outputCount + count])
                .copyMemory(from: bytes)
        }
        job.outputCount += count
    }

    private func failure(_ job: GzipChunkJob, _ cause: ZlibError) -> ImagesKitError {
        ImagesKitError(
            .invalidState,
            "zlib stopped compressing chunk \(job.number) (\(cause.message)); try again, and report it if "
                + "it happens again",
            cause: cause, context: ["chunk": String(job.number)])
    }
}
