import Foundation
import ImagesKit
import ImagesKitGzip
import ImagesKitMemory
import ImagesKitTestSupport
import Synchronization
import Testing

/// A failure of the service tests' own plumbing: a tool that failed, a file that can't be made.
struct ServiceTestFailure: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) {
        self.description = description
    }
}

/// The moment the service tests' clocks start at: 2026-12-04T15:09:43 UTC.
let serviceTestStart = Date(timeIntervalSince1970: 1_796_396_983)

/// A temporary folder for one test's files, removed with everything in it when released.
final class ServiceTestFolder {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("imageskit-service-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(at: url)
    }

    /// The path of `name` inside the folder.
    func path(_ name: String) -> String {
        url.appendingPathComponent(name).path
    }

    /// The names of the folder's entries, sorted.
    func entries(of name: String? = nil) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: name.map(path) ?? url.path).sorted()
    }

    /// Writes `bytes` to a new file `name` and returns its path.
    @discardableResult
    func write(_ bytes: [UInt8], to name: String) throws -> String {
        let path = path(name)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// Reads the whole file `name`.
    func read(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: path(name))))
    }
}

/// Runs the host's tools: e2fsprogs, gzip, sfdisk, sha256sum.
enum HostTool {
    /// Runs `tool`, feeding it the file `input` when given, and returns its standard output.
    ///
    /// Throws when the tool is missing or exits non-zero, with its standard error in the message.
    @discardableResult
    static func run(_ tool: String, _ arguments: [String], input: String? = nil) throws -> [UInt8] {
        let (status, output, errors) = try runAllowingFailure(tool, arguments, input: input)
        guard status == 0 else {
            throw ServiceTestFailure("\(tool) \(arguments) exited \(status): \(errors)")
        }
        return output
    }

    /// Runs `tool` and returns its exit status, standard output and standard error.
    static func runAllowingFailure(
        _ tool: String, _ arguments: [String], input: String? = nil
    ) throws -> (status: Int32, output: [UInt8], errors: String) {
        guard let executable = location(of: tool) else { throw ServiceTestFailure("\(tool) is not installed") }
        let errorsPath = NSTemporaryDirectory() + "imageskit-tool-stderr-\(UUID().uuidString)"
        _ = FileManager.default.createFile(atPath: errorsPath, contents: nil)
        defer { unlink(errorsPath) }

        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardInput =
            try input.map { try FileHandle(forReadingFrom: URL(fileURLWithPath: $0)) }
            ?? FileHandle.nullDevice
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errorsPath))
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()

        let errors = (try? String(contentsOfFile: errorsPath, encoding: .utf8)) ?? ""
        return (process.terminationStatus, [UInt8](output), errors)
    }

    private static func location(of tool: String) -> String? {
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init)
        return (["/usr/sbin", "/sbin", "/usr/bin", "/bin"] + path).map { "\($0)/\(tool)" }
            .first { FileManager.default.isExecutableFile(atPath: $0) }
    }
}

/// Checks made with the host's tools, so the code under test never checks itself.
enum HostCheck {
    /// The SHA-256 of `bytes` in hexadecimal, computed by `sha256sum`.
    static func sha256(_ bytes: [UInt8], in folder: ServiceTestFolder) throws -> String {
        let path = try folder.write(bytes, to: "sha256-input-\(UUID().uuidString)")
        defer { unlink(path) }
        return try sha256(ofFile: path)
    }

    /// The SHA-256 of the file at `path`, computed by `sha256sum`.
    static func sha256(ofFile path: String) throws -> String {
        String(decoding: try HostTool.run("sha256sum", ["-b", path]).prefix(64), as: UTF8.self)
    }

    /// `bytes` compressed by `gzip` at `level`, without a name or time in the header.
    static func gzip(_ bytes: [UInt8], level: Int = 6, in folder: ServiceTestFolder) throws -> [UInt8] {
        let path = try folder.write(bytes, to: "gzip-input-\(UUID().uuidString)")
        defer { unlink(path) }
        return try HostTool.run("gzip", ["-\(level)", "-n", "-c", path])
    }

