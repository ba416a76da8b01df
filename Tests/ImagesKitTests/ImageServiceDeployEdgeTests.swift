import Foundation
import ImagesKit
import ImagesKitMemory
import Testing

@Suite("Deploy edges")
struct ImageServiceDeployEdgeTests {
    @Test("a damaged stored image is refused before an existing disk is erased; the disk keeps its content")
    func damagedImageLeavesDiskAlone() async throws {
        let harness = ServiceHarness()
        let image = try await harness.upload(try SharedExt4Image.get().gzipped)
        var stored = try #require(harness.store.storedBytes(of: image.id))
        stored[stored.count / 2] ^= 0x01
        harness.store.replaceStoredBytes(stored, of: image.id)
        let disk = MemoryDisk(byteCount: 32 << 20)
        try disk.fill(with: 0xAA)

        do {
            try await harness.service.deploy(image.id, to: disk)
            Issue.record("a damaged image was deployed")
        } catch let error as ImagesKitError {
            #expect(error.code == .digestMismatch)
            #expect(error.message.contains("not touched"))
        }
        #expect(try disk.allBytes().allSatisfy { $0 == 0xAA }, "the disk was changed")
    }
}
