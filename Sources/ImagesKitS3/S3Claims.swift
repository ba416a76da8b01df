import Foundation
import ImagesKit

/// Claims on images, and the admission lock, shared by every process that uses the bucket
/// prefix, made of marker objects with an expiry.
///
/// To claim, a process writes `claims/NAME/EXPIRY-TOKEN` and lists `claims/NAME/`: the claim is
/// its own when no other marker there is still live. Two processes that race both see each
/// other and both step back, so two never hold one claim. A held claim writes a fresh marker
/// before the old one expires; a process that dies leaves a marker that expires after
/// ``S3Configuration/claimLease`` and is removed by the next claimant.
struct S3Claims: Sendable {
    let client: S3Client
    let keys: S3StoreKeys
    /// Markers this process released but has not yet removed.
    private let releasing = S3Locked<Set<String>>([])

    init(client: S3Client, keys: S3StoreKeys) {
        self.client = client
        self.keys = keys
    }

    /// Takes the claim `name`, or returns `nil` when another process holds it.
    func take(_ name: String) async throws -> S3Lease? {
        let folder = keys.claimsFolder + name + "/"
        for attempt in 1...3 {
            let marker = Marker(folder: folder, expiry: Date().addingTimeInterval(lease), token: UUID().uuidString)
            try await client.put(marker.key, Data(), contentType: "text/plain")
            let others: [Marker]
            do {
                others = try await liveOthers(in: folder, besides: marker.key)
            } catch {
                try? await client.delete(marker.key)
                throw error
            }
            if others.isEmpty { return S3Lease(marker: marker, claims: self) }
            try await client.delete(marker.key)
            let justWritten = others.allSatisfy { $0.expiry.timeIntervalSinceNow > lease - 2 }
            guard justWritten, attempt < 3 else { return nil }
            try await Task.sleep(nanoseconds: UInt64.random(in: 20_000_000...200_000_000))
        }
        return nil
    }

    /// Waits while another process holds the claim `name`, then takes it.
    func wait(for name: String) async throws -> S3Lease {
        var pause: UInt64 = 5_000_000
        while true {
            if let lease = try await take(name) { return lease }
            try await Task.sleep(nanoseconds: UInt64.random(in: pause / 2...pause))
            pause = min(pause * 2, 500_000_000)
        }
    }

    var lease: TimeInterval { client.configuration.claimLease }

    /// The live markers in `folder` other than `key`, from a listing that shows `key`; expired
    /// ones are removed on the way.
    private func liveOthers(in folder: String, besides key: String) async throws -> [Marker] {
        var live: [Marker] = []
        for object in try await client.listShowing(key, prefix: folder) where object.key != key {
            guard !releasing.withLock({ $0.contains(object.key) }), let marker = Marker(key: object.key, folder: folder)
            else {
                continue
            }
            if marker.expiry < Date() {
                try? await client.delete(marker.key)
            } else {
                live.append(marker)
            }
        }
        return live
    }

    /// Writes a fresh marker for the lease `state` holds at `old` and, once listings show it,
    /// puts it in its place and removes `old`, so that the holder always has a listed marker; when the lease ended meanwhile, the fresh marker goes instead. A renewal
    /// that fails is tried again at the next turn.
    func renew(_ old: Marker, in state: S3LeaseState) async {
        let fresh = Marker(folder: old.folder, expiry: Date().addingTimeInterval(lease), token: old.token)
        do {
            try await client.put(fresh.key, Data(), contentType: "text/plain")
            _ = try await client.listShowing(fresh.key, prefix: fresh.folder)
        } catch {
            return
        }
        let stale = state.replace(old, with: fresh) ? old : fresh
        do {
            try await client.delete(stale.key)
        } catch {
            remove(stale)
        }
    }

