import Foundation
import ImagesKit

/// The paths of a folder store and the file operations it is built from.
struct StoreFiles: Sendable {
    let root: URL

    var recordsFolder: URL { root.appendingPathComponent("records") }
    var contentFolder: URL { root.appendingPathComponent("content") }
    var stagingFolder: URL { root.appendingPathComponent("staging") }
    var locksFolder: URL { root.appendingPathComponent("locks") }
    var eventsFile: URL { root.appendingPathComponent("events.jsonl") }
    var nextIDFile: URL { root.appendingPathComponent("next-id") }
    var nextIDLockFile: URL { root.appendingPathComponent("next-id.lock") }
    var admissionLockFile: URL { locksFolder.appendingPathComponent("admission.lock") }

    func recordFile(_ number: Int) -> URL { recordsFolder.appendingPathComponent("\(number).json") }
    func contentFile(_ number: Int) -> URL { contentFolder.appendingPathComponent("\(number).data") }
    func lockFile(_ number: Int) -> URL { locksFolder.appendingPathComponent("\(number).lock") }

    static func number(of id: ImageID) throws -> Int {
        guard let number = id.number else { throw ImagesKitError(.notModifiable, "\(id) is not an account image") }
        return number
    }

    static func encode(_ value: some Encodable) throws -> Data {
        try APIJSON.encoder().encode(value)
    }

