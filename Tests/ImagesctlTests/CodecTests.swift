import Foundation
import ImagesKit
import Testing

/// Keeping images as gzip or xz, exporting by the name's extension, and `verify`.
struct CodecTests {
    let sandbox: Sandbox

    init() throws {
        sandbox = try Sandbox()
    }

    /// The `verify --json` document.
    struct Verified: Decodable, Equatable {
        let format: String
        let compressedSize: UInt64
        let uncompressedSize: UInt64
        let sha256: String

        enum CodingKeys: String, CodingKey {
            case format, sha256
            case compressedSize = "compressed_size"
            case uncompressedSize = "uncompressed_size"
        }
    }

    func xz(_ path: String) async throws -> String {
        let output = path + ".xz"
        let result = try await Programs.run(
            "/usr/bin/env", ["xz", "-c", path], outputsIn: sandbox.folder, standardOutputPath: output)
        guard result.status == 0 else { throw ToolFailure(description: "xz -c \(path): \(result.standardError)") }
        return output
    }

    func sha256(_ path: String) async throws -> String {
        let result = try await Programs.tool("sha256sum", [path], outputsIn: sandbox.folder)
        return String(result.standardOutput.prefix(64))
    }

    @Test func aCaptureKeptAsXzExportsAsEitherFormat() async throws {
        let disk = try await sandbox.makeExt4Disk()
        _ = try await sandbox.capture(disk, label: "small", "--codec", "xz")
        let gz = sandbox.path("out.img.gz")
        let xz = sandbox.path("out.img.xz")

        #expect(try await sandbox.imagesctl("export", "private/1", gz).status == 0)
        #expect(try await sandbox.imagesctl("export", "private/1", xz).status == 0)
        #expect(try await sandbox.tryTool("gzip", "-t", gz).status == 0)
        #expect(try await sandbox.tryTool("xz", "-t", xz).status == 0)
        #expect(try await sandbox.tryTool("file", xz).standardOutput.contains("XZ compressed"))

        expectFailure(
            try await sandbox.imagesctl("export", "private/1", sandbox.path("out.img")), advising: ".img.gz or .img.xz")
        expectFailure(try await sandbox.imagesctl("export", "private/1", gz), advising: "already exists")
        #expect(try await sandbox.tryTool("gzip", "-t", gz).status == 0)
        expectFailure(try await sandbox.imagesctl("capture", disk, "--codec", "zstd"), advising: "gzip or xz")
    }

    @Test func verifyReportsEitherFormatAsAnUploadWouldSeeIt() async throws {
        let disk = try await sandbox.makeExt4Disk()
        let expected = try await sha256(disk)
        for file in [try await sandbox.gzip(disk), try await xz(disk)] {
            let verified = try await sandbox.imagesctlJSON(Verified.self, "verify", file)
            #expect(verified.format == (file.hasSuffix(".xz") ? "xz" : "gzip"))
            #expect(verified.uncompressedSize == 32 << 20)
            #expect(verified.compressedSize == FileManager.default.sizeOfFile(file))
            #expect(verified.sha256 == expected)
        }
        #expect(!FileManager.default.fileExists(atPath: sandbox.store + "/records/1.json"))
    }

    @Test func verifyFailsOnOneLineWithTheKindOfFault() async throws {
        let disk = try await sandbox.makeExt4Disk()
        let file = try await xz(disk)
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: file)))
        bytes[bytes.count / 2] ^= 0x01
        try Data(bytes).write(to: URL(fileURLWithPath: file))

        let corrupt = try await sandbox.imagesctl("verify", file)
        expectFailure(corrupt, advising: "xz")
        #expect(corrupt.standardError.contains("[corrupt_data]"))
        let plain = try await sandbox.imagesctl("verify", disk)
        expectFailure(plain, advising: "gzip or xz")
        #expect(plain.standardError.contains("[unsupported_format]"))
    }

    @Test func anXzUploadNeedsAcceptXz() async throws {
        let file = try await xz(try await sandbox.makeExt4Disk())
        let refused = try await sandbox.imagesctl("upload", file, "--label", "x", "--region", "us-east")
        expectFailure(refused, advising: "compressed with gzip")

        let taken = try await sandbox.imagesctl("--accept-xz", "upload", file, "--label", "x", "--region", "us-east")
        #expect(taken.status == 0, "\(taken.standardError)")
        let image = try await sandbox.imagesctlJSON(Image.self, "show", "private/2")
        #expect(image.status == .available)
        let stored = try Data(contentsOf: URL(fileURLWithPath: sandbox.store + "/content/2.data"))
        #expect(stored == (try Data(contentsOf: URL(fileURLWithPath: file))), "kept as it came")

        let fifo = sandbox.path("pipe")
        #expect(mkfifo(fifo, 0o600) == 0)
        let fifoUpload = try await sandbox.imagesctl("upload", fifo, "--label", "p", "--region", "us-east")
        expectFailure(fifoUpload, advising: "neither a regular file nor a block device")
        #expect(!FileManager.default.fileExists(atPath: sandbox.store + "/records/3.json"))
    }
}

extension FileManager {
    /// The size of the file at `path`, or 0 when it can't be read.
    func sizeOfFile(_ path: String) -> UInt64 {
        ((try? attributesOfItem(atPath: path))?[.size] as? NSNumber)?.uint64Value ?? 0
    }
}
