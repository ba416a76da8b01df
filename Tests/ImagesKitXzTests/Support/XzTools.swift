import Foundation
import Testing

/// The exit status and standard output of a finished command-line tool.
struct ToolResult {
    var status: Int32
    var output: [UInt8]
}

/// Runs the real `xz`, `pixz`, `python3` and `sha256sum` the tests compare against.
enum Tool {
    /// Where `name` is on `PATH`, or nil when it is not installed.
    static func path(of name: String) -> String? {
        let directories = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
        return directories.map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    static var hasPixz: Bool { path(of: "pixz") != nil }

    /// Runs `name` with `arguments`, with standard input from `input` (or empty), and waits for it.
    static func run(_ name: String, _ arguments: [String], input: URL? = nil) throws -> ToolResult {
        let executable = try #require(path(of: name), "\(name) is not installed; run scripts/install-packages.sh")
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
        return ToolResult(status: process.terminationStatus, output: [UInt8](output))
    }

    /// Runs `name` and returns its standard output, recording an issue unless it exits with 0.
    static func output(_ name: String, _ arguments: [String], input: URL? = nil) throws -> [UInt8] {
        let result = try run(name, arguments, input: input)
        #expect(result.status == 0, "\(name) \(arguments.joined(separator: " ")) exited with \(result.status)")
        return result.output
    }

    /// What `xz` with `arguments` makes of `bytes`, written to a file in `directory` first.
    static func xz(_ arguments: [String], of bytes: [UInt8], in directory: ScratchDirectory) throws -> [UInt8] {
        let file = try directory.write(bytes, to: "plain-\(UUID().uuidString)")
        return try output("xz", arguments + ["-c", "-k", file.path])
    }

    /// The number of blocks `xz --list` counts in the streams of `file`.
    static func blockCount(of file: URL) throws -> Int? {
        let listing = String(decoding: try output("xz", ["--robot", "--list", file.path]), as: UTF8.self)
        let totals = listing.split(separator: "\n").first { $0.hasPrefix("totals") }
        let fields = totals?.split(separator: "\t", omittingEmptySubsequences: false)
        return fields.flatMap { $0.count > 2 ? Int($0[2]) : nil }
    }

    /// Runs a python3 program that writes bytes to `out`, its standard output.
    static func python(_ program: String, arguments: [String] = []) throws -> [UInt8] {
        let prelude = "import sys, struct, zlib\nout = sys.stdout.buffer\n"
        return try output("python3", ["-c", prelude + program] + arguments)
    }
}

/// A temporary directory, removed with everything in it when the value is released.
final class ScratchDirectory {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("imageskit-xz-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(at: url)
    }

    /// Writes `bytes` to `name` in the directory and returns the file's URL.
    @discardableResult
    func write(_ bytes: [UInt8], to name: String) throws -> URL {
        let file = url.appendingPathComponent(name)
        try Data(bytes).write(to: file)
        return file
    }
}
