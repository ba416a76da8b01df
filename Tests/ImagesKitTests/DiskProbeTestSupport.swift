import Foundation
import ImagesKit

/// A read-only disk over a file, read with `pread`, for the probe's tests.
final class ProbeTestFileDisk: DiskSource, Sendable {
    let name: String
    let byteCount: UInt64
    private let descriptor: Int32

    init(path: String) throws {
        descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw ProbeTestFailure("can't open \(path): errno \(errno)") }

        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw ProbeTestFailure("can't stat \(path)") }
        byteCount = UInt64(status.st_size)
        name = (path as NSString).lastPathComponent
    }

    deinit {
        close(descriptor)
    }

    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws -> Int {
        guard buffer.count > 0, offset < byteCount else { return 0 }

        let count = pread(descriptor, buffer.baseAddress, buffer.count, off_t(offset))
        guard count >= 0 else {
            throw ImagesKitError(.ioFailure, "pread failed", cause: SystemCallError("pread", errno: errno))
        }
        return count
    }
}

/// A read-only disk held in memory, for mutated copies of real filesystems.
struct ProbeTestMemoryDisk: DiskSource {
    let name = "memory"
    let bytes: [UInt8]

    var byteCount: UInt64 { UInt64(bytes.count) }

    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws -> Int {
        guard offset < byteCount else { return 0 }

        let count = min(buffer.count, bytes.count - Int(offset))
        bytes.withUnsafeBytes { source in
            buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: source[Int(offset)..<Int(offset) + count]))
        }
        return count
    }
}

/// A failure of the tests' own plumbing (a tool that failed, a file that can't be read).
struct ProbeTestFailure: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) {
        self.description = description
    }
}

/// A temporary folder for one test's disk files, removed when the test ends.
final class ProbeScratch {
    let folder: URL

    init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("disk-probe-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(at: folder)
    }

    /// The path of `name` inside the folder.
    func path(_ name: String) -> String {
        folder.appendingPathComponent(name).path
    }

    /// Makes a sparse file of `byteCount` bytes.
    @discardableResult
    func sparseFile(_ name: String, byteCount: UInt64) throws -> String {
        let path = path(name)
        guard FileManager.default.createFile(atPath: path, contents: nil) else {
            throw ProbeTestFailure("can't create \(path)")
        }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        try handle.truncate(atOffset: byteCount)
        return path
    }

    /// Writes `bytes` at `offset` of the file `path`, in place.
    func patch(_ path: String, at offset: UInt64, with bytes: [UInt8]) throws {
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        try handle.seek(toOffset: offset)
        try handle.write(contentsOf: Data(bytes))
    }

    /// Inverts the lowest bit of the byte at `offset` of the file `path`.
    func flipBit(_ path: String, at offset: UInt64) throws {
        let byte = try ProbeTestFileDisk(path: path).readBytes(count: 1, at: offset)[0]
        try patch(path, at: offset, with: [byte ^ 1])
    }

    /// Sets the bits of `mask` in the byte at `offset` of the file `path`.
    func setBits(_ path: String, at offset: UInt64, mask: UInt8) throws {
        let byte = try ProbeTestFileDisk(path: path).readBytes(count: 1, at: offset)[0]
        try patch(path, at: offset, with: [byte | mask])
    }

    /// Writes `files` (name to content) into a new folder `name`, for `mkfs -d`.
    func folder(_ name: String, files: [String: [UInt8]]) throws -> String {
        let path = path(name)
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        for (file, content) in files {
            try Data(content).write(to: URL(fileURLWithPath: path).appendingPathComponent(file))
        }
        return path
    }
}

/// Runs the system's filesystem tools.
enum ProbeTool {
    /// Whether `tool` is installed in a system folder.
    static func isInstalled(_ tool: String) -> Bool {
        location(of: tool) != nil
    }

    /// Runs `tool` with `arguments` and `input` on its standard input, returning its standard
    /// output; throws when it exits non-zero.
    @discardableResult
    static func run(_ tool: String, _ arguments: [String], input: String = "") throws -> String {
        String(decoding: try runForBytes(tool, arguments, input: input), as: UTF8.self)
    }

    /// Runs `tool` like ``run(_:_:input:)`` and returns its standard output as bytes.
    static func runForBytes(_ tool: String, _ arguments: [String], input: String = "") throws -> [UInt8] {
        guard let executable = location(of: tool) else { throw ProbeTestFailure("\(tool) is not installed") }

        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let (inputPipe, output, errors) = (Pipe(), Pipe(), Pipe())
        process.standardInput = inputPipe
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        try inputPipe.fileHandleForWriting.write(contentsOf: Data(input.utf8))
        try inputPipe.fileHandleForWriting.close()
        let outputData = output.fileHandleForReading.readDataToEndOfFile()
        let errorData = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()

        guard process.terminationStatus == 0 else {
            let message = String(decoding: outputData + errorData, as: UTF8.self)
            throw ProbeTestFailure("\(tool) \(arguments) exited \(process.terminationStatus): \(message)")
        }
        return Array(outputData)
    }

    private static func location(of tool: String) -> String? {
        ["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map { "\($0)/\(tool)" }
            .first { FileManager.default.isExecutableFile(atPath: $0) }
    }
}

/// What `dumpe2fs -h` says about a filesystem.
struct ProbeDumpedSuperblock {
    let fields: [String: String]

    init(path: String) throws {
        let text = try ProbeTool.run("dumpe2fs", ["-h", path])
        var fields: [String: String] = [:]
        for line in text.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            fields[String(line[..<colon])] = value
        }
        self.fields = fields
    }

    func number(_ field: String) throws -> UInt64 {
        guard let text = fields[field], let value = UInt64(text) else {
            throw ProbeTestFailure("dumpe2fs printed no number for \(field)")
        }
        return value
    }

    /// (Block count − Free blocks) × Block size, the bytes `dumpe2fs` counts as used.
    var usedByteCount: UInt64 {
        get throws { try (number("Block count") - number("Free blocks")) * number("Block size") }
    }
}

/// Reads the used ranges of a filesystem and copies them into a fresh sparse file.
enum ProbeCopy {
    /// Collects the used ranges.
    static func usedRanges(of filesystem: ExtFilesystem, on disk: some DiskSource) throws -> [Range<UInt64>] {
        var ranges: [Range<UInt64>] = []
        try filesystem.forEachUsedRange(on: disk) { ranges.append($0) }
        return ranges
    }

    /// Copies `ranges` of `source` into a new sparse file of the same size at `target`.
    static func copy(_ ranges: [Range<UInt64>], of source: some DiskSource, to target: String) throws {
        guard FileManager.default.createFile(atPath: target, contents: nil) else {
            throw ProbeTestFailure("can't create \(target)")
        }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: target))
        defer { try? handle.close() }
        try handle.truncate(atOffset: source.byteCount)

        for range in ranges {
            var offset = range.lowerBound
            while offset < range.upperBound {
                let count = Int(min(range.upperBound - offset, 1 << 20))
                try handle.seek(toOffset: offset)
                try handle.write(contentsOf: try source.readBytes(count: count, at: offset))
                offset += UInt64(count)
            }
        }
    }
}
