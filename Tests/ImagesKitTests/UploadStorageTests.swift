import Foundation
import ImagesKit
import ImagesKitMemory
import Testing

/// The bytes an upload stores are exactly its stream's, however late the decoder counts them.
@Suite("Upload storage")
struct UploadStorageTests {
    @Test(arguments: [1, 2, 3, 7, 100, 5000])
    func bytesTheDecoderCountsLateAreStillStored(pieceSize: Int) async throws {
        let file = Array("LAG:".utf8) + (0..<3000).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 1) }
        var configuration = ImageServiceConfiguration()
        configuration.uploadFormats = ["lagging"]
        let service = ImageService(store: MemoryImageStore(), compressor: LaggingCodec(), configuration: configuration)
        let pending = try await service.createUpload(UploadRequest(label: "lag", region: "local"))
        let pieces = stride(from: 0, to: file.count, by: pieceSize).map {
            Array(file[$0..<min($0 + pieceSize, file.count)])
        }

        let image = try await service.upload(pending.image.id, bytes: ChunkedBytes(chunks: pieces))
        let store = service.store as! MemoryImageStore
        expectSameBytes(store.storedBytes(of: image.id), file, "stored bytes")
    }
}

/// A codec whose data is its own bytes after a 4-byte magic, and whose decoder counts each
/// piece's last byte as the stream's only when the next piece arrives (or at the end).
struct LaggingCodec: Compressor {
    var format: CompressionFormat {
        CompressionFormat(name: "lagging", fileExtension: ".img.lag", magic: Array("LAG:".utf8))
    }

    func makeEncoder(level: Int) throws -> any CompressionEncoder {
        throw ImagesKitError(.unsupportedFormat, "the lagging codec only decodes")
    }

    func makeDecoder(outputLimit: UInt64) throws -> any CompressionDecoder {
        LaggingDecoder()
    }
}

final class LaggingDecoder: CompressionDecoder {
    private var consumed: UInt64 = 0
    private(set) var outputByteCount: UInt64 = 0

    var streamByteCount: UInt64 { consumed == 0 ? 0 : consumed - 1 }

    func decode(_ input: UnsafeRawBufferPointer, output: (UnsafeRawBufferPointer) throws -> Void) throws {
        let skip = Int(max(0, 4 - Int(consumed)))
        consumed += UInt64(input.count)
        guard input.count > skip else { return }
        let data = UnsafeRawBufferPointer(rebasing: input[skip...])
        outputByteCount += UInt64(data.count)
        try output(data)
    }

    func finish() throws {
        consumed += 1
    }
}
