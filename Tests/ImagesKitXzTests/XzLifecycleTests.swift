import Foundation
import ImagesKit
import ImagesKitXz
import Testing

/// Encoders and decoders refuse calls after they finish or fail, and free liblzma's memory and
/// threads.
@Suite("xz lifecycle")
struct XzLifecycleTests {
    struct OutputRefused: Error {}

    @Test("a finished decoder refuses more input and a second finish", arguments: [1, 2])
    func decoderRefusesUseAfterFinish(threads: Int) throws {
        let decoder = try testCodec(threads: threads).makeDecoder(outputLimit: 100)
        let stream = try encodeXz(Array("abc".utf8))
        try stream.withUnsafeBytes { try decoder.decode($0) { _ in } }
        try decoder.finish()

        let afterDecode = thrownImagesKitError { try stream.withUnsafeBytes { try decoder.decode($0) { _ in } } }
        let afterFinish = thrownImagesKitError { try decoder.finish() }
        #expect(afterDecode?.code == .invalidState)
        #expect(afterDecode?.message.contains("xz decoder was already finished") == true)
        #expect(afterFinish?.code == .invalidState)
    }

    @Test("a finished encoder refuses more input and a second finish", arguments: [1, 2])
    func encoderRefusesUseAfterFinish(threads: Int) throws {
        let encoder = try testCodec(threads: threads).makeEncoder(level: 6)
        try encoder.finish { _ in }

        let afterEncode = thrownImagesKitError {
            try [UInt8](repeating: 1, count: 10).withUnsafeBytes { try encoder.encode($0) { _ in } }
        }
        let afterFinish = thrownImagesKitError { try encoder.finish { _ in } }
        #expect(afterEncode?.code == .invalidState)
        #expect(afterEncode?.message.contains("xz encoder was already finished") == true)
        #expect(afterFinish?.code == .invalidState)
    }

    @Test("a decoder that failed refuses more calls and names the earlier error")
    func decoderRefusesUseAfterFailure() throws {
        let decoder = try XzDecoder(outputLimit: .max)
        _ = thrownImagesKitError { try Array("not xz".utf8).withUnsafeBytes { try decoder.decode($0) { _ in } } }

        let later = thrownImagesKitError { try decoder.finish() }
        #expect(later?.code == .invalidState)
        #expect((later?.cause as? ImagesKitError)?.code == .unsupportedFormat)
    }

    @Test("an error thrown by the output closure reaches the caller and stops the decoder", arguments: [1, 2])
    func outputClosureErrorStopsDecoder(threads: Int) throws {
        let decoder = try XzDecoder(outputLimit: .max, codec: testCodec(threads: threads))
        let stream = try encodeXz(XzPayload.text(10_000))
        #expect(throws: OutputRefused.self) {
            try stream.withUnsafeBytes { try decoder.decode($0) { _ in throw OutputRefused() } }
        }
        #expect(thrownImagesKitError { try decoder.finish() }?.code == .invalidState)
    }

    @Test("an error thrown by the output closure reaches the caller and stops the encoder")
    func outputClosureErrorStopsEncoder() throws {
        let encoder = try XzEncoder(level: 1)
        #expect(throws: OutputRefused.self) { try encoder.finish { _ in throw OutputRefused() } }
        #expect(thrownImagesKitError { try encoder.finish { _ in } }?.code == .invalidState)
    }

    @Test("the encoder counts the bytes it consumed and produced, and takes empty pieces", arguments: [1, 2])
    func encoderCountsBytes(threads: Int) throws {
        let encoder = try XzEncoder(level: 6, codec: testCodec(threads: threads, bufferSize: 1000))
        var produced: [UInt8] = []
        let input = XzPayload.random(50_000, seed: 21)
        for piece in [[], input, [], []] {
            try piece.withUnsafeBytes { try encoder.encode($0) { produced.append(contentsOf: $0) } }
        }
        try encoder.finish { produced.append(contentsOf: $0) }
        #expect(encoder.inputByteCount == 50_000)
        #expect(encoder.outputByteCount == UInt64(produced.count))
        #expect(try decodeXz(produced).output == input)
    }

    @Test("an empty input and a one-byte input are refused clearly")
    func emptyAndTinyInputs() throws {
        #expect(try decodeXz([]).errorCode == .emptyInput)
        #expect(try decodeXz([0xfd]).errorCode == .truncatedData)
        let notXz = try decodeXz([0x00])
        #expect(notXz.errorCode == .unsupportedFormat)
        #expect(notXz.error?.message.contains("upload a raw disk image compressed with xz") == true)
    }

    @Test("decoders and encoders dropped in the middle of a stream free liblzma's memory and threads")
    func droppedCodersDoNotLeak() throws {
        let stream = try encodeXz(XzPayload.mixed(1_200_000, seed: 22), level: 1, codec: testCodec(threads: 2))
        let half = Array(stream.prefix(stream.count / 2))
        let before = try residentBytes()
        for index in 0..<40 {
            let codec = testCodec(threads: 1 + index % 2)
            let decoder = try XzDecoder(outputLimit: .max, codec: codec)
            try half.withUnsafeBytes { try decoder.decode($0) { _ in } }
            let encoder = try XzEncoder(level: 1, codec: codec)
            try half.withUnsafeBytes { try encoder.encode($0) { _ in } }
        }
        // Kept alive, these 40 pairs hold about 200 MB of touched tables and buffers and 40 threads.
        #expect(try residentBytes() - before < 120_000_000)
        #expect(try threadCount() < 30)
    }

    private func residentBytes() throws -> Int {
        let statm = try String(contentsOfFile: "/proc/self/statm", encoding: .utf8)
        let pages = try #require(Int(statm.split(separator: " ")[1]))
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    private func threadCount() throws -> Int {
        try FileManager.default.contentsOfDirectory(atPath: "/proc/self/task").count
    }
}
