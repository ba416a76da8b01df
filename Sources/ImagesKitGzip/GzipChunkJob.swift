import CImagesKitIsal
import ImagesKit

/// One chunk on its way through a worker thread: the bytes it takes, the bytes it gives back,
/// their CRC-32 and what went wrong.
///
/// The buffers are allocated once and reused for chunk after chunk. Between
/// ``OrderedWorkers/submit(_:)`` and ``OrderedWorkers/next(waiting:)`` only the worker touches
/// the job.
final class GzipChunkJob {
    /// Room for the bytes the chunk takes.
    let input: UnsafeMutableRawBufferPointer
    /// Room for the bytes the chunk gives back.
    let output: UnsafeMutableRawBufferPointer
    /// Bytes of `input` in use.
    var inputCount = 0
    /// Bytes of `output` in use.
    var outputCount = 0
    /// The chunk's position in the stream, from 0.
    var number = 0
    /// Whether the chunk is the stream's last, which ends the deflate data.
    var isLast = false
    /// Whether the chunk's uncompressed bytes are all zeros, when the caller knows it.
    var holdsZeros = false
    /// The CRC-32 of the chunk's uncompressed bytes.
    var crc: UInt32 = 0
    /// Why the worker could not do the chunk.
    var failure: ImagesKitError?

    init(inputCapacity: Int, outputCapacity: Int) {
        input = .allocate(byteCount: inputCapacity, alignment: 16)
        output = .allocate(byteCount: outputCapacity, alignment: 16)
    }

    deinit {
        input.deallocate()
        output.deallocate()
    }

    /// The bytes of `input` in use.
    var takenBytes: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: input[..<inputCount])
    }

    /// The bytes of `output` in use.
    var givenBytes: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: output[..<outputCount])
    }

    /// Copies as much of `bytes` as fits below `limit` bytes of input; returns how much.
    func take(_ bytes: UnsafeRawBufferPointer, upTo limit: Int) -> Int {
        let step = min(bytes.count, limit - inputCount)
        guard step > 0 else { return 0 }
        let destination = UnsafeMutableRawBufferPointer(rebasing: input[inputCount..<inputCount + step])
        destination.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[..<step]))
        inputCount += step
        return step
    }

    /// Empties the job for the next chunk.
    func reset() {
        inputCount = 0
        outputCount = 0
        isLast = false
        holdsZeros = false
        crc = 0
        failure = nil
    }

    /// The CRC-32 of `bytes`, as gzip's trailer keeps it.
    static func crc32(of bytes: UnsafeRawBufferPointer) -> UInt32 {
        guard let base = bytes.baseAddress else { return 0 }
        return crc32_gzip_refl(0, base.assumingMemoryBound(to: UInt8.self), UInt64(bytes.count))
    }
}

/// The fixed parts of the gzip members ImagesKit writes.
enum GzipFraming {
    /// A member header with no name, no time and no flags, from a Unix system.
    static let header: [UInt8] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]
    /// Bytes in a member's trailer: the CRC-32 and the size, both little-endian.
    static let trailerByteCount = 8

    /// The trailer for `crc` and `size` bytes of uncompressed data.
    static func trailer(crc: UInt32, size: UInt64) -> [UInt8] {
        let length = UInt32(truncatingIfNeeded: size)
        return (0..<4).map { UInt8(truncatingIfNeeded: crc >> (8 * $0)) }
            + (0..<4).map { UInt8(truncatingIfNeeded: length >> (8 * $0)) }
    }

    /// Reads a little-endian 32-bit number at `offset` of `bytes`.
    static func littleEndian32(_ bytes: [UInt8], at offset: Int) -> UInt32 {
        (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[offset + $1]) << (8 * $1) }
    }
}
