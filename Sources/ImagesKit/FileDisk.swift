import CImagesKitSystem
import Foundation

/// A disk held in a regular file or a block device, read and written by offset.
///
/// The file descriptor is owned by the instance and closed when it is released.
public final class FileDisk: DiskTarget, @unchecked Sendable {
    /// The path the disk was opened at.
    public let path: String

    /// Whether the path is a block device rather than a regular file.
    public let isBlockDevice: Bool

    private let descriptor: Int32

    /// Opens an existing disk file or block device.
    ///
    /// - Parameters:
    ///   - path: The file or device path.
    ///   - writable: Whether to open it for writing too.
    /// - Throws: ``ImagesKitError`` with `io_failure` when it can't be opened.
    public init(path: String, writable: Bool = false) throws {
        // Non-blocking, so a FIFO or device that would wait for a writer is refused, not waited on.
        let descriptor = open(path, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_NONBLOCK)
        guard descriptor >= 0 else {
            throw ImagesKitError.io(
                "can't open disk \(path); check that it exists and that you may \(writable ? "write" : "read") it",
                call: "open", errno: errno, path: path)
        }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            let code = errno
            close(descriptor)
            throw ImagesKitError.io("can't inspect disk \(path)", call: "fstat", errno: code, path: path)
        }
        let kind = status.st_mode & S_IFMT
        guard kind == S_IFREG || kind == S_IFBLK else {
            close(descriptor)
            throw ImagesKitError(
                .invalidArgument, "\(path) is neither a regular file nor a block device; name a disk or an image file",
                context: ["path": path])
        }
        _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) & ~O_NONBLOCK)
        self.path = path
        self.descriptor = descriptor
        self.isBlockDevice = kind == S_IFBLK
    }

    /// Creates a new sparse disk file of the given size; fails if the path exists.
    ///
    /// - Parameters:
    ///   - path: Where to create the file.
    ///   - byteCount: The disk's size in bytes.
    ///   - permissions: The file's mode; by default its owner's only, since disks hold private data.
    /// - Returns: The new disk, open for writing.
    /// - Throws: ``ImagesKitError`` with `io_failure`.
    public static func create(path: String, byteCount: UInt64, permissions: mode_t = 0o600) throws -> FileDisk {
        let descriptor = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, permissions)
        guard descriptor >= 0 else {
            throw ImagesKitError.io(
                "can't create disk file \(path); check the folder exists and is writable",
                call: "open", errno: errno, path: path)
        }
        close(descriptor)
        do {
            let disk = try FileDisk(path: path, writable: true)
            try disk.resize(to: byteCount)
            return disk
        } catch {
            unlink(path)
            throw error
        }
    }

    deinit {
        close(descriptor)
    }

    /// The file's name without its folder.
    public var name: String { (path as NSString).lastPathComponent }

    /// The size of the file or device in bytes.
    public var byteCount: UInt64 {
        let end = lseek(descriptor, 0, SEEK_END)
        return end < 0 ? 0 : UInt64(end)
    }

    /// Reads up to `buffer.count` bytes at `offset`.
    public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws -> Int {
        while true {
            let count = pread(descriptor, buffer.baseAddress, buffer.count, off_t(offset))
            if count >= 0 { return count }
            if errno == EINTR { continue }
            throw ImagesKitError.io(
                "can't read disk \(path) at byte \(offset)", call: "pread", errno: errno, path: path)
        }
    }

    /// Writes all of `bytes` at `offset`.
    public func write(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws {
        var done = 0
        while done < bytes.count {
            let count = pwrite(descriptor, bytes.baseAddress! + done, bytes.count - done, off_t(offset) + off_t(done))
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else {
                throw ImagesKitError.io(
                    "can't write disk \(path) at byte \(offset + UInt64(done)); check free space and permissions",
                    call: "pwrite", errno: errno, path: path)
            }
            done += count
        }
    }

    /// Sets a file's size; a block device only accepts its own size.
    public func resize(to byteCount: UInt64) throws {
        if isBlockDevice {
            guard byteCount == self.byteCount else {
                throw ImagesKitError(
                    .invalidArgument, "block device \(path) holds \(self.byteCount) bytes and can't be resized",
                    context: ["path": path])
            }
            return
        }
        guard byteCount <= UInt64(off_t.max) else {
            throw ImagesKitError(
                .invalidArgument, "\(byteCount) bytes is larger than any file can be; choose a smaller disk size",
                context: ["path": path])
        }
        guard ftruncate(descriptor, off_t(byteCount)) == 0 else {
            throw ImagesKitError.io("can't resize disk file \(path)", call: "ftruncate", errno: errno, path: path)
        }
    }

    /// Makes every byte read as zero: a file is emptied and re-extended, a device is discarded.
    public func eraseAll() throws {
        let size = byteCount
        if isBlockDevice {
            try zero(0..<size)
        } else {
            try resize(to: 0)
            try resize(to: size)
        }
    }

    /// Flushes written data to stable storage.
    public func synchronize() throws {
        guard fsync(descriptor) == 0 else {
            throw ImagesKitError.io("can't flush disk \(path)", call: "fsync", errno: errno, path: path)
        }
    }

    /// Asks the kernel to start writing `range` to storage now (`sync_file_range`), so that
    /// writeback overlaps the rest of a deploy instead of all waiting for ``synchronize()``.
    public func startWriteback(_ range: Range<UInt64>) {
        guard !range.isEmpty else { return }
        _ = imageskit_sync_file_range(
            descriptor, Int64(range.lowerBound), Int64(range.count), UInt32(IMAGESKIT_SYNC_FILE_RANGE_WRITE))
    }

    /// Runs `body` with the disk's own path.
    public func withFilePath<Result>(_ body: (String) async throws -> Result) async throws -> Result {
        try await body(path)
    }

    /// Makes a range read as zeros: its storage is released where the filesystem or device
    /// allows, and zeros are written where it does not.
    ///
    /// - Parameter range: The bytes to zero; the disk keeps its size.
    /// - Throws: ``ImagesKitError`` with `io_failure`.
    public func zero(_ range: Range<UInt64>) throws {
        let punch = IMAGESKIT_FALLOC_FL_PUNCH_HOLE | IMAGESKIT_FALLOC_FL_KEEP_SIZE
        guard !range.isEmpty else { return }
        if imageskit_fallocate(descriptor, punch, Int64(range.lowerBound), Int64(range.count)) == 0 { return }
        let zeros = [UInt8](repeating: 0, count: 1 << 20)
        var offset = range.lowerBound
        while offset < range.upperBound {
            let count = Int(min(UInt64(zeros.count), range.upperBound - offset))
            try zeros.withUnsafeBytes { try write(UnsafeRawBufferPointer(rebasing: $0[..<count]), at: offset) }
            offset += UInt64(count)
        }
    }
}
