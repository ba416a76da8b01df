import Foundation

/// A source of the current time, injected so tests can set it.
public protocol ImagesClock: Sendable {
    /// The current time.
    func now() -> Date
}

/// The system's wall clock.
public struct SystemClock: ImagesClock {
    /// Creates the system clock.
    public init() {}

    /// The current time.
    public func now() -> Date { Date() }
}

/// How serious a log message is, from least to most.
public enum LogLevel: Int, Sendable, Comparable, CaseIterable {
    /// Detail for tracing a single operation.
    case trace
    /// Detail for developers.
    case debug
    /// Normal events worth recording.
    case info
    /// Unusual but expected events.
    case notice
    /// Something went wrong and was handled.
    case warning
    /// An operation failed.
    case error
    /// The library can't go on.
    case critical

    /// Orders levels by seriousness.
    public static func < (lhs: LogLevel, rhs: LogLevel) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// Receives ImagesKit's log messages; an application bridges it to its own logging.
public protocol ImagesLogHandler: Sendable {
    /// Handles one message.
    ///
    /// - Parameters:
    ///   - level: How serious it is.
    ///   - message: A constant sentence; the facts are in `metadata`.
    ///   - metadata: Facts such as `image` and `bytes`.
    func log(level: LogLevel, message: String, metadata: [String: String])
}

/// The logger ImagesKit writes through: silent unless the application gives a handler.
public struct ImagesLogger: Sendable {
    /// The handler messages go to, or `nil` for silence.
    public var handler: (any ImagesLogHandler)?

    /// Creates a logger that forwards to `handler`, or a silent one.
    public init(handler: (any ImagesLogHandler)? = nil) {
        self.handler = handler
    }

    /// A logger that drops every message.
    public static let silent = ImagesLogger()

    /// Logs a message at debug level.
    public func debug(_ message: String, _ metadata: [String: String] = [:]) {
        handler?.log(level: .debug, message: message, metadata: metadata)
    }

    /// Logs a message at info level.
    public func info(_ message: String, _ metadata: [String: String] = [:]) {
        handler?.log(level: .info, message: message, metadata: metadata)
    }

    /// Logs a message at warning level.
    public func warning(_ message: String, _ metadata: [String: String] = [:]) {
        handler?.log(level: .warning, message: message, metadata: metadata)
    }
}

/// How far a long operation has got.
public struct OperationProgress: Hashable, Sendable {
    /// The step of the operation.
    public enum Phase: String, Sendable {
        /// Reading the source disk's used blocks.
        case copying
        /// Checking the filesystem with e2fsck.
        case checking
        /// Shrinking the filesystem to its minimum.
        case shrinking
        /// Compressing and storing the image.
        case storing
        /// Receiving and validating an upload.
        case receiving
        /// Writing the image onto a disk.
        case writing
        /// Growing the filesystem to fill the disk.
        case growing
        /// Writing an exported file.
        case exporting
        /// Copying an image to another region.
        case replicating
    }

    /// The current step.
    public var phase: Phase
    /// Bytes done in this step.
    public var completedBytes: UInt64
    /// Bytes this step will handle, when known.
    public var totalBytes: UInt64?

    /// Creates a progress report.
    public init(phase: Phase, completedBytes: UInt64, totalBytes: UInt64?) {
        self.phase = phase
        self.completedBytes = completedBytes
        self.totalBytes = totalBytes
    }
}

/// Receives progress reports; called often, so it should return quickly.
public typealias ProgressHandler = @Sendable (OperationProgress) -> Void
