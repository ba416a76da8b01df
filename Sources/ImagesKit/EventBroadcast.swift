import Foundation
import Synchronization

/// Hands each event the service records to every current subscriber.
final class EventBroadcast: Sendable {
    private let subscribers = Mutex<[UUID: AsyncStream<ImageEvent>.Continuation]>([:])

    /// A stream of the events published from now on, until the stream is dropped.
    func subscribe(bufferingNewest limit: Int) -> AsyncStream<ImageEvent> {
        let (stream, continuation) = AsyncStream.makeStream(
            of: ImageEvent.self, bufferingPolicy: .bufferingNewest(limit))
        let key = UUID()
        continuation.onTermination = { [weak self] _ in
            _ = self?.subscribers.withLock { $0.removeValue(forKey: key) }
        }
        subscribers.withLock { $0[key] = continuation }
        return stream
    }

    /// Sends `event` to every subscriber.
    func publish(_ event: ImageEvent) {
        let current = subscribers.withLock { Array($0.values) }
        for continuation in current { continuation.yield(event) }
    }

    /// Ends every subscriber's stream.
    func finishAll() {
        let current = subscribers.withLock { state in
            defer { state.removeAll() }
            return Array(state.values)
        }
        for continuation in current { continuation.finish() }
    }
}
