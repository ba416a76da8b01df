import ImagesKit
import ImagesKitGzip
import ImagesKitTestSupport
import Testing

/// How a test hands compressed bytes to a decoder.
enum Chunking: CustomStringConvertible, Sendable {
    /// Everything in one call.
    case whole
    /// Pieces of a fixed size; `fixed(1)` is the byte-at-a-time drip feed.
    case fixed(Int)
    /// Pieces of random sizes from 1 to `maximum`, drawn from a seeded generator.
    case random(seed: UInt64, maximum: Int)

    var description: String {
        switch self {
        case .whole: "whole"
        case .fixed(let size): "fixed(\(size))"
        case .random(let seed, let maximum): "random(seed: \(seed), maximum: \(maximum))"
        }
    }

    /// The piece sizes for `count` bytes.
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
}

/// What a decoder did with one input: its output, its error if any, and its counters.
struct DecodeOutcome {
    var output: [UInt8] = []
    var error: ImagesKitError?
    var streamByteCount: UInt64 = 0
    var outputByteCount: UInt64 = 0
    var memberCount = 0

    var errorCode: ImagesKitError.Code? { error?.code }
}

/// Decodes `input` in pieces, handing output to `sink`, and reports where the decoder stopped.
func decodeGzip(
    _ input: [UInt8],
    chunking: Chunking = .whole,
    outputLimit: UInt64 = .max,
    bufferSize: Int = GzipCompressor.defaultBufferSize,
    sink: (UnsafeRawBufferPointer) -> Void
) throws -> DecodeOutcome {
    let decoder = try GzipDecoder(outputLimit: outputLimit, bufferSize: bufferSize)
    var outcome = DecodeOutcome()
    do {
        try input.withUnsafeBytes { bytes in
            var start = 0
            for size in chunking.pieceSizes(for: bytes.count) {
                try decoder.decode(UnsafeRawBufferPointer(rebasing: bytes[start..<start + size]), output: sink)
                start += size
            }
        }
        try decoder.finish()
    } catch let error as ImagesKitError {
        outcome.error = error
    }
    outcome.streamByteCount = decoder.streamByteCount
    outcome.outputByteCount = decoder.outputByteCount
    outcome.memberCount = decoder.memberCount
    return outcome
}

/// Decodes `input` in pieces and keeps all output.
func decodeGzip(
    _ input: [UInt8],
    chunking: Chunking = .whole,
    outputLimit: UInt64 = .max,
    bufferSize: Int = GzipCompressor.defaultBufferSize
) throws -> DecodeOutcome {
    var output: [UInt8] = []
    var outcome = try decodeGzip(
        input, chunking: chunking, outputLimit: outputLimit, bufferSize: bufferSize
    ) { output.append(contentsOf: $0) }
    outcome.output = output
    return outcome
}

/// Compresses `input` with ``GzipEncoder``, handing it over in pieces.
func encodeGzip(
    _ input: [UInt8],
    level: Int = 6,
    chunking: Chunking = .whole,
    bufferSize: Int = GzipCompressor.defaultBufferSize
) throws -> [UInt8] {
    let encoder = try GzipCompressor(bufferSize: bufferSize).makeEncoder(level: level)
    var compressed: [UInt8] = []
    try input.withUnsafeBytes { bytes in
        var start = 0
        for size in chunking.pieceSizes(for: bytes.count) {
            try encoder.encode(UnsafeRawBufferPointer(rebasing: bytes[start..<start + size])) {
                compressed.append(contentsOf: $0)
            }
            start += size
        }
    }
    try encoder.finish { compressed.append(contentsOf: $0) }
    return compressed
}

/// Runs `body` and returns the ``ImagesKitError`` it throws, recording an issue when it throws
/// nothing or something else.
func imagesKitError(
    sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () throws -> Void
) -> ImagesKitError? {
    do {
        try body()
        Issue.record("expected an ImagesKitError, but the call succeeded", sourceLocation: sourceLocation)
    } catch let error as ImagesKitError {
        return error
    } catch {
        Issue.record("expected an ImagesKitError, got \(error)", sourceLocation: sourceLocation)
    }
    return nil
}
