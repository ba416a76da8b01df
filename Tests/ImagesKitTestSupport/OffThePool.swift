import Dispatch

/// Runs blocking work (starting servers, running tools) on a Dispatch thread and waits for it
/// without holding one of Swift concurrency's few threads, which every async test shares.
///
/// - Parameter body: The blocking work.
/// - Returns: What `body` returns.
public func offThePool<Value: Sendable>(_ body: @escaping @Sendable () throws -> Value) async throws -> Value {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async {
            continuation.resume(with: Result { try body() })
        }
    }
}
