import Foundation
import ImagesKit

/// Streams one image's content to the service: in one PUT when it fits in a part, otherwise as
/// a multipart upload with several parts in flight. Each part's SHA-256 is signed, so the
/// service refuses a part whose bytes changed on the way. Nothing is visible until
/// ``commit(_:)`` has completed the upload and written the record; ``abort()`` ends the upload
/// so that no parts stay behind.
final class S3ContentWriter: ImageContentWriter {
    private enum State { case writing, committed, aborted }

    private let client: S3Client
    private let keys: S3StoreKeys
    private let number: Int
    private let logger: ImagesLogger
    private let key: String
    private var state = State.writing
    /// The buffer of the part being filled, a whole part long; sent once `filled` reaches its
    /// end.
    private var pending = Data()
    /// How many bytes of `pending` hold content.
    private var filled = 0
    private var uploadID: String?
    private var nextPartNumber = 1
    private var inFlight: [Task<S3SentPart, any Error>] = []
    private var uploaded: [S3UploadedPart] = []
    /// Buffers of parts the service has taken, kept to hold later parts: a fresh part-sized
    /// buffer comes from the kernel as new pages, and faulting them in costs as much CPU as
    /// sending the bytes.
    private var spareBuffers: [Data] = []
    private var contentIsWhole = false

    /// Bytes written so far.
    private(set) var byteCount: UInt64 = 0
    /// Runs between the content's completion and the record's write; tests make it fail.
    var beforeRecord: (@Sendable () async throws -> Void)?

    private let leftovers: S3Leftovers

    init(client: S3Client, keys: S3StoreKeys, number: Int, logger: ImagesLogger, leftovers: S3Leftovers) {
        self.leftovers = leftovers
        self.client = client
        self.keys = keys
        self.number = number
        self.logger = logger
        self.key = keys.content(number)
    }

    private var partByteCount: Int { client.configuration.partByteCount }

    /// Appends bytes, sending every whole part as it fills; waits while the most parts allowed
    /// are in flight, so memory stays at about that many parts.
    ///
    /// Bytes are copied once, into the part they belong to, and a whole part is handed over as
    /// it is: slicing each part off a longer buffer would copy every byte a second time. The
    /// part's buffer keeps its length while it fills, so that it is written in place.
    func write(_ bytes: [UInt8]) async throws {
        try checkWriting()
        byteCount += UInt64(bytes.count)
        var rest = bytes[...]
        do {
            while !rest.isEmpty {
                if pending.isEmpty { pending = spareBuffers.popLast() ?? Data(count: partByteCount) }
                let taken = rest.prefix(partByteCount - filled)
                pending.replaceSubrange(filled..<filled + taken.count, with: taken)
                filled += taken.count
                rest = rest.dropFirst(taken.count)
                if filled == partByteCount {
                    let part = pending
                    pending = Data()
                    filled = 0
                    try await send(part)
                }
            }
        } catch {
            await abort()
            throw error
        }
    }

    /// Waits for a part in flight, keeping its number and ETag and, for reuse, its buffer.
    private func collect(_ part: Task<S3SentPart, any Error>) async throws {
        let sent = try await part.value
        uploaded.append(sent.part)
        spareBuffers.append(sent.buffer)
    }

    /// Completes the content, then writes the record; when the record can't be written, the
    /// content is removed again.
    func commit(_ record: StoredImage) async throws {
        try checkWriting()
        do {
            try S3Client.checkCancellation()
            try await finishContent()
            contentIsWhole = true
            try await beforeRecord?()
            try await client.put(
                keys.record(number), try APIJSON.encoder().encode(record), contentType: "application/json")
            state = .committed
        } catch {
            await abort()
            throw error
        }
    }

    /// Ends the upload and removes what it wrote; safe to call more than once.
    func abort() async {
        guard state == .writing else { return }
        state = .aborted
        for part in inFlight { part.cancel() }
        for part in inFlight { _ = try? await part.value }
        inFlight = []
        pending = Data()
        filled = 0
        spareBuffers = []
        await cleanUp()
    }

    private func checkWriting() throws {
        guard state == .writing else {
            let what = state == .committed ? "already committed" : "aborted"
            throw ImagesKitError(.invalidState, "the content of private/\(number) was \(what); start a new writer")
        }
    }

    /// Sends the rest: one PUT when no part went yet, else the last part and the completion.
    private func finishContent() async throws {
        guard uploadID != nil else {
            try await client.put(key, pending.prefix(filled))
            pending = Data()
            filled = 0
            return
        }
        if filled > 0 {
            let last = pending.prefix(filled)
            pending = Data()
            filled = 0
            try await send(last)
        }
        for part in inFlight { try await collect(part) }
        inFlight = []
        spareBuffers = []
        try await completeUpload()
    }

