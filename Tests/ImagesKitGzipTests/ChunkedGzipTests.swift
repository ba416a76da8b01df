import ImagesKit
import ImagesKitGzip
import Testing

/// ``ChunkedGzipEncoder`` writes one standard member with an index, and ``IndexedGzipDecoder``
/// reads it back on several threads with every check a plain decoder makes.
@Suite("Chunked gzip and its index")
struct ChunkedGzipTests {
    static let chunk = 64 << 10

    /// Random chunks and zero chunks in turn, cut off `extra` bytes after `chunks` whole chunks.
    static func mixed(chunks: Int, extra: Int) -> [UInt8] {
        (0..<chunks).flatMap { number in
            number % 3 == 1 ? Payload.zeros(chunk) : Payload.random(chunk, seed: UInt64(number))
        } + Payload.text(extra)
    }

    struct Encoded {
        var bytes: [UInt8]
        var index: ChunkIndex
    }

    static func encode(_ input: [UInt8], threads: Int = 2, level: Int = 6, piece: Int = 10_000) throws -> Encoded {
        let encoder = try ChunkedGzipEncoder(level: level, threads: threads, chunkByteCount: chunk)
        var bytes: [UInt8] = []
        try input.withUnsafeBytes { all in
            var start = 0
            repeat {
                let end = min(start + piece, all.count)
                try encoder.encode(UnsafeRawBufferPointer(rebasing: all[start..<end])) { bytes.append(contentsOf: $0) }
                start = end
            } while start < all.count
        }
        try encoder.finish { bytes.append(contentsOf: $0) }
        return Encoded(bytes: bytes, index: try #require(encoder.chunkIndex))
    }

    static func decode(
        _ encoded: Encoded, threads: Int = 2, outputLimit: UInt64 = .max, piece: Int = 7_000
    ) throws -> (output: [UInt8], error: ImagesKitError?) {
        let decoder = try IndexedGzipDecoder(chunkIndex: encoded.index, outputLimit: outputLimit, threads: threads)
        var output: [UInt8] = []
        do {
            try encoded.bytes.withUnsafeBytes { all in
                var start = 0
                while start < all.count {
                    let end = min(start + piece, all.count)
                    try decoder.decode(UnsafeRawBufferPointer(rebasing: all[start..<end])) {
                        output.append(contentsOf: $0)
                    }
                    start = end
                }
            }
            try decoder.finish()
        } catch let error as ImagesKitError {
            return (output, error)
        }
        return (output, nil)
    }

    @Test(
        "any size comes back whole through the index, on one or three threads",
        arguments: [(0, 0), (0, 1), (0, chunk - 1), (1, 0), (1, 1), (4, 12_345), (7, 0)], [1, 3])
    func roundTrip(size: (chunks: Int, extra: Int), threads: Int) throws {
        let original = Self.mixed(chunks: size.chunks, extra: size.extra)
        let encoded = try Self.encode(original, threads: threads)
        let decoded = try Self.decode(encoded, threads: threads)

        let same = decoded.output == original
        #expect(decoded.error == nil)
        #expect(same)
        #expect(encoded.index.compressedByteCounts.count == max(1, (original.count + Self.chunk - 1) / Self.chunk))
        let mismatch = encoded.index.mismatch(
            compressedByteCount: UInt64(encoded.bytes.count), uncompressedByteCount: UInt64(original.count))
        #expect(mismatch == nil)
    }

    @Test("the member is one standard gzip member that gzip and the plain decoder read")
    func plainReadersAgree() throws {
        let original = Self.mixed(chunks: 5, extra: 999)
        let encoded = try Self.encode(original)
        let plain = try decodeGzip(encoded.bytes, chunking: .fixed(5000))
        #expect(plain.error == nil)
        #expect(plain.memberCount == 1)
        let same = plain.output == original
        #expect(same)

        let folder = try TemporaryDirectory()
        let file = try folder.write(encoded.bytes, to: "chunked.gz")
        #expect(try ExternalTool.run("gzip", ["-t", file.path]).status == 0)
        let unzipped = try ExternalTool.output("gzip", ["-dc", file.path])
        #expect(unzipped.count == original.count)
        #expect(unzipped.elementsEqual(original))
    }

    @Test("the output does not depend on how the input is split or how many threads compress it")
    func outputIsDeterministic() throws {
        let original = Self.mixed(chunks: 6, extra: 70_000)
        let reference = try Self.encode(original, threads: 1, piece: 1 << 20).bytes
        let dripped = try Self.encode(original, threads: 3, piece: 333).bytes
        let chunked = try Self.encode(original, threads: 2, piece: Self.chunk).bytes
        #expect(dripped.elementsEqual(reference))
        #expect(chunked.elementsEqual(reference))
    }

    @Test("chunks of zeros are written with the same bytes, and far smaller than data")
    func zeroChunksShareBytes() throws {
        let original = Payload.zeros(Self.chunk * 4) + Payload.random(Self.chunk, seed: 4)
        let encoded = try Self.encode(original)
        let sizes = encoded.index.compressedByteCounts
        let starts = sizes.indices.map { encoded.index.headerByteCount + sizes[..<$0].reduce(0, +) }
        let slices = (0..<4).map { Array(encoded.bytes[starts[$0]..<starts[$0] + sizes[$0]]) }
        #expect(Set(slices.map { $0 }).count == 1)
        #expect(sizes[0] * 100 < sizes[4])
    }

    @Test("a changed byte inside a chunk fails the read as corrupt data")
    func changedByteIsCorrupt() throws {
        var encoded = try Self.encode(Self.mixed(chunks: 4, extra: 100))
        let middle = encoded.index.headerByteCount + encoded.index.compressedByteCounts[0] / 2
        encoded.bytes[middle] ^= 0x5a
        #expect(try Self.decode(encoded).error?.code == .corruptData)
    }

    @Test("an index whose chunk sizes are moved around fails the read as corrupt data")
    func wrongIndexIsCorrupt() throws {
        var encoded = try Self.encode(Self.mixed(chunks: 4, extra: 100))
        encoded.index.compressedByteCounts[0] += 3
        encoded.index.compressedByteCounts[1] -= 3
        #expect(try Self.decode(encoded).error?.code == .corruptData)

        var swapped = try Self.encode(Self.mixed(chunks: 4, extra: 100))
        swapped.index.compressedByteCounts.swapAt(0, 1)
        #expect(try Self.decode(swapped).error?.code == .corruptData)
    }

    @Test("a changed trailer fails the read as corrupt data")
    func changedTrailerIsCorrupt() throws {
        var encoded = try Self.encode(Self.mixed(chunks: 3, extra: 10))
        encoded.bytes[encoded.bytes.count - 6] ^= 1
        #expect(try Self.decode(encoded).error?.code == .corruptData)
    }

    @Test("a cut stream is truncated, and bytes after the trailer are trailing data")
    func cutAndGrownStreams() throws {
        var cut = try Self.encode(Self.mixed(chunks: 3, extra: 10))
        cut.bytes.removeLast(3)
        #expect(try Self.decode(cut).error?.code == .truncatedData)

        var grown = try Self.encode(Self.mixed(chunks: 3, extra: 10))
        grown.bytes.append(0)
        #expect(try Self.decode(grown).error?.code == .trailingData)
    }

    @Test("an image larger than the output limit is refused")
    func outputLimitHolds() throws {
        let original = Self.mixed(chunks: 3, extra: 10)
        let encoded = try Self.encode(original)
        #expect(try Self.decode(encoded, outputLimit: UInt64(original.count - 1)).error?.code == .imageTooLarge)
        #expect(try Self.decode(encoded, outputLimit: UInt64(original.count)).error == nil)
    }

    @Test("the codec falls back to the plain decoder for an index of another layout")
    func otherLayoutsFallBack() throws {
        let encoded = try Self.encode(Self.mixed(chunks: 2, extra: 10))
        var other = encoded.index
        other.headerByteCount = 12
        #expect(!IndexedGzipDecoder.canRead(other))
        #expect(try GzipCompressor().makeDecoder(outputLimit: .max, chunkIndex: other) is GzipDecoder)
        #expect(try GzipCompressor().makeDecoder(outputLimit: .max, chunkIndex: encoded.index) is IndexedGzipDecoder)
        let error = imagesKitError { _ = try IndexedGzipDecoder(chunkIndex: other, outputLimit: .max) }
        #expect(error?.code == .invalidArgument)
    }

    @Test("chunk sizes outside 64 KiB to 64 MiB are refused")
    func chunkSizeRange() {
        for size in [0, 4096, (64 << 10) - 1, (64 << 20) + 1] {
            let error = imagesKitError { _ = try ChunkedGzipEncoder(level: 6, chunkByteCount: size) }
            #expect(error?.code == .invalidArgument)
        }
    }

    @Test("after finishing or failing, the encoder and decoder take no more calls")
    func lifecycle() throws {
        let encoder = try ChunkedGzipEncoder(level: 6, threads: 2, chunkByteCount: Self.chunk)
        try encoder.finish { _ in }
        let late = imagesKitError { try encoder.encode(UnsafeRawBufferPointer(start: nil, count: 0)) { _ in } }
        #expect(late?.code == .invalidState)

        var encoded = try Self.encode(Self.mixed(chunks: 2, extra: 10))
        encoded.bytes.append(1)
        let decoder = try IndexedGzipDecoder(chunkIndex: encoded.index, outputLimit: .max)
        _ = imagesKitError { try encoded.bytes.withUnsafeBytes { try decoder.decode($0) { _ in } } }
        #expect(imagesKitError { try decoder.finish() }?.code == .invalidState)
    }
}
