import Foundation
import ImagesKit
import ImagesKitGzip
import Testing

/// Uploads in other formats are refused as unsupported, naming what they look like.
@Suite("Uploads that are not gzip")
struct NotGzipTests {
    enum Upload: String, CaseIterable, Sendable {
        case xz, bzip2, zstd, tar, qcow2, vmdk, rawZeros, rawExt4, zlibStream

        var expectedPhrase: String {
            switch self {
            case .xz: "xz-compressed data"
            case .bzip2: "bzip2-compressed data"
            case .zstd: "zstd-compressed data"
            case .tar: "a tar archive"
            case .qcow2: "a qcow2 image"
            case .vmdk: "a VMDK image"
            case .rawZeros: "zero bytes"
            case .rawExt4: "ext2/3/4 superblock"
            case .zlibStream: "data starting with 78 9c"
            }
        }

        var isAvailable: Bool {
            switch self {
            case .xz, .bzip2, .zstd, .tar: ExternalTool.path(of: rawValue) != nil
            default: true
            }
        }

        /// Builds the upload with the format's own tool, or with python3 for disk image headers.
        func bytes(in directory: TemporaryDirectory) throws -> [UInt8] {
            let plain = try directory.write(Payload.text(5000), to: "plain.img")
            switch self {
            case .xz, .bzip2, .zstd:
                return try ExternalTool.output(rawValue, ["-c", plain.path])
            case .tar:
                return try ExternalTool.output("tar", ["-c", "-C", directory.url.path, "plain.img"])
            case .qcow2:
                return try ExternalTool.python("out.write(b'QFI\\xfb' + (3).to_bytes(4, 'big') + bytes(100))")
            case .vmdk:
                return try ExternalTool.python("out.write(b'KDMV' + (1).to_bytes(4, 'little') + bytes(500))")
            case .rawZeros:
                return Payload.zeros(4096)
            case .rawExt4:
                return try ExternalTool.python("out.write(bytes(1080) + b'\\x53\\xef' + bytes(3000))")
            case .zlibStream:
                return try ExternalTool.python("out.write(zlib.compress(b'not gzip' * 10))")
            }
        }
    }

    @Test(
        "a non-gzip upload is refused as unsupported and says what it looks like",
        arguments: Upload.allCases.filter(\.isAvailable))
    func otherFormatIsUnsupported(upload: Upload) throws {
        let directory = try TemporaryDirectory()
        let decoded = try decodeGzip(upload.bytes(in: directory))

        #expect(decoded.errorCode == .unsupportedFormat)
        #expect(decoded.error?.message.contains(upload.expectedPhrase) == true, "\(decoded.error?.message ?? "")")
        #expect(decoded.error?.message.contains("compressed with gzip (.img.gz)") == true)
        #expect(decoded.outputByteCount == 0)
    }

    @Test("gzip's first magic byte followed by another byte is not gzip either")
    func halfMagicIsUnsupported() throws {
        let decoded = try decodeGzip([0x1f, 0x01, 0x90, 0x61], chunking: .fixed(1))
        #expect(decoded.errorCode == .unsupportedFormat)
        #expect(decoded.error?.message.contains("data starting with 1f 01") == true)
    }

    @Test("compress (.Z) data is named even when it arrives a byte at a time")
    func compressDataIsNamed() throws {
        let decoded = try decodeGzip([0x1f, 0x9d, 0x90, 0x61], chunking: .fixed(1))
        #expect(decoded.errorCode == .unsupportedFormat)
        #expect(decoded.error?.message.contains("compress (.Z) data") == true)
    }
}