    /// `bytes` decompressed by `gzip -dc`.
    static func gunzip(_ bytes: [UInt8], in folder: ServiceTestFolder) throws -> [UInt8] {
        let path = try folder.write(bytes, to: "gunzip-input-\(UUID().uuidString)")
        defer { unlink(path) }
        return try HostTool.run("gzip", ["-dc", path])
    }

    /// The content of `file` inside the ext filesystem held in the image file at `path`.
    static func extFile(_ file: String, inImageAt path: String) throws -> [UInt8] {
        try HostTool.run("debugfs", ["-R", "cat /\(file)", path])
    }

    /// The contents of `files` inside the ext filesystem held in the image file at `path`.
    static func extFiles(_ files: some Sequence<String>, inImageAt path: String) throws -> [String: [UInt8]] {
        var contents: [String: [UInt8]] = [:]
        for file in files { contents[file] = try extFile(file, inImageAt: path) }
        return contents
    }

    /// Runs `e2fsck -fn` on the image file at `path` and returns whether it found no error.
    static func filesystemIsClean(at path: String) throws -> Bool {
        try HostTool.runAllowingFailure("e2fsck", ["-fn", path]).status == 0
    }
}

/// Makes ext filesystem images with the real `mkfs.ext4`.
enum ExtImageMaker {
    /// The files most tests put in a filesystem: text, seeded random bytes, and a nested file.
    static func sampleFiles(seed: UInt64 = 7) -> [String: [UInt8]] {
        var random = SplitMix64(seed: seed)
        return [
            "hello.txt": Array("hello from ImagesKit's service tests\n".utf8),
            "data.bin": random.bytes(300 * 1024),
            "etc/hostname": Array("web-01\n".utf8),
        ]
    }

    /// Makes an ext filesystem image file of `mebibytes` MiB holding `files`, and returns its path.
    ///
    /// - Parameters:
    ///   - name: The image file's name in `folder`.
    ///   - label: The volume label (`mkfs -L`), if any.
    ///   - type: The filesystem type for `mkfs -t`: `ext4`, `ext3` or `ext2`.
    ///   - options: More `mkfs` options.
    @discardableResult
    static func make(
        in folder: ServiceTestFolder, name: String = "disk.img", mebibytes: Int = 16, label: String? = nil,
        type: String = "ext4", files: [String: [UInt8]] = sampleFiles(), options: [String] = []
    ) throws -> String {
        let root = folder.path("\(name).root")
        for (file, content) in files {
            let url = URL(fileURLWithPath: root).appendingPathComponent(file)
            try FileManager.default.createDirectory(
                at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(content).write(to: url)
        }
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)

        let path = folder.path(name)
        var arguments = ["-q", "-F", "-t", type, "-E", "root_owner=0:0"] + options
        if let label { arguments += ["-L", label] }
        try HostTool.run("mkfs.ext4", arguments + ["-d", root, path, "\(mebibytes)M"])
        return path
    }

    /// Loads an image file into a new in-memory disk.
    static func memoryDisk(_ path: String, name: String? = nil) throws -> MemoryDisk {
        try MemoryDisk(copying: path, name: name)
    }
}

/// A raw ext4 disk image made once per test run, and its `gzip -6` form, for uploads and deploys.
struct SharedExt4Image: Sendable {
    /// The files the filesystem holds.
    let files: [String: [UInt8]]
    /// The 16 MiB raw disk image.
    let raw: [UInt8]
    /// `raw` compressed by `gzip -6`.
    let gzipped: [UInt8]

    private static let made = Result { try SharedExt4Image() }

    /// The image, made on first use.
    static func get() throws -> SharedExt4Image {
        try made.get()
    }

    private init() throws {
        let folder = try ServiceTestFolder()
        files = ExtImageMaker.sampleFiles(seed: 1234)
        let path = try ExtImageMaker.make(in: folder, name: "shared.img", mebibytes: 16, files: files)
        raw = try folder.read((path as NSString).lastPathComponent)
        gzipped = try HostCheck.gzip(raw, level: 6, in: folder)
    }
}

/// A service over an in-memory store and a settable clock, with the gzip codec.
struct ServiceHarness: Sendable {
    let service: ImageService
    let store: MemoryImageStore
    let clock: SettableClock

