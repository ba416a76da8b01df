import Foundation
import ImagesKit

/// Hands out image numbers that no process sharing the bucket hands out again, without the
/// conditional writes some S3 services lack.
///
/// To take number n, a process writes a marker `numbers/n/<random token>` and lists
/// `numbers/n/` until the listing shows the marker: it has the number when its marker is the
/// only one there. Two processes that
/// race both see two markers and both move on, so a number is never taken twice (at worst one
/// is skipped). Markers stay, so numbers are never reused; `next-number` remembers where the
/// search starts, and listings start after it, so a reservation costs a few requests however
/// many images exist.
actor S3NumberReservations {
    private let client: S3Client
    private let keys: S3StoreKeys
    private var next = 0

    init(client: S3Client, keys: S3StoreKeys) {
        self.client = client
        self.keys = keys
    }

    /// Reserves the next free number.
    ///
    /// - Throws: ``ImagesKitError`` with `store_failure` when the service fails, or `conflict`
    ///   when other processes took every number tried.
    func reserve() async throws -> Int {
        var candidate = try await firstFree(from: max(next, try await storedNext()))
        for _ in 0..<64 {
            if try await take(candidate) {
                next = candidate + 1
                try? await client.put(keys.nextNumber, Data("\(next)\n".utf8), contentType: "text/plain")
                return candidate
            }
            try await Task.sleep(nanoseconds: UInt64.random(in: 1_000_000...20_000_000))
            candidate = try await firstFree(from: candidate + 1)
        }
        throw ImagesKitError(
            .conflict, "other processes took every image number tried; retry when fewer images are being created")
    }

    /// The number `next-number` holds, or 1.
    private func storedNext() async throws -> Int {
        guard let data = try await client.get(keys.nextNumber) else { return 1 }
        return Int(String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) ?? 1
    }

    /// The lowest number from `start` up that no marker and no record uses.
    private func firstFree(from start: Int) async throws -> Int {
        let from = max(1, start)
        let markers = try await client.list(
            prefix: keys.numbersFolder, startAfter: keys.numbersFolder + S3StoreKeys.digits(from))
        let records = try await client.list(
            prefix: keys.recordsFolder, startAfter: keys.recordsFolder + S3StoreKeys.digits(from))
        let used =
            markers.compactMap { keys.number(in: $0.key, folder: keys.numbersFolder) }
            + records.compactMap { keys.number(in: $0.key, folder: keys.recordsFolder) }
        return max(from, (used.max() ?? 0) + 1)
    }

    /// Writes this process's marker for `number` and keeps it when it is the only one.
    private func take(_ number: Int) async throws -> Bool {
        let marker = keys.numberFolder(number) + UUID().uuidString.lowercased()
        try await client.put(marker, Data(), contentType: "text/plain")
        let markers: [S3ListedObject]
        do {
            markers = try await client.listShowing(marker, prefix: keys.numberFolder(number))
        } catch {
            try? await client.delete(marker)
            throw error
        }
        guard markers.count == 1 else {
            try await client.delete(marker)
            return false
        }
        return true
    }
}
