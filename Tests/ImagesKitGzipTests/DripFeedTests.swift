import ImagesKit
import ImagesKitGzip
import Testing

/// The decoder gives the same result however its input and output are cut into pieces.
@Suite("Drip feed")
struct DripFeedTests {
    static let chunkings: [Chunking] = [
        .fixed(1), .fixed(2), .fixed(7), .random(seed: 1, maximum: 64), .random(seed: 2, maximum: 5000),
        .random(seed: 3, maximum: 70_000),
    ]

    /// Three members of varied data followed by zero padding.
    static func multiMemberStream() throws -> (compressed: [UInt8], original: [UInt8]) {
        let parts = [Payload.text(40_000), Payload.zeros(0), Payload.sparseDisk(90_000, seed: 21)]
        var compressed: [UInt8] = []
        for (index, part) in parts.enumerated() {
            compressed += try encodeGzip(part, level: 1 + index * 4)
        }
        return (compressed + Payload.zeros(100), parts.flatMap { $0 })
    }

    @Test("members and padding decode identically in every chunking", arguments: chunkings)
    func chunkedDecodeMatchesWholeDecode(chunking: Chunking) throws {
        let (compressed, original) = try Self.multiMemberStream()
        let whole = try decodeGzip(compressed)
        let chunked = try decodeGzip(compressed, chunking: chunking)

        #expect(whole.error == nil)
        #expect(whole.output == original)
        #expect(chunked.error == nil)
        #expect(chunked.output == whole.output)
        #expect(chunked.streamByteCount == whole.streamByteCount)
        #expect(chunked.streamByteCount == UInt64(compressed.count - 100))
        #expect(chunked.memberCount == 3)
    }

    @Test("tiny output buffers drain everything zlib holds", arguments: [1, 3, 255, 4096])
    func tinyOutputBufferStillDrains(bufferSize: Int) throws {
        let (compressed, original) = try Self.multiMemberStream()
        let decoded = try decodeGzip(compressed, chunking: .random(seed: 8, maximum: 300), bufferSize: bufferSize)
        #expect(decoded.error == nil)
        #expect(decoded.output == original)
    }

    @Test("all output of the input given so far comes out before decode returns", arguments: [1, 100])
    func outputIsHandedOverBeforeDecodeReturns(bufferSize: Int) throws {
        // Members ending in a match, at many bit alignments: in some, zlib takes the last input
        // byte while part of the match still waits for output room.
        for variant in 0..<40 {
            let original = Payload.text(300 + 37 * variant) + Payload.zeros(3 + 53 * variant)
            let member = try encodeGzip(original)
            let decoder = try GzipDecoder(outputLimit: .max, bufferSize: bufferSize)
            var output: [UInt8] = []
            try member.dropLast(8).withUnsafeBytes { try decoder.decode($0) { output.append(contentsOf: $0) } }

            #expect(output.count == original.count, "variant \(variant)")
            #expect(output.elementsEqual(original), "variant \(variant)")
            #expect(imagesKitError { try decoder.finish() }?.code == .truncatedData)
        }
    }

    @Test("a truncated stream fails the same way in every chunking", arguments: chunkings)
    func truncationIsFoundInEveryChunking(chunking: Chunking) throws {
        let (compressed, original) = try Self.multiMemberStream()
        let cut = Array(compressed.prefix(compressed.count - 150))
        let decoded = try decodeGzip(cut, chunking: chunking)

        #expect(decoded.errorCode == .truncatedData)
        #expect(decoded.output == Array(original.prefix(decoded.output.count)))
        #expect(decoded.memberCount == 2)
    }

    @Test("a corrupt checksum is found in every chunking", arguments: chunkings)
    func corruptionIsFoundInEveryChunking(chunking: Chunking) throws {
        var compressed = try encodeGzip(Payload.text(50_000))
        compressed[compressed.count - 6] ^= 0x40
        let decoded = try decodeGzip(compressed, chunking: chunking)
        #expect(decoded.errorCode == .corruptData)
        #expect(decoded.error?.context["offset"] == String(compressed.count - 4))
    }
}
