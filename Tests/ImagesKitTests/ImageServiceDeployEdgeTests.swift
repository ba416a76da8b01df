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

    @Test("a new disk appears under its name only when complete; a failed one leaves no file at all")
    func newDiskAppearsWhole() async throws {
        let folder = try ServiceTestFolder()
        let harness = ServiceHarness()
        let image = try await harness.upload(try SharedExt4Image.get().gzipped)
        let target = folder.path("new.img")
        let seenEarly = ProgressLog()

        try await harness.service.deploy(image.id, toNewDiskAt: target, byteCount: 40 << 20) { progress in
            if FileManager.default.fileExists(atPath: target) { seenEarly.handler(progress) }
        }

        #expect(seenEarly.all.isEmpty, "the disk was visible before it was complete")
        #expect(try folder.entries() == ["new.img"])
        var stored = try #require(harness.store.storedBytes(of: image.id))
        stored[stored.count / 3] ^= 0x40
        harness.store.replaceStoredBytes(stored, of: image.id)
        await #expect(throws: ImagesKitError.self) {
            try await harness.service.deploy(image.id, toNewDiskAt: folder.path("second.img"))
        }
        #expect(try folder.entries() == ["new.img"])
    }
}
