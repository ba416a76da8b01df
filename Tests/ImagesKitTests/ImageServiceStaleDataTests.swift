import Foundation
import ImagesKit
import ImagesKitMemory
import Testing

/// Blocks a filesystem uses can still hold deleted or pre-mkfs bytes; none may reach an image.
@Suite("Stale data in used blocks")
struct ImageServiceStaleDataTests {
    enum Source: String, CaseIterable, Sendable {
        /// A deleted file's blocks reused by a file preallocated with fallocate (unwritten extents).
        case preallocatedExtents
        /// A disk full of old data formatted without zeroing its journal and inode tables.
        case lazilyInitialisedMetadata
        /// Small files kept inline in their inodes, then deleted.
        case deletedInlineFiles
    }

    static let marker = "STALE-BYTES-MUST-NOT-TRAVEL!"

    @Test("no stale byte reaches the stored image, and the deployed disk is clean", arguments: Source.allCases)
    func staleBytesStayBehind(source: Source) async throws {
        let folder = try ServiceTestFolder()
        let path = try make(source, in: folder)
        #expect(try occurrences(inFile: path) > 0, "the source holds no stale bytes to test")
        let harness = ServiceHarness(scratchDirectory: folder.path("scratch"))

        let captured = try await harness.service.capture(CaptureRequest(label: "stale"), from: try FileDisk(path: path))

        let stored = try #require(harness.store.storedBytes(of: captured.id))
        let image = try folder.write(try HostCheck.gunzip(stored, in: folder), to: "image.raw")
        #expect(try occurrences(inFile: image) == 0)
        let target = folder.path("deployed.img")
        try await harness.service.deploy(captured.id, toNewDiskAt: target, byteCount: 48 << 20)
        #expect(try HostCheck.filesystemIsClean(at: target))
    }

    private func make(_ source: Source, in folder: ServiceTestFolder) throws -> String {
        let path = folder.path("source.img")
        let secret = try fill(folder.path("secret.bin"), bytes: 600_000)
        switch source {
        case .preallocatedExtents:
            try HostTool.run("mkfs.ext4", ["-q", "-F", "-b", "4096", path, "32M"])
            try debugfs(path, "write \(secret) secret", "rm secret", "write /dev/null held", "fallocate held 0 1000")
        case .lazilyInitialisedMetadata:
            _ = try fill(path, bytes: 32 << 20)
            try HostTool.run(
                "mkfs.ext4", ["-q", "-F", "-E", "nodiscard,lazy_itable_init=1,lazy_journal_init=1", path])
        case .deletedInlineFiles:
            try HostTool.run("mkfs.ext4", ["-q", "-F", "-O", "inline_data", path, "32M"])
            let small = try fill(folder.path("small.txt"), bytes: Self.marker.utf8.count)
            for index in 0..<20 {
                try debugfs(path, "write \(small) small\(index)", "rm small\(index)")
            }
        }
        return path
    }

    private func debugfs(_ path: String, _ requests: String...) throws {
        for request in requests {
            try HostTool.run("debugfs", ["-w", "-R", request, path])
        }
    }

    /// Writes the marker over and over into a file of `bytes` bytes.
    private func fill(_ path: String, bytes: Int) throws -> String {
        let script =
            "import sys; m=sys.argv[1].encode(); n=int(sys.argv[2]); "
            + "open(sys.argv[3],'wb').write((m*(n//len(m)+1))[:n])"
        try HostTool.run("python3", ["-c", script, Self.marker, String(bytes), path])
        return path
    }

    /// How many lines of the file hold the marker, counted by `grep`.
    private func occurrences(inFile path: String) throws -> Int {
        let result = try HostTool.runAllowingFailure("grep", ["-a", "-c", Self.marker, path])
        return Int(String(decoding: result.output, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
    }
}
