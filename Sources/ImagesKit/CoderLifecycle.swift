/// Where a codec's encoder or decoder is in its life: taking calls, finished, or stopped by an
/// error. Codecs keep one to refuse calls after `finish` or after a failure with a clear error.
public enum CoderLifecycle: Sendable {
    /// The coder takes calls.
    case open
    /// The coder was finished.
    case finished
    /// An error stopped the coder; it is the cause of later refusals.
    case failed(any Error & Sendable)

    /// The lifecycle after `error` stopped the coder.
    ///
    /// - Parameter error: What stopped it; kept as the cause of later refusals.
    /// - Returns: The failed state, holding the error, or its text when it is not `Sendable`.
    public static func stopped(by error: any Error) -> CoderLifecycle {
        if let known = error as? ImagesKitError { return .failed(known) }
        return .failed(StoppingError(description: String(describing: error)))
    }

    /// Checks that the coder still takes calls.
    ///
    /// - Parameter role: The coder's name in messages, such as `xz decoder`.
    /// - Throws: ``ImagesKitError`` with `invalid_state` after `finish` or after an error.
    public func checkOpen(role: String) throws(ImagesKitError) {
        switch self {
        case .open:
            return
        case .finished:
            throw ImagesKitError(
                .invalidState, "the \(role) was already finished; make a new \(role) for the next stream")
        case .failed(let earlier):
            throw ImagesKitError(
                .invalidState,
                "the \(role) stopped at an earlier error; make a new \(role) and start the stream again",
                cause: earlier)
        }
    }
}

/// The text of an error that stopped a coder, kept when the error itself is not `Sendable`.
public struct StoppingError: Error, Sendable, CustomStringConvertible {
    /// The error's text.
    public let description: String
}
