import Foundation

/// A lock that tasks take in turn, waiting without blocking a thread.
///
/// Held only for short steps (a quota check and the save that follows it), so waiting for it
/// is not cancellable.
///
/// Its state sits behind an `NSLock` (a pthread mutex) rather than `Synchronization.Mutex`,
/// whose futex-based locking on Linux ThreadSanitizer can't see: there it reported the guarded
/// accesses as races.
final class AsyncLock: @unchecked Sendable {
    private struct State {
        var isLocked = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let guardLock = NSLock()
    private var state = State()

    /// Runs `body` while holding the lock.
    func withLock<Result>(_ body: () async throws -> Result) async rethrows -> Result {
        await lock()
        defer { unlock() }
        return try await body()
    }

    private func lock() async {
        await withCheckedContinuation { continuation in
            let acquired = guardLock.withLock {
                guard state.isLocked else {
                    state.isLocked = true
                    return true
                }
                state.waiters.append(continuation)
                return false
            }
            if acquired { continuation.resume() }
        }
    }

    private func unlock() {
        let next = guardLock.withLock {
            guard !state.waiters.isEmpty else {
                state.isLocked = false
                return CheckedContinuation<Void, Never>?.none
            }
            return state.waiters.removeFirst()
        }
        next?.resume()
    }
}
