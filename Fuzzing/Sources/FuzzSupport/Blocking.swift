import Dispatch

/// Runs async work to its end from synchronous code, as a libFuzzer callback must.
///
/// - Parameter work: The work; it must not need the calling thread.
/// - Returns: What `work` returns.
/// - Throws: What `work` throws.
public func blocking<Result: Sendable>(_ work: @escaping @Sendable () async throws -> Result) throws -> Result {
    let box = ResultBox<Result>()
    let done = DispatchSemaphore(value: 0)
    Task {
        do {
            box.result = .success(try await work())
        } catch {
            box.result = .failure(error)
        }
        done.signal()
    }
    done.wait()
    return try box.result!.get()
}

/// Carries a result from the task to the waiting thread; the semaphore orders the two accesses.
private final class ResultBox<Value: Sendable>: @unchecked Sendable {
    var result: Swift.Result<Value, any Error>?
}
