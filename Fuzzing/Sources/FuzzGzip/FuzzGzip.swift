import FuzzSupport
import ImagesKit
import ImagesKitGzip

/// A 1 MiB output limit stops decompression bombs after a few hundred microseconds.
private let harness = DecoderHarness(outputLimit: 1 << 20)

@_cdecl("LLVMFuzzerTestOneInput")
func fuzzGzipDecoder(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let codec = GzipCompressor(bufferSize: 4096)
    guard let decoder = try? codec.makeDecoder(outputLimit: harness.outputLimit) else {
        fatalError("zlib could not start a decoder")
    }
    harness.run(fuzzInput(data, size), with: decoder)
    return 0
}