    /// Removes a released marker, trying again until it is gone or has expired; until then,
    /// this process's own claims overlook it.
    ///
    /// - Returns: The task that removes it, to wait for.
    @discardableResult
    func remove(_ marker: Marker) -> Task<Void, Never> {
        releasing.withLock { _ = $0.insert(marker.key) }
        let client = client
        let releasing = releasing
        return Task {
            var pause: UInt64 = 200_000_000
            while marker.expiry > Date() {
                do {
                    try await client.delete(marker.key)
                    break
                } catch {
                    try? await Task.sleep(nanoseconds: pause)
                    pause = min(pause * 2, 10_000_000_000)
                }
            }
            releasing.withLock { _ = $0.remove(marker.key) }
        }
    }

    /// A claim marker: its folder, when it expires, and the token of the claim that wrote it.
    struct Marker: Sendable {
        let folder: String
        let expiry: Date
        let token: String

        init(folder: String, expiry: Date, token: String) {
            self.folder = folder
            self.expiry = expiry
            self.token = token
        }

        /// The marker a listed key names, or `nil` for a key of another shape.
        init?(key: String, folder: String) {
            let name = key.dropFirst(folder.count)
            guard key.hasPrefix(folder), let dash = name.firstIndex(of: "-"),
                let milliseconds = UInt64(name[..<dash])
            else { return nil }
            self.init(
                folder: folder, expiry: Date(timeIntervalSince1970: Double(milliseconds) / 1000),
                token: String(name[name.index(after: dash)...]))
        }

        var key: String {
            let milliseconds = UInt64(max(0, expiry.timeIntervalSince1970 * 1000))
            return folder + S3StoreKeys.digits(milliseconds, width: 15) + "-" + token
        }
    }
}

/// A claim this process holds: renewed while held, removed when released.
final class S3Lease: ImageClaim, Sendable {
    private let claims: S3Claims
    private let state: S3LeaseState
    private let renewal: Task<Void, Never>

    init(marker: S3Claims.Marker, claims: S3Claims) {
        self.claims = claims
        let state = S3LeaseState(marker: marker)
        self.state = state
        let every = UInt64(max(1, claims.lease / 4) * 1e9)
        self.renewal = Task {
            while true {
                do {
                    try await Task.sleep(nanoseconds: every)
                } catch {
                    return
                }
                guard let old = state.current() else { return }
                // In a task of its own, so that a release in the middle can't cut it short
                // between writing the fresh marker and recording it.
                await Task { await claims.renew(old, in: state) }.value
            }
        }
    }

    deinit {
        release()
    }

    /// Lets other processes claim the image again; safe to call more than once. The marker is
    /// removed in the background; ``finish()`` waits for it.
    func release() {
        renewal.cancel()
        if let marker = state.end() { claims.remove(marker) }
    }

    /// Releases the claim and waits until its marker is removed, so that a process about to
    /// exit leaves no claim behind; when the service can't be reached, it waits ten seconds at
    /// most and the marker expires with its lease.
    func finish() async {
        renewal.cancel()
        await renewal.value
        guard let marker = state.end() else { return }
        let removal = claims.remove(marker)
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let resumed = S3Locked(false)
            let resumeOnce: @Sendable () -> Void = {
                let first = resumed.withLock { done in
                    defer { done = true }
                    return !done
                }
                if first { continuation.resume() }
            }
            Task {
                await removal.value
                resumeOnce()
            }
            Task {
                try? await Task.sleep(nanoseconds: 10_000_000_000)
                resumeOnce()
            }
        }
    }
}

/// The marker a lease holds now, or `nil` once it is released.
final class S3LeaseState: Sendable {
    private let marker: S3Locked<S3Claims.Marker?>

    init(marker: S3Claims.Marker) {
        self.marker = S3Locked(marker)
    }

    func current() -> S3Claims.Marker? {
        marker.withLock { $0 }
    }

    /// Puts `fresh` in place of `old`; `false` when the lease was released meanwhile.
    func replace(_ old: S3Claims.Marker, with fresh: S3Claims.Marker) -> Bool {
        marker.withLock { held in
            guard held?.key == old.key else { return false }
            held = fresh
            return true
        }
    }

    /// Ends the lease, returning the marker to remove.
    func end() -> S3Claims.Marker? {
        marker.withLock { held in
            defer { held = nil }
            return held
        }
    }
}
