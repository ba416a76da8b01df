import Foundation
import ImagesKit

/// Reads one image's committed content with ranged GETs, several running ahead of the reader,
/// each asking for the object it first saw (`If-Match`), so that content replaced while it is
/// read fails instead of mixing two objects.
final class S3ContentReader: ImageContentReader {
    /// The content's total size in bytes.
    let byteCount: UInt64

    private let client: S3Client
    private let key: String
    private let etag: String?
    private var scheduledEnd: UInt64
    private var ranges: [Task<Data, any Error>] = []
    private var current = Data()
    private var consumed = 0

    /// Opens the object at `key` for reading from `offset`.
    ///
    /// - Throws: ``ImagesKitError`` with `image_not_found` when there is no such object.
    init(client: S3Client, key: String, id: ImageID, offset: UInt64) async throws {
        guard let facts = try await client.head(key) else {
            throw ImagesKitError(.imageNotFound, "image \(id) has no committed content; list the images to find one")
        }
        self.client = client
        self.key = key
        self.byteCount = facts.size
        self.etag = facts.etag
        self.scheduledEnd = min(offset, facts.size)
    }

    deinit {
        for range in ranges { range.cancel() }
    }

    /// Reads the next bytes; an empty array means the end.
    func read(maxLength: Int) async throws -> [UInt8] {
        guard maxLength > 0 else { return [] }
        if consumed == current.count {
            schedule()
            guard !ranges.isEmpty else { return [] }
            current = try await ranges.removeFirst().value
            consumed = 0
            schedule()
        }
        let end = min(current.count, consumed + maxLength)
        let bytes = [UInt8](current[current.startIndex + consumed..<current.startIndex + end])
        consumed = end
        return bytes
    }

    /// Stops the GETs running ahead; safe to call more than once.
    func close() async {
        for range in ranges { range.cancel() }
        ranges = []
        current = Data()
        consumed = 0
    }

    /// Starts GETs until the configured number run ahead or the object is covered.
    private func schedule() {
        let size = UInt64(client.configuration.rangeByteCount)
        while ranges.count < client.configuration.rangesInFlight, scheduledEnd < byteCount {
            let range = S3RangeJob(
                client: client, key: key, etag: etag, start: scheduledEnd, end: min(byteCount, scheduledEnd + size),
                objectSize: byteCount)
            scheduledEnd = range.end
            ranges.append(Task { try await range.fetch() })
        }
    }
}

/// One ranged GET: bytes `start..<end` of an object of `objectSize` bytes.
struct S3RangeJob: Sendable {
    let client: S3Client
    let key: String
    let etag: String?
    let start: UInt64
    let end: UInt64
    let objectSize: UInt64

    /// The range's bytes, checked to be exactly as many as asked for.
    func fetch() async throws -> Data {
        var headers = [(name: "Range", value: "bytes=\(start)-\(end - 1)")]
        if let etag { headers.append((name: "If-Match", value: etag)) }
        let call = S3Call(method: "GET", key: key, headers: headers, accepted: [200, 206])
        let reply = try await client.send(call)
        let body = reply.status == 200 && UInt64(reply.body.count) == objectSize ? bodyPart(reply.body) : reply.body
        guard UInt64(body.count) == end - start else {
            throw ImagesKitError(
                .storeFailure,
                "S3 GET \(key) gave \(body.count) bytes for the \(end - start) of bytes \(start)-\(end - 1): "
                    + "the object changed or the service misbehaved; read it again",
                context: ["bucket": client.configuration.bucket, "key": key])
        }
        return body
    }

    /// The asked-for range of a whole object sent by a service that ignores `Range`.
    private func bodyPart(_ whole: Data) -> Data {
        Data(whole[whole.startIndex + Int(start)..<whole.startIndex + Int(end)])
    }
}
