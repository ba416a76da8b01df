import Foundation
import ImagesKit
import Synchronization

/// A clock that reads whatever time a test sets.
public final class SettableClock: ImagesClock {
    private let current: Mutex<Date>

    /// Creates a clock reading `time`.
    ///
    /// - Parameter time: The time it reads until set again.
    public init(_ time: Date) {
        current = Mutex(time)
    }

    /// The time it was set to.
    public func now() -> Date {
        current.withLock { $0 }
    }

    /// Sets the time it reads.
    ///
    /// - Parameter time: The new time.
    public func set(_ time: Date) {
        current.withLock { $0 = time }
    }

    /// Moves the time forward.
    ///
    /// - Parameter interval: Seconds to add.
    public func advance(by interval: TimeInterval) {
        current.withLock { $0 = $0.addingTimeInterval(interval) }
    }
}