    init(
        limits: ImageLimits = ImageLimits(), scratchDirectory: String? = nil, region: String = "local",
        chunkSize: Int? = nil, billing: any Billing = NoBilling(),
        replication: any RegionReplication = SharedStoreReplication()
    ) {
        var configuration = ImageServiceConfiguration()
        configuration.limits = limits
        if let scratchDirectory { configuration.scratchDirectory = scratchDirectory }
        if let chunkSize { configuration.chunkSize = chunkSize }
        store = MemoryImageStore(region: region)
        clock = SettableClock(serviceTestStart)
        service = ImageService(
            store: store, compressor: GzipCompressor(), billing: billing, replication: replication, clock: clock,
            configuration: configuration)
    }

    /// The events of one image, as (action, status) pairs in order.
    func eventSummary(of id: ImageID) async throws -> [String] {
        try await service.events(for: id).map { "\($0.action.rawValue) \($0.status.rawValue)" }
    }

    /// Creates a pending upload and sends `bytes` to it in pieces split from `seed`.
    func upload(
        _ bytes: [UInt8], label: String = "uploaded", region: String = "us-east", seed: UInt64 = 1
    ) async throws -> Image {
        let pending = try await service.createUpload(UploadRequest(label: label, region: region))
        return try await service.upload(pending.image.id, bytes: ChunkedBytes(bytes, seed: seed))
    }
}

/// A byte array handed out as an asynchronous sequence of pieces of varied sizes.
struct ChunkedBytes: AsyncSequence, Sendable {
    typealias Element = [UInt8]

    let chunks: [[UInt8]]

    /// Splits `bytes` into pieces of 1 to `largest` bytes, their sizes drawn from `seed`.
    init(_ bytes: [UInt8], seed: UInt64, largest: Int = 200_000) {
        var random = SplitMix64(seed: seed)
        var chunks: [[UInt8]] = []
        var start = 0
        while start < bytes.count {
            let end = Swift.min(bytes.count, start + Int.random(in: 1...largest, using: &random))
            chunks.append(Array(bytes[start..<end]))
            start = end
        }
        self.chunks = chunks
    }

    /// Hands out exactly these pieces.
    init(chunks: [[UInt8]]) {
        self.chunks = chunks
    }

    struct AsyncIterator: AsyncIteratorProtocol {
        var remaining: ArraySlice<[UInt8]>

        mutating func next() async throws -> [UInt8]? {
            remaining.popFirst()
        }
    }

    func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(remaining: chunks[...])
    }
}

/// Whether `bytes` holds exactly `expected`, compared with `memcmp`.
func sameBytes(_ bytes: [UInt8]?, _ expected: [UInt8]) -> Bool {
    guard let bytes, bytes.count == expected.count else { return false }
    guard !bytes.isEmpty else { return true }
    return bytes.withUnsafeBytes { left in
        expected.withUnsafeBytes { right in memcmp(left.baseAddress!, right.baseAddress!, left.count) == 0 }
    }
}

/// Expects `bytes` to be `expected`; a failure names the sizes and the first difference, not every byte.
func expectSameBytes(
    _ bytes: [UInt8]?, _ expected: [UInt8], _ what: String = "bytes",
    sourceLocation: SourceLocation = #_sourceLocation
) {
    let isSame = sameBytes(bytes, expected)
    guard !isSame, let bytes else {
        #expect(isSame, "\(what): none", sourceLocation: sourceLocation)
        return
    }
    let difference =
        zip(bytes, expected).enumerated().first { $0.element.0 != $0.element.1 }?.offset
        ?? Swift.min(bytes.count, expected.count)
    #expect(
        isSame, "\(what): \(bytes.count) bytes, expected \(expected.count), first difference at \(difference)",
        sourceLocation: sourceLocation)
}

/// Expects every byte of `bytes` to be `byte`; a failure names the first offset that is not.
func expectAllBytes(
    _ bytes: ArraySlice<UInt8>, are byte: UInt8, _ what: String = "bytes",
    sourceLocation: SourceLocation = #_sourceLocation
) {
    let isUniform = allBytes(of: bytes, are: byte)
    let offender = isUniform ? nil : bytes.firstIndex { $0 != byte }
    #expect(isUniform, "\(what): byte \(offender ?? -1) is not \(byte)", sourceLocation: sourceLocation)
}

