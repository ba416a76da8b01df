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

    /// Removes the filesystem's internal journal, returning its size in MiB; `nil` when it has
    /// no internal journal (none, or one on another device).
    ///
    /// A journal's blocks keep old transactions, which can hold the data of deleted files; a
    /// capture removes it, zeroes the freed space, and adds a fresh one of the same size.
    /// - Parameter path: A file holding a freshly checked filesystem.
    /// - Throws: ``ImagesKitError`` with `tool_failure`.
    public func removeJournal(_ path: String) async throws -> Int? {
        let header = try await run("dumpe2fs", ["-h", path])
        guard header.status == 0 else {
            throw ImagesKitError(
                .toolFailure, "dumpe2fs could not read the filesystem", cause: header.failure("dumpe2fs"))
        }
        guard header.output.contains("Journal inode:"), let size = Self.journalMebibytes(header.output) else {
            return nil
        }
        let result = try await run("tune2fs", ["-O", "^has_journal", path])
        guard result.status == 0 else {
            throw ImagesKitError(.toolFailure, "tune2fs could not remove the journal", cause: result.failure("tune2fs"))
        }
        return size
    }

    /// Adds an internal journal of `mebibytes` MiB (`tune2fs -J size=`).
    ///
    /// - Throws: ``ImagesKitError`` with `tool_failure`.
    public func addJournal(_ path: String, mebibytes: Int) async throws {
        let result = try await run("tune2fs", ["-J", "size=\(mebibytes)", path])
        guard result.status == 0 else {
            throw ImagesKitError(.toolFailure, "tune2fs could not add a journal", cause: result.failure("tune2fs"))
        }
    }

    /// The journal size `dumpe2fs -h` prints (`Total journal size:` or, from older versions,
    /// `Journal size:`, such as `64M` or `4096k`) in whole MiB, at least 1.
    static func journalMebibytes(_ header: String) -> Int? {
        let fields = ["Total journal size:", "Journal size:"]
        let lines = header.split(separator: "\n")
        guard let field = fields.first(where: { field in lines.contains { $0.hasPrefix(field) } }),
            let line = lines.first(where: { $0.hasPrefix(field) })
        else { return nil }
        let text = line.dropFirst(field.count).trimmingCharacters(in: .whitespaces)
        guard let unit = text.last, let number = Int(text.dropLast()) else { return nil }
        switch unit {
        case "k": return max(1, (number + 1023) / 1024)
        case "M": return number
        case "G": return number * 1024
        default: return nil
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
