import Foundation
import ImagesKit

/// A usage ledger in a file of JSON lines, one record per line, such as `usage.jsonl` beside a
/// folder store's `events.jsonl`.
///
/// Each append takes an exclusive `flock` on the file, writes the whole line and flushes it to
/// disk before returning, so processes sharing the file never interleave lines. The file is
/// created with mode 0600 and is never followed through a symbolic link.
public struct FileUsageLedger: UsageLedger {
    /// The ledger's file.
    public let file: URL

    private let files: StoreFiles

    /// Uses the ledger in `file`, which is created on the first append; its folder must exist.
    ///
    /// - Parameter file: The ledger's file, such as `<store folder>/usage.jsonl`.
    public init(file: URL) {
        self.file = file.standardizedFileURL
        self.files = StoreFiles(root: self.file.deletingLastPathComponent())
    }

    /// Appends the record as one line and flushes it to disk.
    ///
    /// - Parameter usage: The record.
    /// - Throws: ``ImagesKitError`` with `store_failure` when the file can't be opened, locked or written.
    public func append(_ usage: UsageRecord) async throws {
        var line = try StoreFiles.encode(usage)
        line.append(UInt8(ascii: "\n"))
        let descriptor = try openLocked(O_RDWR | O_CREAT | O_APPEND, lock: LOCK_EX)
        defer { close(descriptor) }

        let size = try byteCount(descriptor)
        // A line torn by a crash stays its own (damaged) line instead of swallowing this one.
        if try endsMidLine(descriptor, size: size) { line.insert(UInt8(ascii: "\n"), at: 0) }
        try files.writeAll(line, to: descriptor, path: file.path)
        try files.check(fsync(descriptor) == 0, "fsync", file.path)

        if size == 0 { files.synchronizeFolder(file.deletingLastPathComponent()) }
    }

    /// Reads every record, oldest first; a missing file holds none.
    ///
    /// - Returns: The records of every account.
    /// - Throws: ``ImagesKitError`` with `store_failure` naming the file and line when a line is
    ///   not a usage record, or when the file can't be read.
    public func usage() async throws -> [UsageRecord] {
        guard let data = try readAll() else { return [] }
        let lines = data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        var records: [UsageRecord] = []
        for (index, line) in lines.enumerated() {
            // The piece after the final newline is empty in a whole file.
            if index == lines.count - 1 && line.isEmpty { break }
            records.append(try decode(line, number: index + 1))
        }
        return records
    }

    private func decode(_ line: Data, number: Int) throws -> UsageRecord {
        do {
            return try APIJSON.decoder().decode(UsageRecord.self, from: line)
        } catch {
            throw ImagesKitError(
                .storeFailure,
                "line \(number) of the usage ledger \(file.path) is not a usage record; "
                    + "repair or remove that line, then retry",
                cause: error, context: ["path": file.path, "line": "\(number)"])
        }
    }

    private func readAll() throws -> Data? {
        let descriptor: Int32
        do {
            descriptor = try openLocked(O_RDONLY, lock: LOCK_SH)
        } catch let error as ImagesKitError where (error.cause as? SystemCallError)?.errno == ENOENT {
            return nil
        }
        defer { close(descriptor) }
        return try readToEnd(descriptor)
    }

    private func readToEnd(_ descriptor: Int32) throws -> Data {
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            try files.check(count >= 0, "read", file.path)
            guard count > 0 else { return data }
            data.append(contentsOf: buffer[..<count])
        }
    }

    private func openLocked(_ flags: Int32, lock operation: Int32) throws -> Int32 {
        let descriptor = open(file.path, flags | O_CLOEXEC | O_NOFOLLOW, 0o600)
        try files.check(descriptor >= 0, "open", file.path)
        while flock(descriptor, operation) != 0 {
            guard errno == EINTR else {
                let code = errno
                close(descriptor)
                throw files.failure("lock", file.path, code)
            }
        }
        return descriptor
    }

    private func byteCount(_ descriptor: Int32) throws -> Int64 {
        var status = stat()
        try files.check(fstat(descriptor, &status) == 0, "stat", file.path)
        return Int64(status.st_size)
    }

    private func endsMidLine(_ descriptor: Int32, size: Int64) throws -> Bool {
        guard size > 0 else { return false }
        var last: UInt8 = 0
        let count = pread(descriptor, &last, 1, off_t(size - 1))
        try files.check(count == 1, "read", file.path)
        return last != UInt8(ascii: "\n")
    }
}
