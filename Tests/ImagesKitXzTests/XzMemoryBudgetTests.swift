import Foundation
import ImagesKit
import ImagesKitXz
import Testing

/// The memory budget sets how many threads an encoder runs and how many blocks a decoder keeps in
/// hand, never making either fail; the decoder reads multi-block and single-block streams alike.
@Suite("xz memory budget and threads")
struct XzMemoryBudgetTests {
    static let processors = ProcessInfo.processInfo.activeProcessorCount

    /// About 3.5 MB of random runs, zero runs and text: four 1 MiB blocks.
    static let original = XzPayload.mixed(2_500_000, seed: 41) + XzPayload.text(1_000_000)

    @Test("a budget below two threads' memory leaves an encoder one thread", arguments: [0, 1 << 20, 100 << 20])
    func smallBudgetGivesOneThread(budget: UInt64) {
        let codec = XzCompressor(threads: 8, memoryBudget: budget)
        for level in 1...9 {
            #expect(codec.encoderThreads(level: level) == 1, "level \(level)")
        }
    }

    @Test("an unlimited budget runs the threads asked for, or one a processor by default")
    func largeBudgetIsCappedByThreads() {
        #expect(XzCompressor(threads: 3, memoryBudget: .max).encoderThreads(level: 6) == 3)
        #expect(XzCompressor(threads: 1, memoryBudget: .max).encoderThreads(level: 9) == 1)
        #expect(XzCompressor(memoryBudget: .max).encoderThreads(level: 6) == Self.processors)
    }

    @Test("a budget holds exactly the threads whose estimate fits in it")
    func budgetBoundaryIsExact() throws {
        let twoThreads = try #require(XzCompressor(threads: 2, memoryBudget: .max).encoderMemoryUsage(level: 6))
        #expect(XzCompressor(threads: 4, memoryBudget: twoThreads).encoderThreads(level: 6) == 2)
        #expect(XzCompressor(threads: 4, memoryBudget: twoThreads - 1).encoderThreads(level: 6) == 1)
        #expect(XzCompressor(threads: 4, memoryBudget: twoThreads).encoderMemoryUsage(level: 6) == twoThreads)
    }

    @Test("the default 192 MiB budget runs two threads at every level and three at level 1, however many asked")
    func defaultBudgetThreads() throws {
        let codec = XzCompressor(threads: 100_000)
        #expect(codec.memoryBudget == 192 << 20)
        #expect(codec.encoderThreads(level: 1) == 3)
        for level in 2...9 {
            #expect(codec.encoderThreads(level: level) == 2, "level \(level)")
            #expect(try #require(codec.encoderMemoryUsage(level: level)) <= codec.memoryBudget, "level \(level)")
        }
        #expect(XzCompressor().encoderThreads(level: 6) == min(2, Self.processors))
        #expect(codec.encoderThreads(level: 0) == nil)
        #expect(codec.encoderMemoryUsage(level: 10) == nil)
    }

    @Test("an encoder with more threads than liblzma supports still starts, on the threads the budget holds")
    func manyThreadsStillEncode() throws {
        let codec = XzCompressor(threads: 100_000, blockSize: 1 << 20)
        let compressed = try encodeXz(Self.original, level: 1, codec: codec)
        #expect(try decodeXz(compressed).output == Self.original)
    }

    @Test(
        "an encoder the budget leaves one thread still writes blocks, and xz reads what it writes",
        arguments: [0, XzCompressor.defaultMemoryBudget])
    func budgetedEncoderOutputPassesXz(budget: UInt64) throws {
        let directory = try ScratchDirectory()
        let codec = XzCompressor(threads: 4, memoryBudget: budget, blockSize: 1 << 20)
        for level in [1, 6, 9] {
            let compressed = try encodeXz(
                Self.original, level: level, chunking: .random(seed: 42, maximum: 100_000), codec: codec)
            let file = try directory.write(compressed, to: "budget-\(level).img.xz")
            #expect(try Tool.run("xz", ["-t", file.path]).status == 0, "level \(level)")
            #expect(try Tool.output("xz", ["-dc", file.path]) == Self.original, "level \(level)")
            #expect(try Tool.blockCount(of: file) == 4, "level \(level)")
        }
    }

