import Foundation
import ImagesKit

/// A log kept as one small object per entry in a folder of keys that sort in the order the
/// entries were appended: the time in milliseconds, this process's count, and a random tag
/// that keeps two processes' keys apart.
struct S3AppendLog: Sendable {
    let client: S3Client
    let folder: String
    /// How many entries this process appended, shared by the logs of one store.
    private let counter = S3Locked<UInt64>(0)

    init(client: S3Client, folder: String) {
        self.client = client
        self.folder = folder
    }

    /// Writes one entry after every entry already written.
    func append(_ entry: Data) async throws {
        let milliseconds = UInt64(max(0, Date().timeIntervalSince1970 * 1000))
        let count = counter.withLock {
            $0 += 1
            return $0
        }
        let tag = String(UInt32.random(in: 0...UInt32.max), radix: 16)
        let key =
            folder + S3StoreKeys.digits(milliseconds, width: 15) + "-" + S3StoreKeys.digits(count) + "-" + tag + ".json"
        try await client.put(key, entry, contentType: "application/json")
    }

    /// Every entry with its key, oldest first.
    func entries() async throws -> [(key: String, data: Data)] {
        let keys = try await client.list(prefix: folder).map(\.key).filter { $0.hasSuffix(".json") }
        let contents = try await client.getAll(keys)
        return zip(keys, contents).compactMap { key, data in data.map { (key, $0) } }
    }
}

/// Keeps the usage records that bill images as objects in the store's bucket, beside the
/// images, so every process that shares the bucket bills from one ledger.
public final class S3UsageLedger: UsageLedger {
    private let log: S3AppendLog

    /// Opens the ledger of `store`: the `usage/` folder under its prefix.
    public init(store: S3ImageStore) {
        self.log = S3AppendLog(client: store.client, folder: store.keys.usageFolder)
    }

    /// Adds a record after every record already kept.
    public func append(_ usage: UsageRecord) async throws {
        try await log.append(try APIJSON.encoder().encode(usage))
    }

    /// Returns every record, in the order they were appended.
    ///
    /// - Throws: ``ImagesKitError`` with `store_failure` naming the damaged record, if any.
    public func usage() async throws -> [UsageRecord] {
        try await log.entries().map { entry in
            do {
                return try APIJSON.decoder().decode(UsageRecord.self, from: entry.data)
            } catch {
                throw ImagesKitError(
                    .storeFailure,
                    "the usage record \(entry.key) is not a usage record; restore or remove that object, then retry",
                    cause: error, context: ["key": entry.key])
            }
        }
    }
}
