import Foundation

/// An error raised by ImagesKit: a stable code, a message that says what to do, and the cause.
///
/// Applications branch on ``code``; people read ``message``. The ``cause`` carries what went
/// wrong underneath (a C library's return code, an errno, a tool's output) and ``context``
/// carries facts such as the byte offset where a stream broke.
public struct ImagesKitError: Error, Sendable, CustomStringConvertible {
    /// A stable, machine-readable error code.
    public struct Code: Hashable, Sendable, CustomStringConvertible, ExpressibleByStringLiteral {
        /// The code's stable spelling, for example `image_not_found`.
        public let rawValue: String

        /// Creates a code from its stable spelling.
        public init(_ rawValue: String) {
            self.rawValue = rawValue
        }

        /// Creates a code from a string literal.
        public init(stringLiteral value: String) {
            self.rawValue = value
        }

        /// The code's stable spelling.
        public var description: String { rawValue }

        /// No image has the given id.
        public static let imageNotFound: Code = "image_not_found"
        /// A request field breaks a rule of the product (label, description, tags, size, region).
        public static let invalidArgument: Code = "invalid_argument"
        /// The image is not in a status that allows the operation.
        public static let invalidState: Code = "invalid_state"
        /// The id names something that can't be changed, such as a public distribution image.
        public static let notModifiable: Code = "not_modifiable"
        /// The disk holds no ext3 or ext4 filesystem at its start.
        public static let unsupportedFilesystem: Code = "unsupported_filesystem"
        /// The disk carries a partition table; only unpartitioned disks can be captured.
        public static let partitionedDisk: Code = "partitioned_disk"
        /// The filesystem's metadata is inconsistent or out of range.
        public static let damagedFilesystem: Code = "damaged_filesystem"
        /// Compressed data fails a checksum or its structure is invalid.
        public static let corruptData: Code = "corrupt_data"
        /// Compressed data ends before its last member or stream is complete.
        public static let truncatedData: Code = "truncated_data"
        /// Bytes other than padding follow the last compressed member or stream.
        public static let trailingData: Code = "trailing_data"
        /// The input is in a format ImagesKit does not take here.
        public static let unsupportedFormat: Code = "unsupported_format"
        /// The input carries no data at all.
        public static let emptyInput: Code = "empty_input"
        /// An image's uncompressed data exceeds the per-image limit.
        public static let imageTooLarge: Code = "image_too_large"
        /// An upload file's compressed bytes exceed the per-upload limit.
        public static let uploadTooLarge: Code = "upload_too_large"
        /// The upload window of a pending image has closed.
        public static let uploadWindowExpired: Code = "upload_window_expired"
        /// The target disk is smaller than the image.
        public static let diskTooSmall: Code = "disk_too_small"
        /// Content read back does not match the SHA-256 recorded with the image.
        public static let digestMismatch: Code = "digest_mismatch"
        /// The image store failed to keep or return data.
        public static let storeFailure: Code = "store_failure"
        /// A disk or file could not be read or written.
        public static let ioFailure: Code = "io_failure"
        /// An external filesystem tool (e2fsck, resize2fs) failed.
        public static let toolFailure: Code = "tool_failure"
        /// The operation was cancelled; nothing it started was kept.
        public static let cancelled: Code = "cancelled"
        /// Another operation on the same image is in progress.
        public static let conflict: Code = "conflict"
        /// Decoding would need more memory than the codec's limit allows; refused before allocating.
        public static let memoryLimitExceeded: Code = "memory_limit_exceeded"
        /// The account's manual images would pass its image count or total size quota.
        public static let quotaExceeded: Code = "quota_exceeded"
    }

    /// The stable error code.
    public let code: Code

    /// What went wrong and what to do about it, in a sentence a user can act on.
    public let message: String

    /// The underlying error, when there is one.
    public let cause: (any Error & Sendable)?

    /// Facts that locate the failure, such as `offset` or `path`.
    public let context: [String: String]

    /// Creates an error.
    ///
    /// - Parameters:
    ///   - code: The stable error code.
    ///   - message: What went wrong and what to do about it.
    ///   - cause: The underlying error, if any.
    ///   - context: Facts that locate the failure.
    public init(
        _ code: Code,
        _ message: String,
        cause: (any Error & Sendable)? = nil,
        context: [String: String] = [:]
    ) {
        self.code = code
        self.message = message
        self.cause = cause
        self.context = context
    }

    /// The message, followed by the cause when there is one.
    public var description: String {
        guard let cause else { return message }
        return "\(message) (cause: \(cause))"
    }
}

/// A failed system call, with its name and `errno`.
public struct SystemCallError: Error, Sendable, CustomStringConvertible {
    /// The system call that failed, such as `pwrite`.
    public let call: String

    /// The `errno` value it set.
    public let errno: Int32

    /// Creates the error for a system call and an `errno` value.
    public init(_ call: String, errno: Int32) {
        self.call = call
        self.errno = errno
    }

    /// The call's name with the system's text for the `errno` value.
    public var description: String {
        "\(call): \(String(cString: strerror(errno))) (errno \(errno))"
    }
}

extension ImagesKitError {
    static func io(_ message: String, call: String, errno code: Int32, path: String? = nil) -> ImagesKitError {
        var context: [String: String] = [:]
        if let path { context["path"] = path }
        let full = isNoSpace(code) ? "\(message): \(noSpaceAdvice)" : message
        return ImagesKitError(.ioFailure, full, cause: SystemCallError(call, errno: code), context: context)
    }

    /// What to do when a filesystem is full.
    static let noSpaceAdvice = "the filesystem is full (ENOSPC); free space on it, or choose another, and retry"

    /// Whether `errno` says a filesystem or a quota is full.
    static func isNoSpace(_ code: Int32) -> Bool {
        code == ENOSPC || code == EDQUOT
    }

    /// Whether the error, or an error it wraps, is a full filesystem.
    var isNoSpace: Bool {
        var cause: (any Error)? = self.cause
        while let current = cause {
            if let call = current as? SystemCallError { return Self.isNoSpace(call.errno) }
            cause = (current as? ImagesKitError)?.cause
        }
        return false
    }

    static func notFound(_ id: ImageID) -> ImagesKitError {
        ImagesKitError(.imageNotFound, "no image has id \(id); list the images to find its id")
    }

    static var cancelledOperation: ImagesKitError {
        ImagesKitError(.cancelled, "the operation was cancelled; nothing it started was kept")
    }
}
