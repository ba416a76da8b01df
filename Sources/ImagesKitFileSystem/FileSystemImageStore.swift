import Foundation
import ImagesKit
import Synchronization

/// An image store in a local folder: the embedded default.
///
/// Layout: `records/<n>.json` holds each record, `content/<n>.data` its committed content,
/// `staging/` content being written, `events.jsonl` the event log, `next-id` the id counter,
/// `locks/<n>.lock` the files processes lock while they work on an image, and
/// `locks/admission.lock` the one they lock while they check quotas.
/// Content is written to `staging/`, flushed, and renamed into `content/` before its record is
/// written; a record file is itself written beside its final name, flushed and renamed. So a
/// reader never sees a record whose content is partial, and everything survives a restart.
public final class FileSystemImageStore: ImageStore {
    /// The store's folder.
    public let root: URL
    /// The region this store's copies live in.
    public let defaultRegion: String

    let files: StoreFiles
    private let logger: ImagesLogger
    private let numberLock = Mutex(())
    private let eventLock = Mutex(())

    /// Opens the store in `folder`, creating it if needed, and clears staging left by processes
    /// that ended without finishing (a crash); staging of running processes is left alone.
    ///
    /// - Parameters:
    ///   - folder: The store's folder.
    ///   - region: The region its copies live in.
    ///   - logger: Where warnings about damaged files go; by default nowhere.
    /// - Throws: ``ImagesKitError`` with `store_failure` when the folder can't be used.
    public init(folder: URL, region: String = "local", logger: ImagesLogger = .silent) throws {
        self.root = folder.standardizedFileURL
        self.defaultRegion = region
        self.logger = logger
        self.files = StoreFiles(root: root)
        try files.prepare()
        files.clearStaging()
        try removeOrphanContent()
    }