    /// Starts the upload if needed and sends one part, after waiting for room.
    private func send(_ part: Data) async throws {
        try S3Client.checkCancellation()
        let uploadID = try await startedUpload()
        guard nextPartNumber <= S3Configuration.maximumPartCount else {
            throw ImagesKitError(
                .storeFailure,
                "the content of private/\(number) needs more than 10,000 parts of \(partByteCount) bytes: "
                    + "raise the part size")
        }
        if inFlight.count >= client.configuration.partsInFlight {
            try await collect(inFlight.removeFirst())
        }
        let job = S3PartJob(client: client, key: key, uploadID: uploadID, number: nextPartNumber)
        nextPartNumber += 1
        inFlight.append(Task { S3SentPart(part: try await job.upload(part), buffer: part) })
    }

    private func startedUpload() async throws -> String {
        if let uploadID { return uploadID }
        let call = S3Call(method: "POST", key: key, query: [(name: "uploads", value: "")])
        guard let id = try await client.document(call).value("UploadId"), !id.isEmpty else {
            throw ImagesKitError(
                .storeFailure,
                "S3 \(call.summary(bucket: client.configuration.bucket)) gave no upload id: check that the service supports multipart upload"
            )
        }
        uploadID = id
        return id
    }

    /// Completes the upload; a completion that went through but whose answer was lost is
    /// recognised by the object's size.
    private func completeUpload() async throws {
        guard let uploadID else { return }
        let parts = uploaded.sorted { $0.number < $1.number }.map {
            "<Part><PartNumber>\($0.number)</PartNumber><ETag>\(S3XMLElement.escaped($0.etag))</ETag></Part>"
        }
        let body = "<CompleteMultipartUpload>\(parts.joined())</CompleteMultipartUpload>"
        let call = S3Call(
            method: "POST", key: key, query: [(name: "uploadId", value: uploadID)],
            headers: [(name: "Content-Type", value: "application/xml")], body: Data(body.utf8))
        do {
            _ = try await client.send(call)
        } catch let error as ImagesKitError where error.context["s3_code"] == "NoSuchUpload" {
            guard try await client.head(key)?.size == byteCount else { throw error }
        }
        self.uploadID = nil
    }

    /// Ends the multipart upload and removes content already completed, in a task of its own
    /// so that a cancelled caller still cleans up.
    private func cleanUp() async {
        let client = client
        let key = key
        let uploadID = uploadID
        let whole = contentIsWhole
        let logger = logger
        let leftovers = leftovers
        self.uploadID = nil
        await Task {
            if let uploadID {
                do {
                    try await client.abortUpload(key: key, uploadID: uploadID)
                } catch {
                    leftovers.add(S3PendingUpload(key: key, uploadID: uploadID, initiated: nil))
                    logger.warning(
                        "could not end an unfinished upload; it is ended at this store's next write",
                        ["key": key, "error": "\(error)"])
                }
            }
            if whole { try? await client.delete(key) }
        }.value
    }
}

/// A part the service accepted.
struct S3UploadedPart: Sendable {
    /// Its number, from 1.
    var number: Int
    /// The ETag the service gave it.
    var etag: String
}

/// A part the service accepted, with the buffer that held its bytes.
struct S3SentPart: Sendable {
    /// Its number and ETag.
    var part: S3UploadedPart
    /// Its bytes, in a buffer the writer fills again with a later part.
    var buffer: Data
}

/// One part to send: where it goes and its number.
struct S3PartJob: Sendable {
    let client: S3Client
    let key: String
    let uploadID: String
    let number: Int

    /// Sends the part with its SHA-256 signed, so the service checks every byte.
    func upload(_ part: Data) async throws -> S3UploadedPart {
        let query = [(name: "partNumber", value: String(number)), (name: "uploadId", value: uploadID)]
        let call = S3Call(method: "PUT", key: key, query: query, body: part)
        let reply = try await client.send(call, payloadHash: S3Client.sha256(of: part))
        guard let etag = reply.header("etag") else {
            throw ImagesKitError(
                .storeFailure,
                "S3 \(call.summary(bucket: client.configuration.bucket)) part \(number) gave no ETag: the service misbehaved"
            )
        }
        return S3UploadedPart(number: number, etag: etag)
    }
}

/// Unfinished uploads a writer could not end, say while the service was unreachable; the store
/// ends them at its next write.
final class S3Leftovers: Sendable {
    private let uploads = S3Locked<[S3PendingUpload]>([])

    /// Remembers an upload to end later.
    func add(_ upload: S3PendingUpload) {
        uploads.withLock { $0.append(upload) }
    }

    private func takeAll() -> [S3PendingUpload] {
        uploads.withLock { held in
            defer { held = [] }
            return held
        }
    }

    /// Ends every remembered upload it can; those it can't stay remembered.
    func endAll(_ client: S3Client) async {
        for upload in takeAll() {
            do {
                try await client.abortUpload(key: upload.key, uploadID: upload.uploadID)
            } catch {
                add(upload)
            }
        }
    }
}