    @Test(
        "a multi-block stream of xz -T2 --block-size=1MiB decodes on two threads, whatever the budget",
        arguments: [XzCompressor.defaultMemoryBudget, 1 << 20, .max])
    func multiBlockStreamDecodes(budget: UInt64) throws {
        let directory = try ScratchDirectory()
        let compressed = try Tool.xz(["-6", "-T2", "--block-size=1MiB"], of: Self.original, in: directory)
        #expect(try Tool.blockCount(of: directory.write(compressed, to: "blocks.xz")) == 4)
        for chunking in [Chunking.whole, .random(seed: 43, maximum: 300_000), .fixed(4096)] {
            let decoded = try decodeXz(
                compressed, chunking: chunking, codec: testCodec(threads: 2, memoryBudget: budget))
            #expect(decoded.error == nil, "\(chunking): \(decoded.error?.description ?? "")")
            #expect(decoded.output == Self.original, "\(chunking)")
            #expect(decoded.streamByteCount == UInt64(compressed.count), "\(chunking)")
            #expect(decoded.streamCount == 1, "\(chunking)")
        }
    }

    @Test("a single-block stream of plain xz -6 decodes on the multi-threaded decoder")
    func singleBlockStreamDecodes() throws {
        let directory = try ScratchDirectory()
        let compressed = try Tool.xz(["-6", "-T1"], of: Self.original, in: directory)
        #expect(try Tool.blockCount(of: directory.write(compressed, to: "one-block.xz")) == 1)
        for chunking in [Chunking.whole, .random(seed: 44, maximum: 100_000)] {
            let decoded = try decodeXz(compressed, chunking: chunking, codec: testCodec(threads: Self.processors + 1))
            #expect(decoded.error == nil, "\(chunking): \(decoded.error?.description ?? "")")
            #expect(decoded.output == Self.original, "\(chunking)")
            #expect(decoded.streamByteCount == UInt64(compressed.count), "\(chunking)")
        }
    }

    @Test("a block larger than the budget decodes on one thread; only the decoder's memory limit refuses")
    func budgetNeverRefusesAStream() throws {
        let stream = try XzLimitTests.largeDictionaryStream()
        let underBudget = try decodeXz(
            stream, codec: testCodec(threads: 2, memoryBudget: 1 << 20, memoryLimit: 70 << 20))
        let overLimit = try decodeXz(stream, codec: testCodec(threads: 2, memoryBudget: .max, memoryLimit: 16 << 20))

        #expect(underBudget.error == nil)
        #expect(underBudget.output == XzPayload.text(100_000))
        #expect(overLimit.errorCode == .memoryLimitExceeded)
        #expect(overLimit.error?.context["limit"] == String(16 << 20))
    }

    @Test(
        "all output the input so far holds comes out before decode returns, whatever the output buffer",
        arguments: [1000, 4096, 65_536, 1 << 20])
    func everyBufferSizeDrainsTheThreads(bufferSize: Int) throws {
        // A block of zeros decodes at once and one of text takes a while: when the zeros end just
        // as the output buffer fills, the text is still being decoded on the other thread. The
        // input stops inside the third block, so nothing waits for the index.
        let original = XzPayload.zeros(1 << 20) + XzPayload.text(1 << 20) + XzPayload.text(1 << 20, seed: 6)
        let compressed = try encodeXz(original, level: 6, codec: testCodec(threads: 2))
        let input = Array(compressed.dropLast(100_000))
        let expected = try decodeXz(input, codec: testCodec(threads: 1)).output
        #expect(expected.count > 2 << 20)
        for _ in 0..<5 {
            let decoder = try XzDecoder(outputLimit: .max, codec: testCodec(threads: 2, bufferSize: bufferSize))
            var output: [UInt8] = []
            try input.withUnsafeBytes { try decoder.decode($0) { output.append(contentsOf: $0) } }
            #expect(output.count == expected.count)
            #expect(sha256Prefix(output) == sha256Prefix(expected))
        }
    }
}
