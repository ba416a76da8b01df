import Foundation
import ImagesKit
import ImagesKitFileSystem
import ImagesKitGzip
import ImagesKitMemory
import ImagesKitTestSupport

/// A folder store, a service over it and the inputs the concurrent operations use.
struct ConcurrencyFixture: Sendable {
    /// The temporary folder holding the store and the input files.
    let folder: URL
    /// The service every operation goes through.
    let service: ImageService
    /// The store under it.
    let store: FileSystemImageStore
    /// The clock, moved past the stale uploads' window before the operations start.
    let clock: SettableClock
    /// A small raw ext4 disk made by `mkfs.ext4`, which captures read.
    let disk: [UInt8]

    init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("concurrency-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var configuration = ImageServiceConfiguration()
        configuration.limits = ImageLimits(manualImageCount: 1000)
        configuration.scratchDirectory = folder.appendingPathComponent("scratch").path
        store = try FileSystemImageStore(folder: folder.appendingPathComponent("store"))
        clock = SettableClock(Date(timeIntervalSince1970: 1_796_396_983))
        service = ImageService(store: store, compressor: GzipCompressor(), clock: clock, configuration: configuration)
        disk = try Self.makeExt4Disk(in: folder)
    }

    /// Removes the folder.
    func tearDown() {
        try? FileManager.default.removeItem(at: folder)
    }

    /// A disk holding the ext4 image, for one capture.
    func sourceDisk(_ index: Int) throws -> MemoryDisk {
        let disk = MemoryDisk(name: "source-\(index)", byteCount: UInt64(self.disk.count))
        try self.disk.withUnsafeBytes { try disk.write($0, at: 0) }
        return disk
    }

    /// Uploads `payload` gzip-compressed by the host's `gzip` and returns the available image.
    func upload(_ payload: [UInt8], label: String) async throws -> Image {
        let compressed = try Self.gzip(payload, in: folder)
        let pending = try await service.createUpload(UploadRequest(label: label, region: "local"))
        return try await service.upload(pending.image.id, bytes: OneChunk(bytes: compressed))
    }

    /// The committed content's facts of an available image.
    func content(of id: ImageID) async throws -> ImageContent {
        guard let content = try await store.record(id)?.content else {
            throw ImagesKitError(.imageNotFound, "\(id) has no committed content")
        }
        return content
    }

    /// The SHA-256 of a disk's every byte.
    func sha256(of disk: MemoryDisk) throws -> String {
        var bytes = [UInt8](repeating: 0, count: Int(disk.byteCount))
        var offset = 0
        while offset < bytes.count {
            let read = try bytes[offset...].withUnsafeMutableBytes { try disk.read(into: $0, at: UInt64(offset)) }
            guard read > 0 else { break }
            offset += read
        }
        return try Self.sha256(bytes, in: folder)
    }

    /// Random bytes, the same for the same seed.
    static func payload(seed: UInt64, byteCount: Int = 96 * 1024) -> [UInt8] {
        var generator = SplitMix64(seed: seed)
        return generator.bytes(byteCount)
    }

    /// The SHA-256 of `bytes` as `sha256sum` prints it.
    static func sha256(_ bytes: [UInt8], in folder: URL) throws -> String {
        let output = try run("/usr/bin/sha256sum", [], input: bytes, in: folder)
        return String(decoding: output.prefix(64), as: UTF8.self)
    }

    private static func gzip(_ bytes: [UInt8], in folder: URL) throws -> [UInt8] {
        try run("/bin/gzip", ["-6", "-c"], input: bytes, in: folder)
    }

    private static func makeExt4Disk(in folder: URL) throws -> [UInt8] {
        let root = folder.appendingPathComponent("disk-root")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        for index in 0..<6 {
            try Data(payload(seed: UInt64(100 + index), byteCount: 40_000)).write(
                to: root.appendingPathComponent("file-\(index)"))
        }
        let path = folder.appendingPathComponent("disk.img").path
        _ = try run("/sbin/mkfs.ext4", ["-q", "-F", "-E", "root_owner=0:0", "-d", root.path, path, "4M"], in: folder)
        return Array(try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    /// Runs a tool with `input` on its standard input, through a file so nothing blocks.
    private static func run(
        _ tool: String, _ arguments: [String], input: [UInt8] = [], in folder: URL
    ) throws
        -> [UInt8]
    {
        let inputURL = folder.appendingPathComponent("input-\(UUID().uuidString)")
        let outputURL = folder.appendingPathComponent("output-\(UUID().uuidString)")
        defer {
            try? FileManager.default.removeItem(at: inputURL)
            try? FileManager.default.removeItem(at: outputURL)
        }
        try Data(input).write(to: inputURL)
        try Data().write(to: outputURL)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        process.standardInput = try FileHandle(forReadingFrom: inputURL)
        process.standardOutput = try FileHandle(forWritingTo: outputURL)
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw ImagesKitError(.toolFailure, "\(tool) \(arguments) exited with \(process.terminationStatus)")
        }
        return Array(try Data(contentsOf: outputURL))
    }
}

extension MemoryDisk {
    /// Writes `byte` over the whole disk, standing for old data a deploy must erase.
    func fill(with byte: UInt8) throws {
        let piece = [UInt8](repeating: byte, count: 64 * 1024)
        var offset: UInt64 = 0
        while offset < byteCount {
            let count = Int(min(UInt64(piece.count), byteCount - offset))
            try piece[..<count].withUnsafeBytes { try write($0, at: offset) }
            offset += UInt64(count)
        }
    }
}

/// Bytes handed over as one piece.
struct OneChunk: AsyncSequence, Sendable {
    typealias Element = [UInt8]

    let bytes: [UInt8]

    struct AsyncIterator: AsyncIteratorProtocol {
        var bytes: [UInt8]?

        mutating func next() async throws -> [UInt8]? {
            defer { bytes = nil }
            return bytes
        }
    }

    func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(bytes: bytes)
    }
}