    func prepare() throws {
        for folder in [recordsFolder, contentFolder, stagingFolder, locksFolder] {
            do {
                try FileManager.default.createDirectory(
                    at: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            } catch {
                throw ImagesKitError(
                    .storeFailure, "can't create the store folder \(folder.path); check the path and permissions",
                    cause: error)
            }
            try refuseSymbolicLink(folder)
        }
    }

    /// A store's own folders must be real folders: following a planted link would let the store
    /// write or delete files elsewhere.
    private func refuseSymbolicLink(_ folder: URL) throws {
        var status = stat()
        guard lstat(folder.path, &status) == 0, status.st_mode & S_IFMT == S_IFDIR else {
            throw ImagesKitError(
                .storeFailure,
                "\(folder.path) is not a plain folder (a symbolic link?); the store refuses to follow it: "
                    + "replace it with a folder",
                context: ["path": folder.path])
        }
    }

    /// A staged file's name starts with the id of the process writing it.
    func stagingName(_ name: String) -> URL {
        stagingFolder.appendingPathComponent("\(getpid()).\(name).\(UUID().uuidString)")
    }

    /// Removes staged files whose writing process has ended, as after a crash; files of
    /// processes still running are theirs to finish.
    func clearStaging() {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: stagingFolder.path)) ?? []
        for name in names where !Self.writerIsAlive(name) {
            unlink(stagingFolder.appendingPathComponent(name).path)
        }
    }

    private static func writerIsAlive(_ name: String) -> Bool {
        guard let pid = Int32(name.prefix { $0 != "." }), pid > 0 else { return false }
        return kill(pid, 0) == 0 || errno == EPERM
    }

    /// The numbers of the record files, `<n>.json` with `n` written as the store writes it.
    func recordNumbers() throws -> [Int] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: recordsFolder.path)
        } catch {
            throw ImagesKitError(
                .storeFailure, "can't list the records folder \(recordsFolder.path); check it exists and is readable",
                cause: error, context: ["path": recordsFolder.path])
        }
        return names.compactMap { name in
            guard name.hasSuffix(".json"), let number = Int(name.dropLast(5)), number > 0 else { return nil }
            return name == "\(number).json" ? number : nil
        }.sorted()
    }

    func highestRecordNumber() throws -> Int {
        try recordNumbers().last ?? 0
    }

    /// The largest record file read: a whole record with the longest description and every
    /// tag is far smaller, so anything larger is not a record.
    static let recordByteLimit = 4 << 20

    /// Reads the record of image `number`, or `nil` when it has none.
    ///
    /// A file that can't be read, is not a record, is too large to be one, or holds the record
    /// of another image is damaged: a `store_failure` naming the file, never another image.
    func readRecord(_ number: Int) throws -> StoredImage? {
        let url = recordFile(number)
        guard let data = try readRecordBytes(url) else { return nil }
        let record: StoredImage
        do {
            record = try JSONDecoder().decode(StoredImage.self, from: data)
        } catch {
            throw damaged(url, "it is not a record", cause: error)
        }
        if let reason = record.inconsistency(as: .private(number)) { throw damaged(url, reason) }
        return record
    }

    private func readRecordBytes(_ url: URL) throws -> Data? {
        let descriptor = open(url.path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)
        guard descriptor >= 0 else {
            if errno == ENOENT { return nil }
            throw damaged(url, "it can't be opened", cause: SystemCallError("open", errno: errno))
        }
        defer { close(descriptor) }
        var status = stat()
        try check(fstat(descriptor, &status) == 0, "stat", url.path)
        guard status.st_mode & S_IFMT == S_IFREG else { throw damaged(url, "it is not a plain file") }
        guard status.st_size <= Self.recordByteLimit else {
            throw damaged(url, "it holds \(status.st_size) bytes, more than any record")
        }
        return try readToEnd(descriptor, path: url.path)
    }

    private func readToEnd(_ descriptor: Int32, path: String) throws -> Data {
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while data.count <= Self.recordByteLimit {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            try check(count >= 0, "read", path)
            guard count > 0 else { return data }
            data.append(contentsOf: buffer[..<count])
        }
        throw damaged(URL(fileURLWithPath: path), "it grew past \(Self.recordByteLimit) bytes while read")
    }

    func damaged(_ url: URL, _ reason: String, cause: (any Error & Sendable)? = nil) -> ImagesKitError {
        ImagesKitError(
            .storeFailure,
            "the record \(url.lastPathComponent) in the store is damaged (\(reason)); its image can't be "
                + "read until the record is restored from a backup or the image's files are removed",
            cause: cause, context: ["path": url.path])
    }

    func readText(_ url: URL) throws -> String? {
        guard let data = try? Data(contentsOf: url) else { return nil }
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Writes beside the final name, flushes, renames over it, and flushes the folder.
    func writeAtomically(_ data: Data, to url: URL) throws {
        let temporary = stagingName(url.lastPathComponent)
        let descriptor = try openForWriting(temporary.path)
        defer { close(descriptor) }
        do {
            try writeAll(data, to: descriptor, path: temporary.path)
            try check(fsync(descriptor) == 0, "fsync", temporary.path)
            try check(rename(temporary.path, url.path) == 0, "rename", url.path)
        } catch {
            unlink(temporary.path)
            throw error
        }
        synchronizeFolder(url.deletingLastPathComponent())
    }

    func appendLine(_ line: Data, to url: URL) throws {
        let descriptor = open(url.path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        try check(descriptor >= 0, "open", url.path)
        defer { close(descriptor) }
        try writeAll(line, to: descriptor, path: url.path)
    }

    /// Runs `body` holding an exclusive `flock` on `url`, which other processes honour too.
    func withExclusiveLock<Result>(on url: URL, _ body: () throws -> Result) throws -> Result {
        let descriptor = open(url.path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        try check(descriptor >= 0, "open", url.path)
        defer { close(descriptor) }
        while flock(descriptor, LOCK_EX) != 0 {
            guard errno == EINTR else { throw failure("lock", url.path, errno) }
        }
        return try body()
    }

    func removeIfPresent(_ url: URL) throws {
        guard unlink(url.path) == 0 || errno == ENOENT else {
            throw failure("unlink", url.path, errno)
        }
    }

    func synchronizeFolder(_ url: URL) {
        let descriptor = open(url.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { return }
        fsync(descriptor)
        close(descriptor)
    }

    func openForWriting(_ path: String) throws -> Int32 {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        try check(descriptor >= 0, "open", path)
        return descriptor
    }

    func writeAll(_ data: Data, to descriptor: Int32, path: String) throws {
        try data.withUnsafeBytes { try writeAll($0, to: descriptor, path: path) }
    }

    func writeAll(_ bytes: UnsafeRawBufferPointer, to descriptor: Int32, path: String) throws {
        var done = 0
        while done < bytes.count {
            let count = write(descriptor, bytes.baseAddress! + done, bytes.count - done)
            if count < 0 && errno == EINTR { continue }
            try check(count > 0, "write", path)
            done += count
        }
    }

    func check(_ succeeded: Bool, _ call: String, _ path: String) throws {
        if !succeeded { throw failure(call, path, errno) }
    }

    func failure(_ call: String, _ path: String, _ code: Int32) -> ImagesKitError {
        let advice =
            switch code {
            case ENOSPC, EDQUOT: "the store's filesystem is full (ENOSPC); free space on it and retry"
            case EROFS: "the store is on a read-only filesystem; use a writable store folder"
            case EACCES, EPERM: "permission denied; run as a user who may write the store folder"
            default: "\(String(cString: strerror(code))); check the store folder"
            }
        return ImagesKitError(
            .storeFailure, "the store could not \(call) \(path): \(advice)",
            cause: SystemCallError(call, errno: code), context: ["path": path])
    }
}
