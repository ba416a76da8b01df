import Foundation
import ImagesKit
import ImagesKitFileSystem
import ImagesKitGzip
import ImagesKitTestSupport
import Testing

/// Capture from and deploy onto real block devices (loop devices over files; needs root).
@Suite("Block devices", .serialized)
struct BlockDeviceTests {
    @Test("a disk captured from a block device deploys over another whose old data is gone")
    func captureAndRebuildOnLoopDevices() async throws {
        let work = try Tools.temporaryFolder("loop")
        defer { try? FileManager.default.removeItem(at: work) }
        let tree = work.appendingPathComponent("tree")
        try FileManager.default.createDirectory(at: tree, withIntermediateDirectories: true)
        var generator = SplitMix64(seed: 42)
        let payload = generator.bytes(3_000_000)
        try Data(payload).write(to: tree.appendingPathComponent("payload.bin"))

        let source = try LoopDevice(file: work.appendingPathComponent("source.img"), mebibytes: 64)
        defer { source.detach() }
        try Tools.shell("mkfs.ext4 -q -F -L loopsource -d '\(tree.path)' \(source.device)")
        let marker = Array("OLD-CONTENT-MARKER-".utf8)
        let targetFile = work.appendingPathComponent("target.img")
        try Data((0..<(96 << 20) / marker.count).flatMap { _ in marker }).write(to: targetFile)
        let target = try LoopDevice(file: targetFile, mebibytes: 96)
        defer { target.detach() }

        let service = ImageService(
            store: try FileSystemImageStore(folder: work.appendingPathComponent("store")),
            compressor: GzipCompressor())
        let image = try await service.capture(CaptureRequest(), from: try FileDisk(path: source.device))
        #expect(image.label == "loopsource")

        let disk = try FileDisk(path: target.device, writable: true)
        #expect(disk.isBlockDevice)
        let outcome = try await service.deploy(image.id, to: disk)
        #expect(outcome.filesystemGrown && outcome.filesystemByteCount == 96 << 20)

        #expect(try Tools.shell("e2fsck -fn \(target.device)", allowFailure: true).status == 0)
        #expect(try Tools.fileInside(target.device, "/payload.bin", scratch: work) == Data(payload))
        target.detach()
        let backing = try Data(contentsOf: target.file)
        #expect(backing.firstRange(of: Data(marker)) == nil, "old content survived the deploy")
    }
}

/// A loop device over a new file, detached by ``detach()``.
struct LoopDevice {
    let file: URL
    let device: String

    init(file: URL, mebibytes: Int) throws {
        self.file = file
        try Tools.shell("truncate -s \(mebibytes)M '\(file.path)'")
        let attached = try Tools.shell("losetup --find --show '\(file.path)'")
        device = attached.output.trimmingCharacters(in: .whitespacesAndNewlines)
        guard device.hasPrefix("/dev/loop") else {
            throw Tools.Failure(description: "losetup gave no loop device (it needs root): \(attached.output)")
        }
    }

    func detach() {
        _ = try? Tools.shell("losetup -d \(device)", allowFailure: true)
    }
}
