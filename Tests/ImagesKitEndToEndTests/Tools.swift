import Foundation

/// Runs real tools for the end-to-end tests.
enum Tools {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// The package's root folder, found from this file's path.
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Runs a command through `/bin/sh -c`, returning its exit status and output.
    @discardableResult
    static func shell(_ command: String, allowFailure: Bool = false) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        var environment = ProcessInfo.processInfo.environment
        environment["PATH"] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        environment["LC_ALL"] = "C"
        process.environment = environment
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("tool-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        let handle = try FileHandle(forWritingTo: output)
        defer { try? FileManager.default.removeItem(at: output) }
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        process.waitUntilExit()
        try handle.close()
        let text = String(decoding: (try? Data(contentsOf: output)) ?? Data(), as: UTF8.self)
        if !allowFailure && process.terminationStatus != 0 {
            throw Failure(description: "`\(command)` exited with \(process.terminationStatus): \(text.suffix(2000))")
        }
        return (process.terminationStatus, text)
    }

    /// A fresh temporary folder.
    static func temporaryFolder(_ name: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// A value of a `dumpe2fs -h` field, such as `Block count`.
    static func superblockField(_ disk: String, _ field: String) throws -> UInt64 {
        let output = try shell("dumpe2fs -h '\(disk)' 2>/dev/null").output
        for line in output.split(separator: "\n") where line.hasPrefix(field + ":") {
            let value = line.dropFirst(field.count + 1).trimmingCharacters(in: .whitespaces)
            if let number = UInt64(value) { return number }
        }
        throw Failure(description: "dumpe2fs shows no \(field) for \(disk)")
    }

    /// The bytes of a file inside an ext filesystem, read with `debugfs`.
    static func fileInside(_ disk: String, _ path: String, scratch: URL) throws -> Data {
        let out = scratch.appendingPathComponent("dump-\(UUID().uuidString)")
        try shell("debugfs -R \"dump \(path) \(out.path)\" '\(disk)' 2>/dev/null")
        defer { try? FileManager.default.removeItem(at: out) }
        guard let data = try? Data(contentsOf: out) else {
            throw Failure(description: "debugfs could not dump \(path) from \(disk)")
        }
        return data
    }
}
