import Foundation
import ImagesKit

/// A private temporary folder for one test: its image store, disks and outputs.
///
/// Every `imagesctl` run goes to the sandbox's own store, never the user's default one. The
/// folder is removed when the sandbox goes away.
final class Sandbox: Sendable {
    /// The folder.
    let folder: URL

    /// The files ``makeExt4Disk(_:label:size:files:)`` puts on a disk by default.
    static let sampleFiles: [String: [UInt8]] = [
        "hello.txt": Array("hello from the imagesctl tests\n".utf8),
        "data/random.bin": SeededBytes.make(count: 300_000, seed: 0x1D5C),
    ]

    /// Makes an empty folder under the system's temporary folder.
    init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("imagesctl-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(at: folder)
    }

    /// The path of a file in the sandbox.
    func path(_ name: String) -> String {
        folder.appendingPathComponent(name).path
    }

    /// The sandbox's image store.
    var store: String { path("store") }

    /// Runs `imagesctl --store <sandbox store>` with the given arguments.
    func imagesctl(_ arguments: String...) async throws -> ProcessResult {
        try await imagesctl(arguments)
    }

    /// Runs `imagesctl --store <sandbox store>` with the given arguments.
    func imagesctl(_ arguments: [String]) async throws -> ProcessResult {
        try await Programs.run(Programs.imagesctl, ["--store", store] + arguments, outputsIn: folder)
    }

    /// Runs `imagesctl --json` on the sandbox's store and decodes what it prints.
    ///
    /// - Throws: ``ToolFailure`` when imagesctl fails, or the decoding error.
    func imagesctlJSON<Value: Decodable>(_ type: Value.Type, _ arguments: String...) async throws -> Value {
        let result = try await imagesctl(["--json"] + arguments)
        guard result.status == 0 else {
            throw ToolFailure(
                description: "imagesctl \(arguments) exited with \(result.status): \(result.standardError)")
        }
        return try APIJSON.decoder().decode(Value.self, from: Data(result.standardOutput.utf8))
    }

    /// Captures a disk into the sandbox's store and returns the record imagesctl printed.
    func capture(_ disk: String, label: String, _ options: String...) async throws -> Image {
        let arguments = ["capture", disk, "--label", label] + options
        let result = try await imagesctl(["--json"] + arguments)
        guard result.status == 0 else {
            throw ToolFailure(description: "imagesctl capture exited with \(result.status): \(result.standardError)")
        }
        return try APIJSON.decoder().decode(Image.self, from: Data(result.standardOutput.utf8))
    }

    /// Makes an ext4 disk file holding `files`, with `truncate` and `mkfs.ext4 -d`.
    ///
    /// - Parameters:
    ///   - blockSize: The filesystem's block size; by default mkfs picks (1 KiB on small disks).
    /// - Returns: The disk's path.
    func makeExt4Disk(
        _ name: String = "disk.img", label: String = "golden", size: String = "32M",
        files: [String: [UInt8]] = sampleFiles, blockSize: Int? = nil
    ) async throws -> String {
        let content = folder.appendingPathComponent("\(name).content")
        try FileManager.default.createDirectory(at: content, withIntermediateDirectories: true)
        for (relativePath, bytes) in files {
            let file = content.appendingPathComponent(relativePath)
            try FileManager.default.createDirectory(
                at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(bytes).write(to: file)
        }

        let disk = path(name)
        try await tool("truncate", "-s", size, disk)
        let blockOption = blockSize.map { ["-b", String($0)] } ?? []
        try await Programs.require(
            "mkfs.ext4", ["-q", "-F", "-L", label, "-d", content.path] + blockOption + [disk], outputsIn: folder)
        return disk
    }

    /// Compresses a file with `gzip -c` into `<path>.gz`.
    ///
    /// - Returns: The compressed file's path.
    func gzip(_ path: String) async throws -> String {
        let compressed = path + ".gz"
        let result = try await Programs.run(
            "/usr/bin/env", ["gzip", "-c", path], outputsIn: folder, standardOutputPath: compressed)
        guard result.status == 0 else { throw ToolFailure(description: "gzip -c \(path): \(result.standardError)") }
        return compressed
    }

    /// Runs a system tool that must succeed.
    func tool(_ name: String, _ arguments: String...) async throws {
        try await Programs.require(name, arguments, outputsIn: folder)
    }

    /// Runs a system tool and returns its result, whatever its status.
    func tryTool(_ name: String, _ arguments: String...) async throws -> ProcessResult {
        try await Programs.tool(name, arguments, outputsIn: folder)
    }
}

/// Bytes that look random but are the same on every run: SplitMix64 from a fixed seed.
enum SeededBytes {
    /// Makes `count` bytes from `seed`.
    static func make(count: Int, seed: UInt64) -> [UInt8] {
        var state = seed
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count + 8)
        while bytes.count < count {
            state &+= 0x9E37_79B9_7F4A_7C15
            var mixed = state
            mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
            mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
            mixed ^= mixed >> 31
            withUnsafeBytes(of: mixed.littleEndian) { bytes.append(contentsOf: $0) }
        }
        return Array(bytes.prefix(count))
    }
}
