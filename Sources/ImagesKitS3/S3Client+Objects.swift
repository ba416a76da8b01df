import Foundation
import ImagesKit

/// An object a listing named.
struct S3ListedObject: Sendable {
    /// The whole key.
    var key: String
    /// The size in bytes.
    var size: UInt64
    /// When it was last written.
    var lastModified: Date?
}

/// An unfinished multipart upload a listing named.
struct S3PendingUpload: Sendable {
    /// The key it writes.
    var key: String
    /// Its id.
    var uploadID: String
    /// When it began.
    var initiated: Date?
}

extension S3Client {
    /// Every object whose key starts with `prefix` and sorts after `startAfter`, in key order.
    func list(prefix: String, startAfter: String? = nil) async throws -> [S3ListedObject] {
        var objects: [S3ListedObject] = []
        var token: String?
        repeat {
            var query = [(name: "list-type", value: "2"), (name: "prefix", value: prefix)]
            if let startAfter { query.append((name: "start-after", value: startAfter)) }
            if let token { query.append((name: "continuation-token", value: token)) }
            let page = try await document(S3Call(method: "GET", key: nil, query: query))
            objects += page.children("Contents").compactMap { entry in
                guard let key = entry.value("Key") else { return nil }
                let size = UInt64(entry.value("Size") ?? "") ?? 0
                return S3ListedObject(
                    key: key, size: size, lastModified: entry.value("LastModified").flatMap(Self.date))
            }
            token = page.value("IsTruncated") == "true" ? page.value("NextContinuationToken") : nil
        } while token != nil
        return objects
    }

    /// Lists `prefix` until the listing shows `key`, just written, so that what the caller
    /// decides from the listing counts that object and everything written before it; some
    /// services (OpenStack Swift among them) update listings a moment after a write.
    ///
    /// - Throws: ``ImagesKitError`` with `store_failure` when `key` does not show within
    ///   about five seconds.
    func listShowing(_ key: String, prefix: String) async throws -> [S3ListedObject] {
        var pause: UInt64 = 10_000_000
        for _ in 0..<10 {
            let listed = try await list(prefix: prefix)
            if listed.contains(where: { $0.key == key }) { return listed }
            try await Task.sleep(nanoseconds: pause)
            pause = min(pause * 2, 1_000_000_000)
        }
        throw ImagesKitError(
            .storeFailure,
            "the listing of s3://\(configuration.bucket)/\(prefix) still lacks \(key), written seconds ago: the "
                + "service's listings lag behind its writes; retry, and ask its operators if this persists",
            context: ["bucket": configuration.bucket, "key": key])
    }

    /// The object's bytes, or `nil` when there is no such object.
    func get(_ key: String) async throws -> Data? {
        let reply = try await send(S3Call(method: "GET", key: key, accepted: [200, 404]))
        return reply.status == 404 ? nil : reply.body
    }

    /// The bytes of each object, in the order of `keys`, at most `width` requests at a time;
    /// `nil` for those that are gone.
    func getAll(_ keys: [String], width: Int = 8) async throws -> [Data?] {
        try await withThrowingTaskGroup(of: (Int, Data?).self) { group in
            var results = [Data?](repeating: nil, count: keys.count)
            var next = 0
            while next < min(width, keys.count) {
                let index = next
                group.addTask { (index, try await self.get(keys[index])) }
                next += 1
            }
            while let (index, data) = try await group.next() {
                results[index] = data
                if next < keys.count {
                    let index = next
                    group.addTask { (index, try await self.get(keys[index])) }
                    next += 1
                }
            }
            return results
        }
    }

    /// Writes an object whole.
    func put(_ key: String, _ body: Data, contentType: String = "application/octet-stream") async throws {
        _ = try await send(
            S3Call(method: "PUT", key: key, headers: [(name: "Content-Type", value: contentType)], body: body))
    }

    /// Removes an object; removing one that is absent succeeds.
    func delete(_ key: String) async throws {
        _ = try await send(S3Call(method: "DELETE", key: key, accepted: [200, 204, 404]))
    }

    /// The object's size and ETag, or `nil` when there is no such object.
    func head(_ key: String) async throws -> (size: UInt64, etag: String?)? {
        let reply = try await send(S3Call(method: "HEAD", key: key, accepted: [200, 404]))
        guard reply.status == 200 else { return nil }
        return (UInt64(reply.header("content-length") ?? "") ?? 0, reply.header("etag"))
    }

    /// Every unfinished multipart upload of a key starting with `prefix`.
    func pendingUploads(prefix: String) async throws -> [S3PendingUpload] {
        var uploads: [S3PendingUpload] = []
        var markers: (key: String, id: String)?
        repeat {
            var query = [(name: "uploads", value: ""), (name: "prefix", value: prefix)]
            if let markers {
                query += [(name: "key-marker", value: markers.key), (name: "upload-id-marker", value: markers.id)]
            }
            let page = try await document(S3Call(method: "GET", key: nil, query: query))
            uploads += page.children("Upload").compactMap { entry in
                guard let key = entry.value("Key"), let id = entry.value("UploadId") else { return nil }
                return S3PendingUpload(key: key, uploadID: id, initiated: entry.value("Initiated").flatMap(Self.date))
            }
            let truncated = page.value("IsTruncated") == "true"
            markers = nil
            if truncated, let key = page.value("NextKeyMarker"), let id = page.value("NextUploadIdMarker") {
                markers = (key, id)
            }
        } while markers != nil
        return uploads
    }

    /// Ends an unfinished multipart upload and frees its parts; one already gone counts as ended.
    func abortUpload(key: String, uploadID: String) async throws {
        let call = S3Call(
            method: "DELETE", key: key, query: [(name: "uploadId", value: uploadID)], accepted: [200, 204, 404])
        _ = try await send(call)
    }

    /// Sends `call` and parses the XML of its answer.
    func document(_ call: S3Call) async throws -> S3XMLElement {
        let reply = try await send(call)
        guard let document = S3XMLElement.parse(reply.body) else {
            throw ImagesKitError(
                .storeFailure,
                "S3 \(call.summary(bucket: configuration.bucket)) answered with a body that is not XML: check that the endpoint is an S3 service",
                context: ["bucket": configuration.bucket])
        }
        return document
    }

    /// A time as S3 lists write it, such as `2026-12-05T03:00:00.000Z`.
    static func date(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.date(from: text)
    }
}
