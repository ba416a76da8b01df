import Foundation
import ImagesKit
import ImagesKitFileSystem
import ImagesKitGzip
import ImagesKitTestSupport
import ImagesKitXz

/// A folder store with real images in a temporary folder, the service over it, and helpers to
/// damage its files and to photograph them.
final class StoreFixture {
    let folder: URL
    let store: FileSystemImageStore
    let service: ImageService

    /// Makes the folder and the store in it; `storeFolder` puts the store elsewhere.
    init(storeFolder: URL? = nil, limits: ImageLimits = ImageLimits(), gzip: GzipCompressor = GzipCompressor()) throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("store-fixture-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        store = try FileSystemImageStore(folder: storeFolder ?? folder.appendingPathComponent("store"))
        var configuration = ImageServiceConfiguration()
        configuration.uploadFormats.insert("xz")
        configuration.limits = limits
        service = ImageService(
            store: store, compressor: gzip, otherCodecs: [XzCompressor()], configuration: configuration)
    }

    deinit {
        try? FileManager.default.removeItem(at: folder)
    }

    /// A path in the fixture's folder.
    func path(_ name: String) -> String {
        folder.appendingPathComponent(name).path
    }

    /// Makes an ext4 disk with `mkfs.ext4 -d` holding seeded files, compresses it with `gzip`
    /// (which keeps the file name in the header) or `xz`, and uploads it.
    func uploadDisk(
        named name: String, seed: UInt64, compressor: String = "gzip", randomBytes: Int = 200_000
    ) async throws -> ImageID {
        let disk = try makeExt4Disk(named: name, seed: seed, randomBytes: randomBytes)
        let compressed = disk + (compressor == "gzip" ? ".gz" : ".xz")
        try Tool.run("/bin/sh", "-c", "\(compressor) -c '\(disk)' > '\(compressed)'")
        let pending = try await service.createUpload(UploadRequest(label: name, region: "local"))
        return try await service.upload(pending.image.id, fileAt: compressed).id
    }

    /// Makes an 8 MiB ext4 disk file holding `randomBytes` bytes drawn from `seed`.
    func makeExt4Disk(named name: String, seed: UInt64, randomBytes: Int = 200_000) throws -> String {
        let tree = folder.appendingPathComponent("\(name)-files")
        try FileManager.default.createDirectory(at: tree, withIntermediateDirectories: true)
        var random = SplitMix64(seed: seed)
        try Data(random.bytes(randomBytes)).write(to: tree.appendingPathComponent("random.bin"))
        try Data("image \(name)\n".utf8).write(to: tree.appendingPathComponent("name.txt"))
        let disk = path("\(name).img")
        try Tool.run("truncate", "-s", "8M", disk)
        try Tool.run("mkfs.ext4", "-q", "-F", "-L", name, "-d", tree.path, disk)
        return disk
    }

    /// The record file of an image.
    func recordFile(_ id: ImageID) -> URL {
        store.root.appendingPathComponent("records/\(id.number!).json")
    }

    /// The content file of an image.
    func contentFile(_ id: ImageID) -> URL {
        store.root.appendingPathComponent("content/\(id.number!).data")
    }

    /// Every record and content file of the store with its bytes, to compare before and after.
    func snapshot() throws -> [String: Data] {
        var files: [String: Data] = [:]
        for folder in ["records", "content"] {
            let url = store.root.appendingPathComponent(folder)
            for name in try FileManager.default.contentsOfDirectory(atPath: url.path) {
                files["\(folder)/\(name)"] = try Data(contentsOf: url.appendingPathComponent(name))
            }
        }
        return files
    }

    /// The names in the fixture's folder, hidden partial files included.
    func namesInFolder() throws -> Set<String> {
        Set(try FileManager.default.contentsOfDirectory(atPath: folder.path))
    }
}

/// Runs programs the tests build their inputs with.
enum Tool {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// Runs `program` (a path, or a name looked up in the usual folders) and waits; it must succeed.
    @discardableResult
    static func run(_ program: String, _ arguments: String...) throws -> String {
        let result = try status(program, arguments)
        guard result.status == 0 else {
            throw Failure(description: "\(program) \(arguments) exited with \(result.status): \(result.output)")
        }
        return result.output
    }

    /// Runs `program` and returns its exit status and output, whatever the status.
    static func status(_ program: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [program] + arguments
        var environment = ProcessInfo.processInfo.environment
        environment["PATH"] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        environment["LC_ALL"] = "C"
        process.environment = environment
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self))
    }
}
