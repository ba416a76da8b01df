import Foundation
import ImagesKit
import Testing

/// Hidden partial disks and exports a killed process left are removed by the next deploy or
/// export into the same folder; those of running processes stay.
@Suite("Partial files of killed processes")
struct PartialFileTests {
    /// The id of a process that has ended.
    static func endedProcessID() throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/true")
        try process.run()
        process.waitUntilExit()
        return process.processIdentifier
    }

    @Test func aDeployRemovesThePartialsOfEndedProcessesOnly() async throws {
        let folder = try ServiceTestFolder()
        let shared = try SharedExt4Image.get()
        let harness = ServiceHarness()
        let image = try await harness.upload(shared.gzipped)
        let ended = try Self.endedProcessID()
        let abandoned = ".old.img.imageskit-partial-\(ended)-0C1A"
        let running = ".busy.img.imageskit-partial-\(getpid())-7E2B"
        let unrelated = ".notes.imageskit-partial-draft"
        for name in [abandoned, running, unrelated] { try folder.write([1, 2, 3], to: name) }

        try await harness.service.deploy(image.id, toNewDiskAt: folder.path("new.img"))
        #expect(try folder.entries() == [running, unrelated, "new.img"].sorted())

        try folder.write([4], to: abandoned)
        try await harness.service.export(image.id, to: folder.path("out.img.gz"))
        #expect(try folder.entries() == [running, unrelated, "new.img", "out.img.gz"].sorted())
    }
}
