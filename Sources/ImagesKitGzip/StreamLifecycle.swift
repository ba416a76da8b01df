import ImagesKit

/// Where an encoder or decoder is in its life: open, finished, or stopped by an error.
enum StreamLifecycle {
    case open
    case finished
    case failed(any Error & Sendable)

    /// The lifecycle after `error` stopped the stream.
    ///
    /// - Parameter error: What stopped it; kept as the cause of later refusals.
    /// - Returns: The failed state, holding the error or, when it is not `Sendable`, its text.
    static func stopped(by error: any Error) -> StreamLifecycle {
        if let known = error as? ImagesKitError { return .failed(known) }
        return .failed(EarlierFailure(description: String(describing: error)))
    }

    /// Checks that the stream still takes calls.
    ///
    /// - Parameter role: The object's name in messages, such as `gzip decoder`.
    /// - Throws: ``ImagesKitError`` with `invalid_state` after `finish` or after an earlier error.
    func checkOpen(role: String) throws(ImagesKitError) {
        switch self {
        case .open:
            return
        case .finished:
            throw ImagesKitError(
                .invalidState,
                "the \(role) was already finished; make a new \(role) for the next stream")
        case .failed(let earlier):
            throw ImagesKitError(
                .invalidState,
                "the \(role) stopped at an earlier error; make a new \(role) and start the stream "
                    + "again",
                cause: earlier)
        }
    }
}

/// The text of an error that stopped a stream, kept when the error itself is not `Sendable`.
struct EarlierFailure: Error, Sendable, CustomStringConvertible {
    /// The error's text.
    let description: String
}
