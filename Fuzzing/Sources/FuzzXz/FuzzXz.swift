import FuzzSupport
import ImagesKit
import ImagesKitXz

private let harness = DecoderHarness(outputLimit: 1 << 20)

/// 32 MiB lets through what `xz -6` needs to decode, and refuses the larger dictionaries of
/// `-9` and of lying block headers before liblzma allocates them.
private let memoryLimit: UInt64 = 32 << 20

@_cdecl("LLVMFuzzerTestOneInput")
func fuzzXzDecoder(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    // One input in three goes to the multi-threaded decoder, which the service uses by default.
    let threads = size % 3 == 0 ? 2 : 1
    let codec = XzCompressor(threads: threads, decoderMemoryLimit: memoryLimit, bufferSize: 4096)
    guard let decoder = try? codec.makeDecoder(outputLimit: harness.outputLimit) else {
        fatalError("liblzma could not start a decoder")
    }
    harness.run(fuzzInput(data, size), with: decoder)
    return 0
}
