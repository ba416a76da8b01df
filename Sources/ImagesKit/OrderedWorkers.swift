import Foundation

/// Runs jobs on a fixed set of threads and hands them back in the order they were given.
///
/// Codecs use it to compress or decode independent chunks on every core while their callers
/// keep a plain, ordered stream. Each thread makes its own `Worker` (codec state such as a zlib
/// stream) with the factory and is the only one to use it, so C state never crosses threads.
///
/// A job is handed over by ``submit(_:)`` and belongs to the threads until ``next(waiting:)``
/// gives it back; the caller must not touch it in between. At most ``depth`` jobs are out at
/// once, which bounds memory. The threads start with the first job and end at ``close()``; an
/// owner that is dropped must call it, or the threads wait for work forever.
package final class OrderedWorkers<Worker, Job: AnyObject>: @unchecked Sendable {
    /// The most jobs out at once.
    package let depth: Int

    private let threadCount: Int
    private let makeWorker: @Sendable () -> Worker
    private let run: @Sendable (Worker, Job) -> Void
    private let condition = NSCondition()
    private var queued: [Job] = []
    private var outstanding: [Job] = []
    private var finished = Set<ObjectIdentifier>()
    private var started = false
    private var closed = false

    /// Prepares the workers; no thread starts before the first job.
    ///
    /// - Parameters:
    ///   - threads: How many threads run jobs, at least 1.
    ///   - depth: The most jobs out at once; at least `threads`.
    ///   - makeWorker: Makes a thread's own worker, on that thread.
    ///   - run: Does one job with the thread's worker; it records its outcome in the job.
    package init(
        threads: Int, depth: Int, makeWorker: @escaping @Sendable () -> Worker,
        run: @escaping @Sendable (Worker, Job) -> Void
    ) {
        threadCount = max(1, threads)
        self.depth = max(depth, threadCount)
        self.makeWorker = makeWorker
        self.run = run
    }

    /// Whether ``depth`` jobs are out, so the next must wait for ``next(waiting:)``.
    package var isFull: Bool {
        condition.withLock { outstanding.count >= depth }
    }

    /// Whether no job is out.
    package var isEmpty: Bool {
        condition.withLock { outstanding.isEmpty }
    }

    /// Hands a job to the threads; the caller must not be ``isFull``.
    package func submit(_ job: Job) {
        condition.withLock {
            precondition(!closed && outstanding.count < depth, "a job given to full or closed workers")
            outstanding.append(job)
            queued.append(job)
            condition.broadcast()
        }
        startThreadsOnce()
    }

    /// Places a job that needs no work in the order, as if a thread had done it.
    package func submitDone(_ job: Job) {
        condition.withLock {
            precondition(!closed && outstanding.count < depth, "a job given to full or closed workers")
            outstanding.append(job)
            finished.insert(ObjectIdentifier(job))
        }
    }

    /// Gives back the oldest job once it is done.
    ///
    /// - Parameter waiting: Whether to wait for the oldest job when it is still running.
    /// - Returns: The oldest job, or `nil` when none is out or, not waiting, it isn't done.
    package func next(waiting: Bool) -> Job? {
        condition.withLock {
            while let first = outstanding.first {
                let key = ObjectIdentifier(first)
                if finished.remove(key) != nil {
                    outstanding.removeFirst()
                    return first
                }
                guard waiting else { return nil }
                condition.wait()
            }
            return nil
        }
    }

    /// Ends the threads once they finish the job in hand; jobs not started are dropped.
    package func close() {
        condition.withLock {
            closed = true
            queued.removeAll()
            condition.broadcast()
        }
    }

    private func startThreadsOnce() {
        let shouldStart = condition.withLock {
            defer { started = true }
            return !started
        }
        guard shouldStart else { return }
        for index in 0..<threadCount {
            let thread = Thread { [self] in work() }
            thread.name = "imageskit-worker-\(index)"
            thread.start()
        }
    }

    private func work() {
        let worker = makeWorker()
        while let job = take() {
            run(worker, job)
            condition.withLock {
                finished.insert(ObjectIdentifier(job))
                condition.broadcast()
            }
        }
    }

    private func take() -> Job? {
        condition.withLock {
            while queued.isEmpty && !closed { condition.wait() }
            return closed ? nil : queued.removeFirst()
        }
    }
}
