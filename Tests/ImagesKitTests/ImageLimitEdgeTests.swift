import Foundation
import ImagesKit
import Testing

/// The per-image limit at its default figure, with real data: an upload of exactly 6 GB is
/// taken and one byte more is refused.
@Suite("Image limit at 6 GB")
struct ImageLimitEdgeTests {
    /// `count` zero bytes as gzip members of 10 MB made by `gzip`, plus one member for the rest.
    static func zeros(_ count: UInt64, in folder: ServiceTestFolder) throws -> ChunkedBytes {
        let piece: UInt64 = 10_000_000
        let member = try HostCheck.gzip([UInt8](repeating: 0, count: Int(piece)), in: folder)
        var chunks = [[UInt8]](repeating: member, count: Int(count / piece))
        if count % piece > 0 {
            chunks.append(try HostCheck.gzip([UInt8](repeating: 0, count: Int(count % piece)), in: folder))
        }
        return ChunkedBytes(chunks: chunks)
    }

    @Test func anUploadOfExactlySixGigabytesIsTaken() async throws {
        let folder = try ServiceTestFolder()
        let harness = ServiceHarness()
        #expect(ImageLimits().imageBytes == 6_000_000_000)

        let pending = try await harness.service.createUpload(UploadRequest(label: "six", region: "us-east"))
        let image = try await harness.service.upload(
            pending.image.id, bytes: try Self.zeros(6_000_000_000, in: folder))
        #expect(image.status == .available)
        #expect(image.size == 6000)
    }

    @Test func anUploadOneByteOverSixGigabytesIsRefusedAndLeavesNothing() async throws {
        let folder = try ServiceTestFolder()
        let harness = ServiceHarness()

        let pending = try await harness.service.createUpload(UploadRequest(label: "six", region: "us-east"))
        let error = await #expect(throws: ImagesKitError.self) {
            try await harness.service.upload(pending.image.id, bytes: try Self.zeros(6_000_000_001, in: folder))
        }
        #expect(error?.code == .imageTooLarge)
        #expect(error?.message.contains("6000000000") == true)
        #expect(try await harness.store.records().isEmpty)
        #expect(harness.store.storedBytes(of: pending.image.id) == nil)
    }
}
