import Foundation

/// What a finished process left: its exit status and what it printed.
struct ProcessResult: Sendable {
    /// The exit status.
    var status: Int32
    /// Standard output as text; empty when it was sent to a file.
    var standardOutput: String
    /// Standard error as text.
    var standardError: String
}

/// A tool that exited with a status other than 0 while a test was setting something up.
struct ToolFailure: Error, CustomStringConvertible {
    let description: String
}

/// Runs the built `imagesctl` and the system tools the tests check it with.
enum Programs {
    /// The `imagesctl` under test: `$IMAGESCTL`, else the one built beside the running tests (so
    /// a sanitizer's build tests its own), else the debug build beside this package.
    static let imagesctl: String = {
        if let path = ProcessInfo.processInfo.environment["IMAGESCTL"], !path.isEmpty { return path }
        if let tests = Bundle.main.executableURL?.resolvingSymlinksInPath() {
            let beside = tests.deletingLastPathComponent().appendingPathComponent("imagesctl").path
            if FileManager.default.isExecutableFile(atPath: beside) { return beside }
        }
        let packageRoot = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return packageRoot.appendingPathComponent(".build/debug/imagesctl").path
    }()

    /// The tests' environment with the sbin folders on `PATH`, where mkfs and e2fsck live.
    static let environment: [String: String] = {
        var environment = ProcessInfo.processInfo.environment
        environment["PATH"] = (environment["PATH"].map { $0 + ":" } ?? "") + "/usr/sbin:/sbin:/usr/bin:/bin"
        environment["LC_ALL"] = "C"
        return environment
    }()

    /// Runs a program to its end without a shell.
    ///
    /// Output goes through files in `folder` rather than pipes, so a chatty child can't block.
    /// - Parameters:
    ///   - executable: The program's path.
    ///   - arguments: Its arguments, passed as they are.
    ///   - environment: Its whole environment.
    ///   - folder: Where the output files are kept.
    ///   - standardOutputPath: A file to receive standard output instead of the result.
    /// - Returns: The exit status and the output.
    static func run(
        _ executable: String, _ arguments: [String], environment: [String: String] = environment,
        outputsIn folder: URL, standardOutputPath: String? = nil
    ) async throws -> ProcessResult {
        let name = UUID().uuidString
        let outputPath = standardOutputPath ?? folder.appendingPathComponent("\(name).out").path
        let errorPath = folder.appendingPathComponent("\(name).err").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = environment
        process.currentDirectoryURL = folder
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = try writableHandle(outputPath)
        process.standardError = try writableHandle(errorPath)

        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            process.terminationHandler = { _ in continuation.resume() }
            do {
                try process.run()
            } catch {
                continuation.resume(throwing: error)
            }
        }

        let standardOutput = standardOutputPath == nil ? try text(outputPath) : ""
        return ProcessResult(
            status: process.terminationStatus, standardOutput: standardOutput, standardError: try text(errorPath))
    }

    /// Runs a system tool found on `PATH`.
    static func tool(_ name: String, _ arguments: [String], outputsIn folder: URL) async throws -> ProcessResult {
        try await run("/usr/bin/env", [name] + arguments, outputsIn: folder)
    }

    /// Runs a system tool that must succeed.
    ///
    /// - Throws: ``ToolFailure`` with the tool's standard error when it exits with another status.
    static func require(_ name: String, _ arguments: [String], outputsIn folder: URL) async throws {
        let result = try await tool(name, arguments, outputsIn: folder)
        guard result.status == 0 else {
            throw ToolFailure(
                description: "\(name) \(arguments.joined(separator: " ")) exited with \(result.status): "
                    + result.standardError)
        }
    }

    private static func writableHandle(_ path: String) throws -> FileHandle {
        guard FileManager.default.createFile(atPath: path, contents: nil) else {
            throw ToolFailure(description: "can't create output file \(path)")
        }
        return try FileHandle(forWritingTo: URL(fileURLWithPath: path))
    }

    private static func text(_ path: String) throws -> String {
        String(decoding: try Data(contentsOf: URL(fileURLWithPath: path)), as: UTF8.self)
    }
}
