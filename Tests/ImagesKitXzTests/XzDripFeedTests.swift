import ImagesKit
import ImagesKitXz
import Testing

/// The decoder gives the same result however its input and output are cut into pieces.
@Suite("xz drip feed")
struct XzDripFeedTests {
    // Byte-at-a-time feeding is covered by the corpus and fault suites on smaller inputs.
    static let chunkings: [Chunking] = [
        .fixed(2), .fixed(7), .random(seed: 15, maximum: 64), .random(seed: 16, maximum: 5000),
        .random(seed: 17, maximum: 300_000),
    ]

    /// Three streams of varied data, multi-block where made on two threads, with padding between
    /// and after them.
    static let multiStream = Result { () throws -> (compressed: [UInt8], original: [UInt8]) in
        let parts = [XzPayload.text(40_000), [], XzPayload.mixed(1_100_000, seed: 18)]
        var compressed: [UInt8] = []
        for (index, part) in parts.enumerated() {
            compressed += try encodeXz(part, level: 1 + index * 3, codec: testCodec(threads: 1 + index % 2))
            compressed += XzPayload.zeros(4 * index)
        }
        return (compressed, parts.flatMap { $0 })
    }

    @Test("streams and padding decode identically in every chunking, on one thread or two", arguments: chunkings)
    func chunkedDecodeMatchesWholeDecode(chunking: Chunking) throws {
        let (compressed, original) = try Self.multiStream.get()
        for threads in [1, 2] {
            let codec = testCodec(threads: threads)
            let decoded = try decodeXz(compressed, chunking: chunking, codec: codec)
            #expect(decoded.error == nil, "\(threads) threads: \(decoded.error?.description ?? "")")
            #expect(decoded.output == original, "\(threads) threads")
            #expect(decoded.streamByteCount == UInt64(compressed.count), "\(threads) threads")
            #expect(decoded.outputByteCount == UInt64(original.count), "\(threads) threads")
            #expect(decoded.streamCount == 3, "\(threads) threads")
        }
    }

    @Test("tiny output buffers drain everything liblzma holds", arguments: [1, 3, 255, 4096])
    func tinyOutputBufferStillDrains(bufferSize: Int) throws {
        let (compressed, original) = try Self.multiStream.get()
        let input = Array(compressed.prefix(150_000))
        let expected = try decodeXz(input)
        for threads in [1, 2] {
            let decoded = try decodeXz(
                input, chunking: .random(seed: 19, maximum: 30_000),
                codec: testCodec(threads: threads, bufferSize: bufferSize))
            #expect(decoded.errorCode == .truncatedData)
            #expect(decoded.output == expected.output)
            #expect(original.starts(with: decoded.output))
        }
    }

    @Test("all output the input so far holds comes out before decode returns", arguments: [1, 2])
    func outputIsHandedOverBeforeDecodeReturns(threads: Int) throws {
        let original = XzPayload.mixed(2_200_000, seed: 20)
        let compressed = try encodeXz(original, level: 1, codec: testCodec(threads: 2))
        let singleThreaded = try decodeXz(Array(compressed.dropLast(30)), codec: testCodec(threads: 1))
        let decoder = try XzDecoder(outputLimit: .max, codec: testCodec(threads: threads))
        var output: [UInt8] = []
        try compressed.dropLast(30).withUnsafeBytes { try decoder.decode($0) { output.append(contentsOf: $0) } }

        #expect(output.count == original.count)
        #expect(output == singleThreaded.output)
        #expect(thrownImagesKitError { try decoder.finish() }?.code == .truncatedData)
    }

    @Test("a truncated stream fails the same way in every chunking", arguments: chunkings)
    func truncationIsFoundInEveryChunking(chunking: Chunking) throws {
        let (compressed, original) = try Self.multiStream.get()
        let cut = Array(compressed.prefix(compressed.count - 150))
        for threads in [1, 2] {
            let decoded = try decodeXz(cut, chunking: chunking, codec: testCodec(threads: threads))
            #expect(decoded.errorCode == .truncatedData, "\(threads) threads")
            #expect(original.starts(with: decoded.output), "\(threads) threads")
            #expect(decoded.streamCount == 2, "\(threads) threads")
            #expect(decoded.error?.context["offset"] == String(cut.count), "\(threads) threads")
        }
    }

    @Test("a corrupt check is found in every chunking", arguments: chunkings)
    func corruptionIsFoundInEveryChunking(chunking: Chunking) throws {
        var compressed = try encodeXz(XzPayload.text(50_000), check: .sha256)
        let checkEnd = compressed.count - 12 - 12  // footer, then an index of one record
        compressed[checkEnd - 5] ^= 0x40
        for threads in [1, 2] {
            let decoded = try decodeXz(compressed, chunking: chunking, codec: testCodec(threads: threads))
            #expect(decoded.errorCode == .corruptData, "\(threads) threads")
            #expect(decoded.error?.context["stream"] == "1", "\(threads) threads")
        }
    }
}

private func encodeXz(_ input: [UInt8], check: XzCompressor.Check) throws -> [UInt8] {
    try encodeXz(input, level: 6, codec: testCodec(check: check))
}