/// Whether every byte of `bytes` is `byte`: the first is, and each equals the next (`memcmp`).
func allBytes(of bytes: ArraySlice<UInt8>, are byte: UInt8) -> Bool {
    guard let first = bytes.first else { return true }
    guard first == byte else { return false }
    return bytes.withUnsafeBytes { memcmp($0.baseAddress!, $0.baseAddress! + 1, $0.count - 1) == 0 }
}

/// What `body` returned or threw.
func outcome<Value>(of body: () async throws -> Value) async -> Result<Value, any Error> {
    do {
        return .success(try await body())
    } catch {
        return .failure(error)
    }
}

/// Billing that keeps every usage record it is given.
final class RecordingBilling: Billing {
    private let records = Mutex<[UsageRecord]>([])

    func record(_ usage: UsageRecord) async throws {
        records.withLock { $0.append(usage) }
    }

    /// Every record so far, in order.
    var all: [UsageRecord] {
        records.withLock { $0 }
    }
}

extension SplitMix64 {
    /// `count` seeded bytes from a fresh generator.
    func bytesOf(_ count: Int) -> [UInt8] {
        var copy = self
        return copy.bytes(count)
    }
}

extension FileManager {
    /// The size of the file at `path`, or 0 when it can't be read.
    func sizeOfFile(_ path: String) -> UInt64 {
        ((try? attributesOfItem(atPath: path))?[.size] as? NSNumber)?.uint64Value ?? 0
    }
}

/// Progress reports collected from a handler that may be called from any task.
final class ProgressLog: Sendable {
    private let reports = Mutex<[OperationProgress]>([])

    /// A handler that records every report.
    var handler: ProgressHandler {
        { report in self.reports.withLock { $0.append(report) } }
    }

    /// Every report so far, in order.
    var all: [OperationProgress] {
        reports.withLock { $0 }
    }
}

extension DiskSource {
    /// Every byte of the disk.
    func allBytes() throws -> [UInt8] {
        try readBytes(count: Int(byteCount), at: 0)
    }
}

extension DiskSource {
    /// Writes every byte of the disk to the file `name` in `folder`, for the host's tools.
    ///
    /// Faster than `MemoryDisk.withFilePath`, and leaves the disk as it is.
    func dump(to name: String, in folder: ServiceTestFolder) throws -> String {
        try folder.write(try allBytes(), to: name)
    }
}

extension DiskTarget {
    /// Overwrites the whole disk with `byte`.
    func fill(with byte: UInt8) throws {
        let piece = [UInt8](repeating: byte, count: 1 << 20)
        var offset: UInt64 = 0
        while offset < byteCount {
            let count = Int(min(UInt64(piece.count), byteCount - offset))
            try piece.withUnsafeBytes { try write(UnsafeRawBufferPointer(rebasing: $0[..<count]), at: offset) }
            offset += UInt64(count)
        }
    }
}

/// The 64-byte pieces of a secret, at every multiple of 64, for finding leaks of it.
///
/// Filesystem data is block-aligned and blocks are multiples of 64 bytes, so any block of the
/// secret that travels into an image lands at a multiple of 64 there too.
struct SecretWindows {
    private let windows: Set<[UInt8]>
    private let heads: Set<UInt64>

    init(_ secret: [UInt8]) {
        let pieces = stride(from: 0, to: secret.count - 63, by: 64).map { Array(secret[$0..<$0 + 64]) }
        windows = Set(pieces)
        heads = Set(pieces.map(Self.head))
    }

    /// How many 64-byte pieces of `bytes`, at multiples of 64, are pieces of the secret.
    func occurrences(in bytes: [UInt8]) -> Int {
        bytes.withUnsafeBytes { raw in
            stride(from: 0, to: raw.count - 63, by: 64).count { offset in
                heads.contains(raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
                    && windows.contains(Array(raw[offset..<offset + 64]))
            }
        }
    }

    private static func head(_ piece: [UInt8]) -> UInt64 {
        piece.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
    }
}
