import Foundation
import ImagesKit
import ImagesKitFileSystem
import ImagesKitGzip
import ImagesKitTestSupport
import Testing

/// A real Debian system on a real ext4 disk: captured, listed, exported, deployed, uploaded.
@Suite("Golden disk end to end", .serialized, .timeLimit(.minutes(20)))
struct GoldenDiskEndToEndTests {
    static let systemFiles = [
        "/usr/bin/bash", "/usr/bin/ls", "/usr/bin/dpkg", "/usr/bin/apt", "/usr/bin/perl", "/usr/sbin/ldconfig",
        "/usr/lib/os-release", "/usr/lib/x86_64-linux-gnu/libc.so.6", "/etc/passwd", "/etc/group",
        "/etc/debian_version", "/etc/apt/sources.list", "/var/lib/dpkg/status",
    ]

    static let gibibyte: UInt64 = 1 << 30

    @Test("a captured Debian disk deploys to a larger disk with the same files and no deleted data")
    func captureExportDeploy() async throws {
        let work = try Tools.temporaryFolder("golden")
        defer { try? FileManager.default.removeItem(at: work) }
        let source = try makeGoldenDisk(in: work)
        let staleBlocks = try writeAndDeleteRandomFile(on: source, scratch: work)
        let usedBytes = try usedByteCount(source)
        let service = try makeService(store: work.appendingPathComponent("store"), scratch: work)

        let image = try await service.capture(CaptureRequest(label: "golden"), from: try FileDisk(path: source))
        #expect(image.status == .available)
        let listed = try await service.images()
        #expect(listed.data.map(\.id) == [image.id])
        #expect(listed.data.first?.status == .available)
        #expect(UInt64(image.size) * 1_000_000 >= usedBytes, "image smaller than the data it holds")
        #expect(UInt64(image.size) * 1_000_000 <= usedBytes + usedBytes / 2, "image far above the used data")

        let stored = work.appendingPathComponent("store/content/\(image.id.number!).data").path
        try expectNoStaleBlocks(inGzip: stored, staleBlocks)

        let exported = work.appendingPathComponent("golden.img.gz").path
        try await service.export(image.id, to: exported)
        try Tools.shell("gzip -t '\(exported)'")

        let target = work.appendingPathComponent("deployed.img").path
        try await service.deploy(image.id, toNewDiskAt: target, byteCount: 3 * Self.gibibyte)
        try expectHealthyCopy(target, of: source, diskBytes: 3 * Self.gibibyte, scratch: work)
    }

    @Test("a golden disk compressed by pigz uploads and deploys with the same files")
    func uploadDeploy() async throws {
        let work = try Tools.temporaryFolder("golden-upload")
        defer { try? FileManager.default.removeItem(at: work) }
        let source = try makeGoldenDisk(in: work)
        let upload = work.appendingPathComponent("golden.img.gz").path
        try Tools.shell("pigz -6 -p 2 -c '\(source)' > '\(upload)'")
        let service = try makeService(store: work.appendingPathComponent("store"), scratch: work)

        let pending = try await service.createUpload(UploadRequest(label: "golden upload", region: "us-east"))
        let image = try await service.upload(pending.image.id, fileAt: upload)
        #expect(image.status == .available)
        #expect(UInt64(image.size) == 2 * Self.gibibyte / 1_000_000 + 1)
        #expect(image.regions == [ImageRegion(region: "us-east", status: .available)])

        let target = work.appendingPathComponent("deployed.img").path
        try await service.deploy(image.id, toNewDiskAt: target, byteCount: 3 * Self.gibibyte)
        try expectHealthyCopy(target, of: source, diskBytes: 3 * Self.gibibyte, scratch: work)
    }

    private func makeService(store: URL, scratch: URL) throws -> ImageService {
        var configuration = ImageServiceConfiguration()
        configuration.scratchDirectory = scratch.path
        return ImageService(
            store: try FileSystemImageStore(folder: store), compressor: GzipCompressor(),
            configuration: configuration)
    }

    private func makeGoldenDisk(in work: URL) throws -> String {
        let disk = work.appendingPathComponent("golden.img").path
        let script = Tools.packageRoot.appendingPathComponent("scripts/golden-disk.sh").path
        try Tools.shell("'\(script)' '\(disk)' 2G")
        return disk
    }

    private func usedByteCount(_ disk: String) throws -> UInt64 {
        let blocks = try Tools.superblockField(disk, "Block count")
        let free = try Tools.superblockField(disk, "Free blocks")
        return (blocks - free) * (try Tools.superblockField(disk, "Block size"))
    }

    /// Writes 50 MB of random bytes into the filesystem and deletes them; returns their blocks.
    private func writeAndDeleteRandomFile(on disk: String, scratch: URL) throws -> Set<[UInt8]> {
        var generator = SplitMix64(seed: 0x5EED_DA7A)
        let bytes = generator.bytes(50_000_000)
        let file = scratch.appendingPathComponent("random.bin")
        try Data(bytes).write(to: file)
        let freeBefore = try Tools.superblockField(disk, "Free blocks")
        try Tools.shell("debugfs -w -R \"write \(file.path) stale.bin\" '\(disk)'")
        let freeWritten = try Tools.superblockField(disk, "Free blocks")
        #expect(freeBefore - freeWritten >= UInt64(bytes.count / 4096), "debugfs did not write the file")
        try Tools.shell("debugfs -w -R \"rm stale.bin\" '\(disk)'")
        #expect(try Tools.superblockField(disk, "Free blocks") == freeBefore, "debugfs did not delete the file")
        try FileManager.default.removeItem(at: file)
        return Set(stride(from: 0, to: bytes.count - 4096, by: 4096).map { Array(bytes[$0..<$0 + 32]) })
    }

    /// Decodes the stored image and checks no 4 KiB block of it starts like a deleted block.
    private func expectNoStaleBlocks(inGzip path: String, _ staleBlocks: Set<[UInt8]>) throws {
        let decoder = try GzipCompressor().makeDecoder(outputLimit: 1 << 40)
        let input = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
        defer { try? input.close() }
        var pending: [UInt8] = []
        var found = 0
        while let chunk = try input.read(upToCount: 1 << 20), !chunk.isEmpty {
            try chunk.withUnsafeBytes { raw in
                try decoder.decode(raw) { output in
                    pending.append(contentsOf: output)
                    found += Self.countStale(&pending, staleBlocks)
                }
            }
        }
        try decoder.finish()
        #expect(found == 0, "\(found) blocks of the deleted file travelled into the image")
    }

    private static func countStale(_ pending: inout [UInt8], _ staleBlocks: Set<[UInt8]>) -> Int {
        var found = 0
        var start = 0
        while start + 4096 <= pending.count {
            if staleBlocks.contains(Array(pending[start..<start + 32])) { found += 1 }
            start += 4096
        }
        pending.removeFirst(start)
        return found
    }

    private func expectHealthyCopy(_ target: String, of source: String, diskBytes: UInt64, scratch: URL) throws {
        let check = try Tools.shell("e2fsck -fn '\(target)'", allowFailure: true)
        #expect(check.status == 0, "e2fsck -fn found problems: \(check.output.suffix(1500))")

        let blocks = try Tools.superblockField(target, "Block count")
        let blockSize = try Tools.superblockField(target, "Block size")
        #expect(blocks * blockSize == diskBytes, "the filesystem does not fill the disk")

        for path in Self.systemFiles {
            let original = try Tools.fileInside(source, path, scratch: scratch)
            let copy = try Tools.fileInside(target, path, scratch: scratch)
            #expect(!original.isEmpty && original == copy, "\(path) differs after deploy")
        }
    }
}
