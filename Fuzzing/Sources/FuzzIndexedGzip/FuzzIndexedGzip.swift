import FuzzSupport
import ImagesKit
import ImagesKitGzip

/// A 1 MiB output limit stops decompression bombs fast; chunks are 64 KiB.
private let harness = DecoderHarness(outputLimit: 1 << 20)

/// Reads an index from the input's first bytes and decodes the rest with it.
///
/// The first byte gives the number of chunks (1 to 8); then each chunk's compressed size, two
/// bytes little-endian (at least 1); then the stream. Both the index and the stream are the
/// fuzzer's to change, so wrong indexes meet right streams and the other way round.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzIndexedGzipDecoder(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = fuzzInput(data, size)
    guard let first = input.first else { return 0 }
    let chunks = Int(first % 8) + 1
    guard input.count >= 1 + 2 * chunks else { return 0 }
    let sizes = (0..<chunks).map { number -> Int in
        let low = Int(input[1 + 2 * number])
        let high = Int(input[2 + 2 * number])
        return max(1, low | high << 8)
    }
    let index = ChunkIndex(
        chunkByteCount: 64 << 10, headerByteCount: 10, trailerByteCount: 8, compressedByteCounts: sizes)
    guard let decoder = try? IndexedGzipDecoder(chunkIndex: index, outputLimit: harness.outputLimit, threads: 1) else {
        fatalError("a decoder for a readable index could not start")
    }
    harness.run(UnsafeRawBufferPointer(rebasing: input[(1 + 2 * chunks)...]), with: decoder)
    return 0
}
