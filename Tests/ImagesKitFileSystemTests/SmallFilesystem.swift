import Foundation
import Testing

/// A small tmpfs mounted at a fresh folder for one test, unmounted when the value goes away,
/// whether the test passed or not.
///
/// Mounting needs root. Without it the test fails saying so, unless
/// `IMAGESKIT_SKIP_MOUNT_TESTS=1` is set: then ``skipped`` disables the tests that mount.
final class SmallFilesystem {
    /// The mounted folder.
    let folder: URL
    private let mountPoint: URL

    /// Whether tests that mount a filesystem are switched off by `IMAGESKIT_SKIP_MOUNT_TESTS=1`.
    static let skipped = ProcessInfo.processInfo.environment["IMAGESKIT_SKIP_MOUNT_TESTS"] == "1"

    /// Mounts a tmpfs of `megabytes` MiB.
    init(megabytes: Int) throws {
        mountPoint = FileManager.default.temporaryDirectory.appendingPathComponent("small-fs-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: mountPoint, withIntermediateDirectories: true)
        let mounted = try Tool.status(
            "mount", ["-t", "tmpfs", "-o", "size=\(megabytes)m,mode=0700", "tmpfs", mountPoint.path])
        guard mounted.status == 0 else {
            try? FileManager.default.removeItem(at: mountPoint)
            let output = mounted.output.trimmingCharacters(in: .whitespacesAndNewlines)
            throw Tool.Failure(
                description: "mounting a \(megabytes) MiB tmpfs failed (\(output)); these tests need root and "
                    + "mount(8): run them as root, or set IMAGESKIT_SKIP_MOUNT_TESTS=1 to skip them")
        }
        folder = mountPoint
    }

    deinit {
        var unmounted = (try? Tool.status("umount", [mountPoint.path]))?.status == 0
        if !unmounted { unmounted = (try? Tool.status("umount", ["-l", mountPoint.path]))?.status == 0 }
        if unmounted { try? FileManager.default.removeItem(at: mountPoint) }
    }

    /// Fills the filesystem with a file of random bytes until fewer than `leaving` bytes are
    /// free, so the next large write runs out of space part-way.
    func fill(leaving free: Int) throws {
        let filler = folder.appendingPathComponent("filler")
        _ = FileManager.default.createFile(atPath: filler.path, contents: nil)
        let handle = try FileHandle(forWritingTo: filler)
        defer { try? handle.close() }
        let chunk = Data(repeating: 0xC3, count: 16 * 1024)
        while freeBytes() > UInt64(free) + UInt64(chunk.count) {
            try handle.write(contentsOf: chunk)
        }
    }

    /// The bytes an unprivileged writer may still use.
    func freeBytes() -> UInt64 {
        var status = statvfs()
        guard statvfs(folder.path, &status) == 0 else { return 0 }
        return UInt64(status.f_bavail) * UInt64(status.f_frsize)
    }

    /// The names in a folder of the filesystem, recursively, hidden ones included.
    func names(under path: String = "") -> [String] {
        let root = path.isEmpty ? folder : folder.appendingPathComponent(path)
        return (FileManager.default.subpaths(atPath: root.path) ?? []).sorted()
    }
}