    /// Removes content a crash left without a record that describes it: killed between the two
    /// renames of a commit (the record is missing, or still `creating` or `pending_upload`), or
    /// between the two removals of ``remove(_:)``. An image a running process holds is left
    /// alone: it may still write the record.
    private func removeOrphanContent() throws {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: files.contentFolder.path)) ?? []
        for name in names where name.hasSuffix(".data") {
            guard let number = Int(name.dropLast(5)), number > 0 else { continue }
            guard !describesContent(number) else { continue }
            guard let claim = try claim(.private(number)) else { continue }
            defer { claim.release() }
            if !describesContent(number) {
                try files.removeIfPresent(files.contentFile(number))
                files.synchronizeFolder(files.contentFolder)
            }
        }
    }

    /// Whether image `number` has a record with the facts of committed content; a damaged
    /// record counts as one, so its content waits for the record to be repaired.
    private func describesContent(_ number: Int) -> Bool {
        do {
            return try files.readRecord(number)?.content != nil
        } catch {
            return true
        }
    }

    /// Reserves the next image number, kept in `next-id` and never handed out twice, even to
    /// another process using the same folder (the file `next-id.lock` is locked meanwhile).
    public func reserveImageNumber() async throws -> Int {
        try numberLock.withLock { _ in
            try files.withExclusiveLock(on: files.nextIDLockFile) {
                let stored = Int(try files.readText(files.nextIDFile) ?? "") ?? 1
                let number = max(stored, try files.highestRecordNumber() + 1)
                try files.writeAtomically(Data("\(number + 1)\n".utf8), to: files.nextIDFile)
                return number
            }
        }
    }

    /// Writes a record atomically.
    public func save(_ record: StoredImage) async throws {
        let number = try StoreFiles.number(of: record.image.id)
        try files.writeAtomically(try StoreFiles.encode(record), to: files.recordFile(number))
    }

    /// Reads a record, or `nil` when there is none.
    ///
    /// - Throws: ``ImagesKitError`` with `store_failure` naming the file when the record is
    ///   damaged: not a record, or the record of another image.
    public func record(_ id: ImageID) async throws -> StoredImage? {
        guard let number = id.number else { return nil }
        return try files.readRecord(number)
    }

    /// Reads every record that is intact, ordered by id.
    ///
    /// A damaged record is left out with a logged warning, so one damaged file never hides the
    /// other images; ``damagedRecords()`` names every one, and getting it fails with the reason.
    /// Its files stay in the store for an operator to restore or remove.
    public func records() async throws -> [StoredImage] {
        var records: [StoredImage] = []
        for number in try files.recordNumbers() {
            do {
                if let record = try files.readRecord(number) { records.append(record) }
            } catch let error as ImagesKitError {
                logger.warning(
                    "left a damaged record out of the list", ["image": "private/\(number)", "error": error.message])
            }
        }
        return records
    }

    /// Names every record that can't be read, with why.
    ///
    /// - Returns: The damaged records' ids, each with the `store_failure` that reading it gives.
    /// - Throws: ``ImagesKitError`` with `store_failure` when the records folder can't be read.
    public func damagedRecords() throws -> [ImageID: ImagesKitError] {
        var damaged: [ImageID: ImagesKitError] = [:]
        for number in try files.recordNumbers() {
            do {
                _ = try files.readRecord(number)
            } catch let error as ImagesKitError {
                damaged[.private(number)] = error
            }
        }
        return damaged
    }

    /// Removes a record, flushes its folder, then removes its content and flushes that folder;
    /// content a crash leaves without its record is removed when the store is next opened.
    public func remove(_ id: ImageID) async throws {
        let number = try StoreFiles.number(of: id)
        try files.removeIfPresent(files.recordFile(number))
        files.synchronizeFolder(files.recordsFolder)
        try files.removeIfPresent(files.contentFile(number))
        files.synchronizeFolder(files.contentFolder)
    }

    /// Starts writing content into `staging/`.
    public func beginContent(for id: ImageID) async throws -> any ImageContentWriter {
        try FileContentWriter(files: files, number: StoreFiles.number(of: id))
    }

    /// Opens committed content for reading from `offset`.
    public func openContent(for id: ImageID, at offset: UInt64) async throws -> any ImageContentReader {
        let number = try StoreFiles.number(of: id)
        return try FileContentReader(path: files.contentFile(number).path, offset: offset, id: id)
    }

    /// Appends an event as one line of `events.jsonl`.
    public func append(_ event: ImageEvent) async throws {
        var line = try StoreFiles.encode(event)
        line.append(UInt8(ascii: "\n"))
        try eventLock.withLock { _ in try files.appendLine(line, to: files.eventsFile) }
    }

    /// Claims an image with an exclusive `flock` on `locks/<n>.lock`, which every process
    /// sharing the folder honours; the lock goes with the process if it dies.
    public func claim(_ id: ImageID) throws -> (any ImageClaim)? {
        let path = files.lockFile(try StoreFiles.number(of: id)).path
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        try files.check(descriptor >= 0, "open", path)
        while flock(descriptor, LOCK_EX | LOCK_NB) != 0 {
            let code = errno
            guard code == EINTR else {
                close(descriptor)
                guard code == EWOULDBLOCK else { throw files.failure("lock", path, code) }
                return nil
            }
        }
        return FileImageClaim(descriptor: descriptor)
    }

    /// Holds an exclusive `flock` on `locks/admission.lock`, waiting while another process
    /// holds it; quota checks and the saves they allow are short, so the wait is too.
    public func holdAdmission() async throws -> any ImageClaim {
        let path = files.admissionLockFile.path
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        try files.check(descriptor >= 0, "open", path)
        while flock(descriptor, LOCK_EX | LOCK_NB) != 0 {
            let code = errno
            guard code == EINTR || code == EWOULDBLOCK else {
                close(descriptor)
                throw files.failure("lock", path, code)
            }
            if code == EWOULDBLOCK { try? await Task.sleep(for: .milliseconds(2)) }
        }
        return FileImageClaim(descriptor: descriptor)
    }

    /// Reads the event log, oldest first.
    public func events() async throws -> [ImageEvent] {
        guard let data = try? Data(contentsOf: files.eventsFile) else { return [] }
        return data.split(separator: UInt8(ascii: "\n")).compactMap {
            try? JSONDecoder().decode(ImageEvent.self, from: Data($0))
        }
    }
}

/// An image claimed through a locked file; closing the file releases it.
final class FileImageClaim: ImageClaim {
    private let descriptor: Mutex<Int32?>

    init(descriptor: Int32) {
        self.descriptor = Mutex(descriptor)
    }

    deinit {
        release()
    }

    func release() {
        let held = descriptor.withLock { value in
            defer { value = nil }
            return value
        }
        if let held { close(held) }
    }
}
