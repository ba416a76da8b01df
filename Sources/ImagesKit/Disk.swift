/// A disk to capture from: its size and reads at an offset.
///
/// Reads are synchronous and may block; the service calls them from its own tasks.
public protocol DiskSource: Sendable {
    /// A name for messages and the default label, such as the file name.
    var name: String { get }

    /// The disk's size in bytes.
    var byteCount: UInt64 { get }

    /// Reads up to `buffer.count` bytes at `offset`.
    ///
    /// - Parameters:
    ///   - buffer: Where the bytes go.
    ///   - offset: The byte offset on the disk.
    /// - Returns: The number of bytes read; fewer than asked only at the end of the disk.
    /// - Throws: ``ImagesKitError`` with `io_failure`.
    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws -> Int
}

/// A disk to deploy onto: readable, writable, and resizable where its kind allows.
public protocol DiskTarget: DiskSource {
    /// Writes `bytes` at `offset`.
    ///
    /// - Throws: ``ImagesKitError`` with `io_failure`.
    func write(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws

    /// Changes the disk's size.
    ///
    /// - Parameter byteCount: The new size in bytes.
    /// - Throws: ``ImagesKitError`` when the disk can't take that size.
    func resize(to byteCount: UInt64) throws

    /// Makes every byte of the disk read as zero, so no old content survives.
    ///
    /// Files are emptied and re-extended (sparse); other kinds discard or write zeros.
    /// - Throws: ``ImagesKitError`` with `io_failure`.
    func eraseAll() throws

    /// Flushes written bytes to stable storage.
    ///
    /// - Throws: ``ImagesKitError`` with `io_failure`.
    func synchronize() throws

    /// Starts writing the bytes of `range` to stable storage without waiting for it, so that
    /// a later ``synchronize()`` has less left to wait for. A hint: disks may ignore it.
    func startWriteback(_ range: Range<UInt64>)

    /// Runs `body` with a path that filesystem tools such as `resize2fs` can open.
    ///
    /// A disk that lives in a file passes its own path; an in-memory disk copies itself to a
    /// temporary file and reads the result back.
    /// - Parameter body: Work to do on the path.
    /// - Returns: What `body` returns.
    func withFilePath<Result>(_ body: (String) async throws -> Result) async throws -> Result
}

extension DiskTarget {
    /// Ignores the hint: the disk has nothing to write back early.
    public func startWriteback(_ range: Range<UInt64>) {}
}

extension DiskSource {
    /// Reads exactly `buffer.count` bytes at `offset`, failing at the end of the disk.
    ///
    /// - Throws: ``ImagesKitError`` with `io_failure` when the disk ends first.
    public func readExactly(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws {
        var done = 0
        while done < buffer.count {
            let count = try read(
                into: UnsafeMutableRawBufferPointer(rebasing: buffer[done...]), at: offset + UInt64(done))
            guard count > 0 else {
                throw ImagesKitError(
                    .ioFailure, "disk \(name) ends at byte \(offset + UInt64(done)); expected more data",
                    context: ["offset": String(offset + UInt64(done))])
            }
            done += count
        }
    }

    /// Reads `count` bytes at `offset` into a new array.
    ///
    /// - Throws: ``ImagesKitError`` with `io_failure` when the disk ends first.
    public func readBytes(count: Int, at offset: UInt64) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        try bytes.withUnsafeMutableBytes { try readExactly(into: $0, at: offset) }
        return bytes
    }
}
