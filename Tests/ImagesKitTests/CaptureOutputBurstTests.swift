import Foundation
import ImagesKit
import ImagesKitMemory
import Testing

/// An encoder may hand a capture many chunks of output in one call, as a multi-threaded xz
/// encoder does when several blocks finish at once; the store still gets every byte, in order.
@Suite("Capture output in bursts")
struct CaptureOutputBurstTests {
    @Test(arguments: [1, 3, 17])
    func outputHandedOverInBurstsReachesTheStoreWhole(burstEvery: Int) async throws {
        let folder = try ServiceTestFolder()
        let scratch = folder.path("scratch")
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        let path = try ExtImageMaker.make(in: folder, mebibytes: 24, files: ExtImageMaker.sampleFiles(seed: 5))
        var configuration = ImageServiceConfiguration()
        configuration.scratchDirectory = scratch
        configuration.chunkSize = 64 << 10
        let store = MemoryImageStore()
        let service = ImageService(
            store: store, compressor: BurstCodec(burstEvery: burstEvery), configuration: configuration)

        let image = try await service.capture(CaptureRequest(), from: try ExtImageMaker.memoryDisk(path))

        let stored = try #require(store.storedBytes(of: image.id))
        let content = try #require(try await store.record(image.id)?.content)
        #expect(UInt64(stored.count) == content.uncompressedByteCount)
        #expect(try HostCheck.sha256(stored, in: folder) == content.sha256)
    }
}

/// A codec that stores bytes as they are, holding them back and handing them over all at once
/// on every `burstEvery`-th call and at the finish.
struct BurstCodec: Compressor {
    let burstEvery: Int

    var format: CompressionFormat {
        CompressionFormat(name: "burst", fileExtension: ".img.burst", magic: Array("BURST".utf8))
    }

    func makeEncoder(level: Int) throws -> any CompressionEncoder {
        BurstEncoder(burstEvery: burstEvery)
    }

    func makeDecoder(outputLimit: UInt64) throws -> any CompressionDecoder {
        throw ImagesKitError(.unsupportedFormat, "the burst codec only encodes")
    }
}

final class BurstEncoder: CompressionEncoder {
    private let burstEvery: Int
    private var held: [UInt8] = []
    private var calls = 0

    init(burstEvery: Int) {
        self.burstEvery = burstEvery
    }

    func encode(_ input: UnsafeRawBufferPointer, output: (UnsafeRawBufferPointer) throws -> Void) throws {
        held.append(contentsOf: input)
        calls += 1
        if calls % burstEvery == 0 { try handOver(output) }
    }

    func finish(output: (UnsafeRawBufferPointer) throws -> Void) throws {
        try handOver(output)
    }

    private func handOver(_ output: (UnsafeRawBufferPointer) throws -> Void) throws {
        try held.withUnsafeBytes { try output($0) }
        held.removeAll()
    }
}
