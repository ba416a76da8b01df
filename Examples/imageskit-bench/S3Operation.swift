import Foundation
import ImagesKit
import ImagesKitS3

/// A timed transfer through an ``S3ImageStore``: a file's bytes streamed through the store's
/// content writer (`put`), or an image's content streamed through its reader to a file (`get`).
///
/// Only the transfer is inside the measured span: opening the store, reserving the number,
/// writing the pending record and taking the file's SHA-256 for the record's facts come before.
struct S3Operation {
    let store: S3ImageStore
    let arguments: [String]
    /// The size of each read from the file and from the store, as ``ImageService`` uses.
    let chunkSize = ImageServiceConfiguration().chunkSize

    /// Opens the store at `address` (`s3://BUCKET/PREFIX`) with the settings of `options` and
    /// of the environment: `S3_ENDPOINT` (else `AWS_ENDPOINT_URL_S3`), `S3_REGION` (else
    /// `AWS_REGION`, else `us-east-1`), `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`.
    static func open(
        _ address: String, options: [String: Int], arguments: [String],
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) async throws -> S3Operation {
        guard let (bucket, prefix) = S3Configuration.parseStoreAddress(address) else {
            throw BenchmarkUsageError()
        }
        let endpointText = [environment["S3_ENDPOINT"], environment["AWS_ENDPOINT_URL_S3"]]
            .compactMap { $0 }.first { !$0.isEmpty }
        guard let endpointText, let endpoint = URL(string: endpointText) else {
            throw ImagesKitError(.invalidArgument, "an s3:// store needs S3_ENDPOINT, such as http://127.0.0.1:18480")
        }
        guard let credentials = S3Credentials.fromEnvironment(environment) else {
            throw ImagesKitError(.invalidArgument, "an s3:// store needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
        }
        let region = [environment["S3_REGION"], environment["AWS_REGION"]].compactMap { $0 }
            .first { !$0.isEmpty }
        var configuration = S3Configuration(
            endpoint: endpoint, region: region ?? "us-east-1", bucket: bucket, prefix: prefix,
            credentials: credentials)
        if let mebibytes = options["--part-mib"] { configuration.partByteCount = mebibytes << 20 }
        if let count = options["--parts"] { configuration.partsInFlight = count }
        if let mebibytes = options["--range-mib"] { configuration.rangeByteCount = mebibytes << 20 }
        if let count = options["--ranges"] { configuration.rangesInFlight = count }
        let store = try await S3ImageStore.open(configuration: configuration)
        return S3Operation(store: store, arguments: arguments)
    }

    /// The option names `open` understands, each taking a whole number.
    static let optionNames: Set = ["--part-mib", "--parts", "--range-mib", "--ranges"]

    /// Stores the bytes of the file named by the one argument as the content of a new image.
    func put() async throws -> (Double, ImageID) {
        guard arguments.count == 1 else { throw BenchmarkUsageError() }
        let file = try InputFile(path: arguments[0])
        let (sha256, byteCount) = try file.sha256()
        var record = Self.pendingRecord(number: try await store.reserveImageNumber())
        try await store.save(record)
        record.image.status = .available
        record.image.size = Image.megabytes(byteCount)
        record.content = ImageContent(
            format: "raw", sha256: sha256, uncompressedByteCount: byteCount, compressedByteCount: byteCount,
            filesystem: "data", isExtFilesystem: false)
        let id = record.image.id
        let (seconds, _) = try await Operation.timed {
            let writer = try await store.beginContent(for: id)
            do {
                try file.rewind()
                var buffer = [UInt8](repeating: 0, count: chunkSize)
                while try file.read(into: &buffer) > 0 {
                    try await writer.write(buffer)
                }
                guard writer.byteCount == byteCount else {
                    throw ImagesKitError(.invalidState, "\(arguments[0]) changed while it was read")
                }
                try await writer.commit(record)
            } catch {
                await writer.abort()
                throw error
            }
        }
        return (seconds, id)
    }

    /// Writes the content of image ID, the first argument, to the new file the second names;
    /// the file is removed again when the transfer fails.
    func get() async throws -> (Double, ImageID) {
        guard arguments.count == 2, let id = ImageID(arguments[0]) else { throw BenchmarkUsageError() }
        let output = try OutputFile(newFileAt: arguments[1])
        do {
            let (seconds, _) = try await Operation.timed {
                let reader = try await store.openContent(for: id, at: 0)
                do {
                    while true {
                        let bytes = try await reader.read(maxLength: chunkSize)
                        if bytes.isEmpty { break }
                        try output.write(bytes)
                    }
                } catch {
                    await reader.close()
                    throw error
                }
                await reader.close()
                try output.close()
            }
            return (seconds, id)
        } catch {
            unlink(arguments[1])
            throw error
        }
    }

    /// A record awaiting its content, as an upload's is.
    static func pendingRecord(number: Int) -> StoredImage {
        let now = Date()
        let image = Image(
            id: .private(number), label: "bench", description: "bytes stored by imageskit-bench", created: now,
            createdBy: "imageskit-bench", status: .pendingUpload)
        return StoredImage(image: image, homeRegion: "local", uploadDeadline: now.addingTimeInterval(86_400))
    }
}

/// A file read front to back with plain `read` calls.
final class InputFile {
    private let descriptor: Int32
    private let path: String

