import Foundation
import ImagesKit

/// Writes content into `staging/`, moving it into `content/` on commit.
final class FileContentWriter: ImageContentWriter {
    private let files: StoreFiles
    private let number: Int
    private let stagingPath: String
    private var descriptor: Int32
    private(set) var byteCount: UInt64 = 0

    init(files: StoreFiles, number: Int) throws {
        self.files = files
        self.number = number
        self.stagingPath = files.stagingName("\(number).data").path
        self.descriptor = try files.openForWriting(stagingPath)
    }

    deinit {
        if descriptor >= 0 {
            close(descriptor)
            unlink(stagingPath)
        }
    }

    func write(_ bytes: [UInt8]) async throws {
        guard descriptor >= 0 else { throw finishedError() }
        try bytes.withUnsafeBytes { try files.writeAll($0, to: descriptor, path: stagingPath) }
        byteCount += UInt64(bytes.count)
    }

    /// Flushes the staged content, renames it into place, then writes the record.
    func commit(_ record: StoredImage) async throws {
        guard descriptor >= 0 else { throw finishedError() }
        let target = files.contentFile(number)
        do {
            try files.check(fsync(descriptor) == 0, "fsync", stagingPath)
            try files.check(rename(stagingPath, target.path) == 0, "rename", target.path)
            files.synchronizeFolder(files.contentFolder)
            try files.writeAtomically(try StoreFiles.encode(record), to: files.recordFile(number))
        } catch {
            unlink(target.path)
            await abort()
            throw error
        }
        close(descriptor)
        descriptor = -1
    }

    func abort() async {
        guard descriptor >= 0 else { return }
        close(descriptor)
        descriptor = -1
        unlink(stagingPath)
    }

    private func finishedError() -> ImagesKitError {
        ImagesKitError(.storeFailure, "content of image \(number) was already committed or aborted")
    }
}

/// Reads committed content from `content/`.
final class FileContentReader: ImageContentReader {
    let byteCount: UInt64
    private var descriptor: Int32
    private var offset: UInt64
    private let path: String

    init(path: String, offset: UInt64, id: ImageID) throws {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw ImagesKitError(.imageNotFound, "no content is stored for \(id)", context: ["path": path])
        }
        var status = stat()
        fstat(descriptor, &status)
        self.descriptor = descriptor
        self.byteCount = UInt64(status.st_size)
        self.offset = offset
        self.path = path
    }

    deinit {
        if descriptor >= 0 { Glibc.close(descriptor) }
    }

    func read(maxLength: Int) async throws -> [UInt8] {
        guard descriptor >= 0 else { return [] }
        var bytes = [UInt8](repeating: 0, count: maxLength)
        let count = bytes.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, maxLength, off_t(offset)) }
        guard count >= 0 else {
            throw ImagesKitError(
                .storeFailure, "the store could not read \(path)", cause: SystemCallError("pread", errno: errno))
        }
        offset += UInt64(count)
        bytes.removeLast(maxLength - count)
        return bytes
    }

    func close() async {
        guard descriptor >= 0 else { return }
        Glibc.close(descriptor)
        descriptor = -1
    }
}
