import Foundation
import Testing

/// Looks at disks and files the way an operator would: with `stat`, `e2fsck`, `debugfs`, `gzip`.
extension Sandbox {
    /// A file's size in bytes.
    func fileSize(_ path: String) throws -> UInt64 {
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        return (attributes[.size] as? NSNumber)?.uint64Value ?? 0
    }

    /// A file's bytes.
    func contents(_ path: String) throws -> Data {
        try Data(contentsOf: URL(fileURLWithPath: path))
    }

    /// The size an ext filesystem says it has: its block count times its block size.
    func filesystemByteCount(_ disk: String) async throws -> UInt64 {
        let result = try await tryTool("dumpe2fs", "-h", disk)
        let blocks = try Self.superblockField("Block count", in: result.standardOutput)
        let blockSize = try Self.superblockField("Block size", in: result.standardOutput)
        return blocks * blockSize
    }

    /// Expects `e2fsck -fn` to find nothing wrong with the disk.
    func expectCleanFilesystem(_ disk: String, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let result = try await tryTool("e2fsck", "-fn", disk)
        #expect(
            result.status == 0, "e2fsck -fn \(disk): \(result.standardOutput)\(result.standardError)",
            sourceLocation: sourceLocation)
    }

    /// The bytes of a file inside an ext filesystem, dumped with `debugfs`, or `nil` when it is absent.
    func fileInside(_ disk: String, _ pathInside: String) async throws -> [UInt8]? {
        let dumped = path("dump-\(UUID().uuidString)")
        _ = try await tryTool("debugfs", "-R", "dump \(pathInside) \(dumped)", disk)
        guard FileManager.default.fileExists(atPath: dumped) else { return nil }
        return Array(try contents(dumped))
    }

    /// Expects the disk to hold a clean filesystem with ``sampleFiles`` on it, byte for byte.
    func expectHoldsSampleFiles(_ disk: String, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        try await expectCleanFilesystem(disk, sourceLocation: sourceLocation)
        for (name, bytes) in Self.sampleFiles {
            let found = try await fileInside(disk, "/" + name)
            #expect(found == bytes, "\(name) on \(disk)", sourceLocation: sourceLocation)
        }
    }

    /// Decompresses a gzip file with `gzip -dc` into a new file and returns that file's path.
    func gunzip(_ path: String) async throws -> String {
        let output = path + ".raw"
        let result = try await Programs.run(
            "/usr/bin/env", ["gzip", "-dc", path], outputsIn: folder, standardOutputPath: output)
        guard result.status == 0 else { throw ToolFailure(description: "gzip -dc \(path): \(result.standardError)") }
        return output
    }

    /// The uncompressed size of an image, read back by exporting it and decompressing the export.
    func uncompressedByteCount(of id: String) async throws -> UInt64 {
        let exported = path("measure-\(UUID().uuidString).img.gz")
        let result = try await imagesctl("export", id, exported)
        guard result.status == 0 else { throw ToolFailure(description: "export \(id): \(result.standardError)") }
        return try fileSize(try await gunzip(exported))
    }

    private static func superblockField(_ name: String, in output: String) throws -> UInt64 {
        for line in output.split(separator: "\n") where line.hasPrefix(name + ":") {
            if let value = UInt64(line.dropFirst(name.count + 1).trimmingCharacters(in: .whitespaces)) {
                return value
            }
        }
        throw ToolFailure(description: "dumpe2fs shows no \(name)")
    }
}

/// Expects a run to fail the way the command line promises: status 1, nothing on standard
/// output, and exactly one line on standard error that says what went wrong and what to do.
///
/// - Parameters:
///   - result: The finished run.
///   - advice: Words of the advice the line must give.
func expectFailure(
    _ result: ProcessResult, advising advice: String, sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(result.status == 1, "exit status", sourceLocation: sourceLocation)
    #expect(result.standardOutput.isEmpty, "standard output: \(result.standardOutput)", sourceLocation: sourceLocation)

    let lines = result.standardError.split(separator: "\n", omittingEmptySubsequences: false)
    #expect(
        lines.count == 2 && lines[1].isEmpty, "not exactly one line: \(result.standardError)",
        sourceLocation: sourceLocation)
    let line = String(lines[0])
    let prefix = "imagesctl: "
    #expect(line.hasPrefix(prefix) && line.count > prefix.count + 10, "\(line)", sourceLocation: sourceLocation)
    #expect(line.contains(advice), "no advice '\(advice)' in: \(line)", sourceLocation: sourceLocation)
    for trace in ["Fatal error", "Stack dump", "Error(", "Swift/", ".swift:"] {
        #expect(!line.contains(trace), "looks like a crash or a raw error: \(line)", sourceLocation: sourceLocation)
    }
}
