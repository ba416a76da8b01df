import Foundation

/// Runs shell command lines for the tests, with standard output and error together.
public enum Shell {
    /// A command line that exited with another status than 0.
    public struct Failure: Error, CustomStringConvertible {
        /// The command line and its output.
        public let description: String
    }

    /// Runs `line` with `/bin/sh -c` and returns its output.
    ///
    /// - Throws: ``Failure`` when it exits with another status than 0.
    @discardableResult
    public static func run(_ line: String) async throws -> String {
        let result = try await status(line)
        guard result.status == 0 else { throw Failure(description: "\(line) failed: \(result.output)") }
        return result.output
    }

    /// Runs `line` with `/bin/sh -c` and returns its exit status and output, together.
    public static func status(_ line: String) async throws -> (status: Int32, output: String) {
        try await offThePool { try blockingStatus(line) }
    }

    private static func blockingStatus(_ line: String) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", line]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self))
    }
}
