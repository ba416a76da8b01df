import ImagesKit
import ImagesKitTestSupport
import ImagesKitXz
import Testing

/// How a test cuts compressed bytes into the pieces it hands a decoder.
enum Chunking: CustomStringConvertible, Sendable {
    /// One piece holding everything.
    case whole
    /// Pieces of one size; `fixed(1)` feeds a byte at a time.
    case fixed(Int)
    /// Pieces of 1 to `maximum` bytes, their sizes drawn from a generator seeded with `seed`.
    case random(seed: UInt64, maximum: Int)

    var description: String {
        switch self {
        case .whole: "whole"
        case .fixed(let size): "fixed(\(size))"
        case .random(let seed, let maximum): "random(seed: \(seed), maximum: \(maximum))"
        }
    }

    /// The sizes of the pieces `count` bytes are cut into.
    func pieceSizes(for count: Int) -> [Int] {
        switch self {
        case .whole:
            return [count]
        case .fixed(let size):
            return stride(from: 0, to: count, by: size).map { min(size, count - $0) }
        case .random(let seed, let maximum):
            var generator = SplitMix64(seed: seed)
            var sizes: [Int] = []
            var left = count
            while left > 0 {
                let size = min(left, Int(generator.next() % UInt64(maximum)) + 1)
                sizes.append(size)
                left -= size
            }
            return sizes
        }
    }

    /// Calls `body` with each piece of `bytes`.
    func forEachPiece(of bytes: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) throws -> Void) rethrows {
        var start = 0
        for size in pieceSizes(for: bytes.count) {
            try body(UnsafeRawBufferPointer(rebasing: bytes[start..<start + size]))
            start += size
        }
    }
}

/// What a decoder made of one input: the output, the error if any, and its counters.
struct XzOutcome {
    var output: [UInt8] = []
    var error: ImagesKitError?
    var streamByteCount: UInt64 = 0
    var outputByteCount: UInt64 = 0
    var streamCount = 0

    var errorCode: ImagesKitError.Code? { error?.code }
}

/// A codec for tests: `threads` threads, small blocks so a few megabytes make several, and the
/// given memory budget and limit and buffer size.
func testCodec(
    threads: Int = 1,
    memoryBudget: UInt64 = XzCompressor.defaultMemoryBudget,
    memoryLimit: UInt64 = XzCompressor.defaultDecoderMemoryLimit,
    check: XzCompressor.Check = .crc64,
    bufferSize: Int = XzCompressor.defaultBufferSize
) -> XzCompressor {
    XzCompressor(
        threads: threads, memoryBudget: memoryBudget, decoderMemoryLimit: memoryLimit, blockSize: 1 << 20,
        check: check, bufferSize: bufferSize)
}

/// Decodes `input` in pieces, handing output to `sink`, and reports where the decoder stopped.
func decodeXz(
    _ input: [UInt8],
    chunking: Chunking = .whole,
    outputLimit: UInt64 = .max,
    codec: XzCompressor = testCodec(),
    sink: (UnsafeRawBufferPointer) -> Void
) throws -> XzOutcome {
    let decoder = try XzDecoder(outputLimit: outputLimit, codec: codec)
    var outcome = XzOutcome()
    do {
        try input.withUnsafeBytes { bytes in
            try chunking.forEachPiece(of: bytes) { try decoder.decode($0, output: sink) }
        }
        try decoder.finish()
    } catch let error as ImagesKitError {
        outcome.error = error
    }
    outcome.streamByteCount = decoder.streamByteCount
    outcome.outputByteCount = decoder.outputByteCount
    outcome.streamCount = decoder.streamCount
    return outcome
}

/// Decodes `input` in pieces and keeps all the output.
func decodeXz(
    _ input: [UInt8],
    chunking: Chunking = .whole,
    outputLimit: UInt64 = .max,
    codec: XzCompressor = testCodec()
) throws -> XzOutcome {
    var output: [UInt8] = []
    var outcome = try decodeXz(input, chunking: chunking, outputLimit: outputLimit, codec: codec) {
        output.append(contentsOf: $0)
    }
    outcome.output = output
    return outcome
}

/// Compresses `input` with an ``XzEncoder``, handing it over in pieces.
func encodeXz(
    _ input: [UInt8],
    level: Int = 6,
    chunking: Chunking = .whole,
    codec: XzCompressor = testCodec()
) throws -> [UInt8] {
    let encoder = try codec.makeEncoder(level: level)
    var compressed: [UInt8] = []
    try input.withUnsafeBytes { bytes in
        try chunking.forEachPiece(of: bytes) { piece in
            try encoder.encode(piece) { compressed.append(contentsOf: $0) }
        }
    }
    try encoder.finish { compressed.append(contentsOf: $0) }
    return compressed
}

/// Runs `body` and returns the ``ImagesKitError`` it throws, recording an issue when it throws
/// nothing or another error.
func thrownImagesKitError(
    sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () throws -> Void
) -> ImagesKitError? {
    do {
        try body()
        Issue.record("the call succeeded; an ImagesKitError was expected", sourceLocation: sourceLocation)
    } catch let error as ImagesKitError {
        return error
    } catch {
        Issue.record("the call threw \(error); an ImagesKitError was expected", sourceLocation: sourceLocation)
    }
    return nil
}

/// The first `count` hexadecimal digits of the SHA-256 of `bytes`, computed by OpenSSL.
func sha256Prefix(_ bytes: [UInt8], count: Int = 16) -> String {
    String(SHA256Digest.hex(of: bytes).prefix(count))
}
