import Foundation

/// Runs e2fsprogs' `e2fsck` and `resize2fs` on filesystem images held in files.
public struct E2fsprogs: Sendable {
    /// The folders searched for the tools, in order.
    public var searchPath: [String]

    /// Creates the runner; the tools are looked up in `searchPath`.
    public init(searchPath: [String] = ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]) {
        self.searchPath = searchPath
    }

    /// Checks a filesystem, fixing only what is safe to fix without asking (`e2fsck -f -p`).
    ///
    /// - Parameter path: A file holding the filesystem.
    /// - Throws: ``ImagesKitError`` with `damaged_filesystem` when errors remain.
    public func checkAndRepair(_ path: String) async throws {
        let result = try await run("e2fsck", ["-f", "-p", path])
        guard result.status < 4 else {
            throw ImagesKitError(
                .damagedFilesystem,
                "the filesystem has errors e2fsck can't fix safely; run `e2fsck -f` on the source disk, then retry",
                cause: result.failure("e2fsck"))
        }
    }

    /// Shrinks a filesystem to its minimum size (`resize2fs -M`).
    ///
    /// resize2fs's estimate of the minimum is cautious, so a pass that moved blocks is followed
    /// by another, up to `passes` in all, until one finds nothing to do.
    /// - Parameters:
    ///   - path: A file holding a freshly checked filesystem.
    ///   - passes: The most `resize2fs -M` runs.
    /// - Throws: ``ImagesKitError`` with `tool_failure`.
    public func shrinkToMinimum(_ path: String, passes: Int = 3) async throws {
        for _ in 0..<passes {
            let result = try await run("resize2fs", ["-M", path])
            guard result.status == 0 else {
                throw ImagesKitError(
                    .toolFailure, "resize2fs could not shrink the filesystem", cause: result.failure("resize2fs"))
            }
            if result.output.contains("Nothing to do") { return }
        }
    }

    /// Grows a filesystem to a given number of its blocks (`resize2fs PATH BLOCKS`).
    ///
    /// The size is always given: without one, resize2fs rounds a file's size down to whole
    /// 4 KiB pages, which on a 1 KiB-block filesystem can leave it smaller than it was.
    /// - Parameters:
    ///   - path: A file or device holding a freshly checked filesystem.
    ///   - blockCount: The size to grow to, in the filesystem's own blocks.
    /// - Throws: ``ImagesKitError`` with `tool_failure`.
    public func grow(_ path: String, toBlockCount blockCount: UInt64) async throws {
        let result = try await run("resize2fs", [path, String(blockCount)])
        guard result.status == 0 else {
            throw ImagesKitError(
                .toolFailure, "resize2fs could not grow the deployed filesystem to fill the disk",
                cause: result.failure("resize2fs"))
        }
    }

    private func run(_ tool: String, _ arguments: [String]) async throws -> ToolResult {
        guard let executable = locate(tool) else {
            throw ImagesKitError(
                .toolFailure, "\(tool) is not installed; install e2fsprogs (apt-get install e2fsprogs)")
        }
        return try await ToolProcess.run(executable, arguments)
    }

    private func locate(_ tool: String) -> String? {
        searchPath.map { "\($0)/\(tool)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }
}

/// The failure of an external tool: its name, exit status and last output.
public struct ToolError: Error, Sendable, CustomStringConvertible {
    /// The tool's name.
    public let tool: String
    /// Its exit status.
    public let status: Int32
    /// The end of what it printed.
    public let output: String

    /// The tool, its status and output.
    public var description: String { "\(tool) exited with \(status): \(output)" }
}

struct ToolResult {
    var status: Int32
    var output: String

    func failure(_ tool: String) -> ToolError {
        ToolError(tool: tool, status: status, output: String(output.suffix(2000)))
    }
}

enum ToolProcess {
    /// Runs a program to its end, killing it if the calling task is cancelled.
    static func run(_ executable: String, _ arguments: [String]) async throws -> ToolResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        var environment = ProcessInfo.processInfo.environment
        environment["LC_ALL"] = "C"
        process.environment = environment

        let result = try await withTaskCancellationHandler {
            try await launchAndWait(process, pipe)
        } onCancel: {
            if process.isRunning { process.terminate() }
        }

        try Task.checkCancellation()
        return result
    }

    private static func launchAndWait(_ process: Process, _ pipe: Pipe) async throws -> ToolResult {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<ToolResult, any Error>) in
            DispatchQueue.global().async {
                do {
                    try process.run()
                    let data = pipe.fileHandleForReading.readDataToEndOfFile()
                    process.waitUntilExit()
                    let output = String(decoding: data, as: UTF8.self)
                    continuation.resume(returning: ToolResult(status: process.terminationStatus, output: output))
                } catch {
                    continuation.resume(
                        throwing: ImagesKitError(
                            .toolFailure, "can't start \(process.executableURL?.path ?? "tool")", cause: error))
                }
            }
        }
    }
}
