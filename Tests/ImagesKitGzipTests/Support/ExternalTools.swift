import Foundation
import Testing

/// What a finished external tool left: its exit status and its standard output.
struct ToolRun {
    var status: Int32
    var output: [UInt8]
}

/// Finds and runs the real command-line tools the tests compare against.
enum ExternalTool {
    /// The full path of `name` on `PATH`, or nil when it is not installed.
    static func path(of name: String) -> String? {
        let directories = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
        return directories.map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    static var hasPigz: Bool { path(of: "pigz") != nil }

    /// Whether `igzip` (package isal) and `bgzip` (package tabix) are both installed.
    static var hasIgzipAndBgzip: Bool { path(of: "igzip") != nil && path(of: "bgzip") != nil }

    /// Runs `name` with `arguments`, reading standard input from `input` when given.
    static func run(_ name: String, _ arguments: [String], input: URL? = nil) throws -> ToolRun {
        let executable = try #require(path(of: name), "\(name) is not installed")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardInput = try input.map { try FileHandle(forReadingFrom: $0) } ?? FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return ToolRun(status: process.terminationStatus, output: [UInt8](output))
    }

    /// Runs `name` and returns its standard output, recording an issue when it exits non-zero.
    static func output(_ name: String, _ arguments: [String], input: URL? = nil) throws -> [UInt8] {
        let result = try run(name, arguments, input: input)
        #expect(result.status == 0, "\(name) \(arguments.joined(separator: " ")) exited \(result.status)")
        return result.output
    }

    /// Runs a bash pipeline with `pipefail` set, so that it fails when any command in it fails;
    /// `arguments` become `$1`, `$2` and so on.
    static func pipeline(_ script: String, arguments: [String] = []) throws -> ToolRun {
        try run("bash", ["-o", "pipefail", "-c", script, "bash"] + arguments)
    }

    /// Runs a python3 program that writes bytes to `out` (standard output), after a prelude
    /// that defines `member(...)` for building gzip members field by field.
    static func python(_ program: String, arguments: [String] = []) throws -> [UInt8] {
        try output("python3", ["-c", pythonPrelude + program] + arguments)
    }

    /// The SHA-256 of `file`, in hexadecimal, from `sha256sum`.
    static func sha256(of file: URL) throws -> String {
        let line = try output("sha256sum", ["-b", file.path])
        return String(decoding: line.prefix(64), as: UTF8.self)
    }

    private static let pythonPrelude = """
        import sys, zlib, struct
        out = sys.stdout.buffer
        def raw_deflate(data, level=6, strategy=zlib.Z_DEFAULT_STRATEGY):
            c = zlib.compressobj(level, zlib.DEFLATED, -15, 8, strategy)
            return c.compress(data) + c.flush()
        def member(data, name=None, comment=None, extra=None, fhcrc=False, bad_fhcrc=False,
                   flags=0, method=8, level=6, strategy=zlib.Z_DEFAULT_STRATEGY):
            flg = flags | (4 if extra is not None else 0) | (8 if name is not None else 0)
            flg |= (16 if comment is not None else 0) | (2 if fhcrc else 0)
            head = bytes([0x1f, 0x8b, method, flg]) + struct.pack('<I', 0) + bytes([0, 3])
            if extra is not None: head += struct.pack('<H', len(extra)) + extra
            if name is not None: head += name + b'\\0'
            if comment is not None: head += comment + b'\\0'
            if fhcrc: head += struct.pack('<H', (zlib.crc32(head) & 0xffff) ^ (1 if bad_fhcrc else 0))
            trailer = struct.pack('<II', zlib.crc32(data), len(data) & 0xffffffff)
            return head + raw_deflate(data, level, strategy) + trailer

        """
}

/// A fresh temporary directory, removed when the test is done with it.
final class TemporaryDirectory {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("imageskit-gzip-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(at: url)
    }

    /// Writes `bytes` to a file named `name` in the directory and returns its URL.
    @discardableResult
    func write(_ bytes: [UInt8], to name: String) throws -> URL {
        let file = url.appendingPathComponent(name)
        try Data(bytes).write(to: file)
        return file
    }

    func file(_ name: String) -> URL {
        url.appendingPathComponent(name)
    }
}