    init(path: String) throws {
        self.path = path
        descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw Self.failure("can't open", path) }
    }

    deinit { _ = Foundation.close(descriptor) }

    /// Fills `buffer` from the file, shortening it at the end of the file; returns the bytes read,
    /// 0 at the end.
    func read(into buffer: inout [UInt8]) throws -> Int {
        var filled = 0
        while filled < buffer.count {
            let got = buffer.withUnsafeMutableBytes {
                Foundation.read(descriptor, $0.baseAddress! + filled, $0.count - filled)
            }
            if got < 0, errno == EINTR { continue }
            guard got >= 0 else { throw Self.failure("can't read", path) }
            if got == 0 { break }
            filled += got
        }
        if filled < buffer.count { buffer.removeLast(buffer.count - filled) }
        return filled
    }

    /// Goes back to the file's first byte.
    func rewind() throws {
        guard lseek(descriptor, 0, SEEK_SET) == 0 else { throw Self.failure("can't rewind", path) }
    }

    /// The SHA-256 of the whole file, in hexadecimal, and its size in bytes.
    func sha256() throws -> (String, UInt64) {
        try rewind()
        let digest = SHA256Digest()
        var buffer = [UInt8](repeating: 0, count: 4 << 20)
        var total: UInt64 = 0
        while true {
            let got = try read(into: &buffer)
            if got == 0 { break }
            buffer.withUnsafeBytes { digest.update($0) }
            total += UInt64(got)
        }
        return (digest.finalize(), total)
    }

    static func failure(_ what: String, _ path: String) -> ImagesKitError {
        ImagesKitError(.storeFailure, "\(what) \(path): \(String(cString: strerror(errno)))")
    }
}

/// A file that must not exist yet, written front to back.
final class OutputFile {
    private var descriptor: Int32
    private let path: String

    init(newFileAt path: String) throws {
        self.path = path
        descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw InputFile.failure("can't create", path) }
    }

    deinit { if descriptor >= 0 { _ = Foundation.close(descriptor) } }

    /// Writes all of `bytes`.
    func write(_ bytes: [UInt8]) throws {
        var written = 0
        while written < bytes.count {
            let done = bytes.withUnsafeBytes {
                Foundation.write(descriptor, $0.baseAddress! + written, $0.count - written)
            }
            if done < 0, errno == EINTR { continue }
            guard done > 0 else { throw InputFile.failure("can't write", path) }
            written += done
        }
    }

    /// Closes the file, reporting a failure of the last writes.
    func close() throws {
        let descriptor = self.descriptor
        self.descriptor = -1
        guard Foundation.close(descriptor) == 0 else { throw InputFile.failure("can't close", path) }
    }
}
