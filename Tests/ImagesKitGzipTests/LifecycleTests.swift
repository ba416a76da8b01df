import Foundation
import ImagesKit
import ImagesKitGzip
import Testing

/// Encoders and decoders refuse calls after they finish or fail, and free zlib's memory.
@Suite("Lifecycle")
struct LifecycleTests {
    struct OutputRefused: Error {}

    @Test("a finished decoder refuses more input and a second finish")
    func decoderRefusesUseAfterFinish() throws {
        let decoder = try GzipCompressor().makeDecoder(outputLimit: 100)
        let member = try encodeGzip(Array("abc".utf8))
        try member.withUnsafeBytes { try decoder.decode($0) { _ in } }
        try decoder.finish()

        let afterDecode = imagesKitError { try member.withUnsafeBytes { try decoder.decode($0) { _ in } } }
        let afterFinish = imagesKitError { try decoder.finish() }
        #expect(afterDecode?.code == .invalidState)
        #expect(afterDecode?.message.contains("already finished") == true)
        #expect(afterFinish?.code == .invalidState)
    }

    @Test("a finished encoder refuses more input and a second finish")
    func encoderRefusesUseAfterFinish() throws {
        let encoder = try GzipCompressor().makeEncoder(level: 6)
        try encoder.finish { _ in }

        let afterEncode = imagesKitError {
            try [UInt8](repeating: 1, count: 10).withUnsafeBytes { try encoder.encode($0) { _ in } }
        }
        let afterFinish = imagesKitError { try encoder.finish { _ in } }
        #expect(afterEncode?.code == .invalidState)
        #expect(afterEncode?.message.contains("gzip encoder was already finished") == true)
        #expect(afterFinish?.code == .invalidState)
    }

    @Test("a decoder that failed refuses more calls and names the earlier error")
    func decoderRefusesUseAfterFailure() throws {
        let decoder = try GzipDecoder(outputLimit: .max)
        _ = imagesKitError { try Array("not gzip".utf8).withUnsafeBytes { try decoder.decode($0) { _ in } } }

        let later = imagesKitError { try decoder.finish() }
        #expect(later?.code == .invalidState)
        #expect((later?.cause as? ImagesKitError)?.code == .unsupportedFormat)
    }

    @Test("an error thrown by the output closure reaches the caller and stops the decoder")
    func outputClosureErrorStopsDecoder() throws {
        let decoder = try GzipDecoder(outputLimit: .max)
        let member = try encodeGzip(Payload.text(10_000))
        #expect(throws: OutputRefused.self) {
            try member.withUnsafeBytes { try decoder.decode($0) { _ in throw OutputRefused() } }
        }
        #expect(imagesKitError { try decoder.finish() }?.code == .invalidState)
    }

    @Test("an error thrown by the output closure reaches the caller and stops the encoder")
    func outputClosureErrorStopsEncoder() throws {
        let encoder = try GzipEncoder(level: 1)
        #expect(throws: OutputRefused.self) { try encoder.finish { _ in throw OutputRefused() } }
        #expect(imagesKitError { try encoder.finish { _ in } }?.code == .invalidState)
    }

    @Test("the encoder counts the bytes it consumed and produced")
    func encoderCountsBytes() throws {
        let encoder = try GzipEncoder(level: 6, bufferSize: 1000)
        var produced = 0
        let input = Payload.random(50_000, seed: 1)
        try input.withUnsafeBytes { try encoder.encode($0) { produced += $0.count } }
        try encoder.finish { produced += $0.count }
        #expect(encoder.inputByteCount == 50_000)
        #expect(encoder.outputByteCount == UInt64(produced))
    }

    @Test("decoders and encoders dropped in the middle of a stream free zlib's memory")
    func droppedStreamsDoNotLeak() throws {
        let member = try encodeGzip(Payload.zeros(700_000))
        let half = Array(member.prefix(member.count / 2))
        let before = try residentBytes()
        for _ in 0..<800 {
            let decoder = try GzipDecoder(outputLimit: .max)
            try half.withUnsafeBytes { try decoder.decode($0) { _ in } }
            let encoder = try GzipEncoder(level: 9)
            try half.withUnsafeBytes { try encoder.encode($0) { _ in } }
        }
        // Each leaked pair would keep about 600 KiB of touched zlib state and buffers: 480 MB.
        #expect(try residentBytes() - before < 150_000_000)
    }

    private func residentBytes() throws -> Int {
        let statm = try String(contentsOfFile: "/proc/self/statm", encoding: .utf8)
        let pages = try #require(Int(statm.split(separator: " ")[1]))
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}
