import Foundation
import ImagesKit
import Synchronization

/// A usage ledger in memory, for tests and for applications that bill elsewhere.
public final class MemoryUsageLedger: UsageLedger {
    private let records: Mutex<[UsageRecord]>

    /// Creates a ledger holding `records`, oldest first.
    ///
    /// - Parameter records: Records to start with; none by default.
    public init(_ records: [UsageRecord] = []) {
        self.records = Mutex(records)
    }

    /// Adds a record after every record already kept.
    public func append(_ usage: UsageRecord) async throws {
        records.withLock { $0.append(usage) }
    }

    /// Returns every record kept, in the order they were appended.
    public func usage() async throws -> [UsageRecord] {
        records.withLock { $0 }
    }
}
