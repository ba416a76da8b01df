import Foundation
import ImagesKit
import ImagesKitMemory
import Testing

/// Captures of filesystems whose features change how they can be shrunk.
@Suite("Capture of other ext feature sets")
struct ImageServiceFeatureSetTests {
    @Test("a bigalloc filesystem, which resize2fs can't resize safely, keeps its size through capture and deploy")
    func bigallocKeepsItsSize() async throws {
        let folder = try ServiceTestFolder()
        let path = try ExtImageMaker.make(
            in: folder, name: "bigalloc.img", mebibytes: 32, options: ["-O", "bigalloc", "-C", "16384"])
        let harness = ServiceHarness(scratchDirectory: folder.path("scratch"))

        let image = try await harness.service.capture(CaptureRequest(label: "bigalloc"), from: try FileDisk(path: path))

        #expect(image.status == .available)
        #expect(image.size == Image.megabytes(32 << 20))
        let target = MemoryDisk(byteCount: 48 << 20)
        let outcome = try await harness.service.deploy(image.id, to: target)
        #expect(
            outcome
                == DeployOutcome(
                    image: image.id, diskByteCount: 48 << 20, filesystemByteCount: 32 << 20, filesystemGrown: false))
        let deployed = try DiskProbe.capturableFilesystem(on: target)
        #expect(deployed.isBigalloc)
        #expect(deployed.byteCount == 32 << 20)
    }

    @Test(
        "ext3 and 1 KiB-block ext4 filesystems are captured, shrunk and deployed with their files",
        arguments: [
            ["-O", "^extent,^flex_bg,^huge_file,^dir_nlink,^extra_isize,^metadata_csum,^64bit"], ["-b", "1024"],
            ["-O", "^metadata_csum,uninit_bg"], ["-O", "^has_journal"],
        ])
    func otherFeatureSets(options: [String]) async throws {
        let folder = try ServiceTestFolder()
        let files = ExtImageMaker.sampleFiles(seed: 99)
        let path = try ExtImageMaker.make(
            in: folder, name: "source.img", mebibytes: 24, files: files, options: options)
        let harness = ServiceHarness(scratchDirectory: folder.path("scratch"))

        let image = try await harness.service.capture(CaptureRequest(label: "features"), from: try FileDisk(path: path))
        #expect(image.size < Image.megabytes(24 << 20))

        let target = folder.path("deployed.img")
        try await harness.service.deploy(image.id, toNewDiskAt: target, byteCount: 40 << 20)
        #expect(try HostCheck.filesystemIsClean(at: target))
        let copies = try HostCheck.extFiles(files.keys, inImageAt: target)
        for (name, content) in files {
            #expect(copies[name] == content, "\(name) differs after deploy")
        }
    }
}
