import Foundation
import ImagesKit
import ImagesKitStoreContract
import ImagesKitTestSupport
import Testing

@testable import ImagesKitS3

@Suite("S3 store against a real object store")
struct S3ImageStoreTests {
    static let factory = ImageStoreContract.Factory(
        makeStore: { try await S3TestBucket.store() },
        reopen: { store in try await S3TestBucket.store((store as! S3ImageStore).configuration) })

    @Test("passes the store contract", arguments: ImageStoreContract.checks)
    func contract(_ check: ImageStoreContract.Check) async throws {
        try await check.run(Self.factory)
    }

    @Test("content of several parts uploads in parts and reads back from any offset")
    func multipartRoundTrip() async throws {
        let store = try await S3TestBucket.store()
        let bytes = S3TestBucket.payload(12 << 20 + 12_345)
        let record = S3TestBucket.availableRecord(number: try await store.reserveImageNumber(), bytes: bytes)
        try await store.save(ImageStoreContract.sampleRecord(number: record.image.id.number!))
        let writer = try await store.beginContent(for: record.image.id)
        for start in stride(from: 0, to: bytes.count, by: 1_000_003) {
            try await writer.write(Array(bytes[start..<min(bytes.count, start + 1_000_003)]))
        }
        #expect(try await store.client.pendingUploads(prefix: store.keys.prefix).count == 1)
        try await writer.commit(record)

        #expect(try await store.record(record.image.id) == record)
        #expect(try await store.client.pendingUploads(prefix: store.keys.prefix).isEmpty)
        let whole = try await S3TestBucket.read(store, record.image.id)
        let same = whole == bytes
        #expect(same)
        let tail = try await S3TestBucket.read(store, record.image.id, from: 7_000_001, piece: 65_536)
        let sameTail = tail == Array(bytes[7_000_001...])
        #expect(sameTail)
    }

    /// Part buffers are filled again once their part is sent: with one part in flight every
    /// buffer after the first is a reused one, with three several are taken at once.
    @Test("parts written into reused buffers arrive as written", arguments: [1, 3])
    func reusedPartBuffers(partsInFlight: Int) async throws {
        var configuration = try await S3TestBucket.configuration()
        configuration.partsInFlight = partsInFlight
        let store = try await S3TestBucket.store(configuration)
        let partSize = configuration.partByteCount

        let endingOnABoundary = S3TestBucket.payload(6 * partSize, seed: UInt64(partsInFlight))
        let endingInsideAPart = S3TestBucket.payload(5 * partSize + 777, seed: 99)

        #expect(try await S3TestBucket.roundTrip(store, endingOnABoundary, piece: 1_048_583))
        #expect(try await S3TestBucket.roundTrip(store, endingInsideAPart, piece: partSize + 1))
    }

    @Test("an aborted multipart upload leaves no parts, no content and the record as it was")
    func abortedMultipartLeavesNothing() async throws {
        let store = try await S3TestBucket.store()
        let record = ImageStoreContract.sampleRecord(number: try await store.reserveImageNumber())
        try await store.save(record)
        let writer = try await store.beginContent(for: record.image.id)
        try await writer.write(S3TestBucket.payload(11 << 20))
        #expect(try await store.client.pendingUploads(prefix: store.keys.prefix).count == 1)
        await writer.abort()

        #expect(try await store.client.pendingUploads(prefix: store.keys.prefix).isEmpty)
        #expect(try await store.client.list(prefix: store.keys.contentFolder).isEmpty)
        #expect(try await store.record(record.image.id) == record)
    }

    @Test("a cancelled upload ends its multipart upload")
    func cancelledUploadEnds() async throws {
        let store = try await S3TestBucket.store()
        let record = ImageStoreContract.sampleRecord(number: try await store.reserveImageNumber())
        try await store.save(record)
        let piece = S3TestBucket.payload(1 << 20)
        let outcome = await Task {
            let writer = try await store.beginContent(for: record.image.id)
            for index in 0..<400 {
                if index == 12 { withUnsafeCurrentTask { $0?.cancel() } }
                try await writer.write(piece)
            }
        }.result

        let error = #expect(throws: ImagesKitError.self) { try outcome.get() }
        #expect(error?.code == .cancelled)
        #expect(try await store.client.pendingUploads(prefix: store.keys.prefix).isEmpty)
        #expect(try await store.client.list(prefix: store.keys.contentFolder).isEmpty)
    }

    @Test("a commit whose record can't be written removes the content it completed")
    func failedRecordRemovesContent() async throws {
        let store = try await S3TestBucket.store()
        let bytes = S3TestBucket.payload(6 << 20)
        let number = try await store.reserveImageNumber()
        let writer = try await store.beginContent(for: .private(number))
        try await writer.write(bytes)
        (writer as! S3ContentWriter).beforeRecord = {
            throw ImagesKitError(.storeFailure, "the record could not be written")
        }
        let record = S3TestBucket.availableRecord(number: number, bytes: bytes)
        await #expect(throws: ImagesKitError.self) { try await writer.commit(record) }
        #expect(try await store.record(record.image.id) == nil)

        #expect(try await store.client.list(prefix: store.keys.contentFolder).isEmpty)
        #expect(try await store.client.pendingUploads(prefix: store.keys.prefix).isEmpty)
    }

    @Test("an upload an earlier attempt could not end is ended when the image is written again")
    func leftoverUploadEndedOnNextWrite() async throws {
        let store = try await S3TestBucket.store()
        let record = ImageStoreContract.sampleRecord(number: try await store.reserveImageNumber())
        try await store.save(record)
        let first = try await store.beginContent(for: record.image.id)
        try await first.write(S3TestBucket.payload(6 << 20))
        #expect(try await store.client.pendingUploads(prefix: store.keys.prefix).count == 1)

        let second = try await store.beginContent(for: record.image.id)
        #expect(try await store.client.pendingUploads(prefix: store.keys.prefix).isEmpty)
        await second.abort()
    }

    @Test("abandoned uploads and content no record describes are removed once old enough")
    func abandonedRemoved() async throws {
        var configuration = try await S3TestBucket.configuration()
        let store = try await S3TestBucket.store(configuration)
        let bytes = S3TestBucket.payload(70_000)
        let kept = S3TestBucket.availableRecord(number: try await store.reserveImageNumber(), bytes: bytes)
        let keptWriter = try await store.beginContent(for: kept.image.id)
        try await keptWriter.write(bytes)
        try await keptWriter.commit(kept)
        let orphan = S3TestBucket.availableRecord(number: try await store.reserveImageNumber(), bytes: bytes)
        let orphanWriter = try await store.beginContent(for: orphan.image.id)
        try await orphanWriter.write(bytes)
        try await orphanWriter.commit(orphan)
        try await store.save(ImageStoreContract.sampleRecord(number: orphan.image.id.number!))
        let stuckNumber = try await store.reserveImageNumber()
        let stuck = try await store.beginContent(for: .private(stuckNumber))
        try await stuck.write(S3TestBucket.payload(6 << 20))

        #expect(try await store.removeAbandoned() == (0, 0))
        configuration.abandonedAge = 0
        try await Task.sleep(nanoseconds: 1_500_000_000)  // the service keeps times in whole seconds, rounded up
        let later = try await S3TestBucket.store(configuration)
        let removed = try await later.removeAbandoned()
        #expect(removed.uploads == 1, "ended \(removed.uploads) uploads")
        #expect(removed.contents == 1, "removed \(removed.contents) contents")
        #expect(try await S3TestBucket.read(later, kept.image.id) == bytes)
        #expect(try await later.client.list(prefix: later.keys.contentFolder).count == 1)
    }

    @Test("two stores sharing a prefix never hand out the same number")
    func numbersUniqueAcrossStores() async throws {
        let configuration = try await S3TestBucket.configuration()
        let stores = [try await S3TestBucket.store(configuration), try await S3TestBucket.store(configuration)]
        let numbers = try await withThrowingTaskGroup(of: [Int].self) { group in
            for store in stores {
                group.addTask {
                    var taken: [Int] = []
                    for _ in 0..<8 { taken.append(try await store.reserveImageNumber()) }
                    return taken
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        #expect(Set(numbers).count == 16)
    }

    @Test("a damaged record is left out of the list and named when read")
    func damagedRecordLeftOut() async throws {
        let store = try await S3TestBucket.store()
        let good = ImageStoreContract.sampleRecord(number: 4)
        try await store.save(good)
        try await store.client.put(store.keys.record(5), Data("{not json".utf8))
        try await store.save(ImageStoreContract.sampleRecord(number: 6))
        try await store.client.put(store.keys.record(6), try APIJSON.encoder().encode(good))

        #expect(try await store.records() == [good])
        let error = await #expect(throws: ImagesKitError.self) { try await store.record(.private(5)) }
        #expect(error?.code == .storeFailure && error?.message.contains(store.keys.record(5)) == true)
    }

    @Test("content replaced while it is read fails the read instead of mixing two objects")
    func contentReplacedWhileRead() async throws {
        let store = try await S3TestBucket.store()
        let bytes = S3TestBucket.payload(6 << 20)
        let record = S3TestBucket.availableRecord(number: try await store.reserveImageNumber(), bytes: bytes)
        let writer = try await store.beginContent(for: record.image.id)
        try await writer.write(bytes)
        try await writer.commit(record)
        let reader = try await store.openContent(for: record.image.id, at: 0)
        _ = try await reader.read(maxLength: 1000)

        try await store.client.put(
            store.keys.content(record.image.id.number!), Data(S3TestBucket.payload(6 << 20, seed: 8)))
        let error = await #expect(throws: ImagesKitError.self) {
            while try await !reader.read(maxLength: 1 << 20).isEmpty {}
        }
        #expect(error?.context["s3_code"] == "PreconditionFailed")
        await reader.close()
    }

    @Test("usage records read back in the order appended")
    func usageLedgerKeepsOrder() async throws {
        let store = try await S3TestBucket.store()
        let ledger = S3UsageLedger(store: store)
        let records = (1...12).map { index in
            UsageRecord(
                kind: index.isMultiple(of: 2) ? .ended : .started, image: .private(index), region: "us-east",
                byteCount: UInt64(index) << 20, type: .manual,
                time: Date(timeIntervalSince1970: 1_800_000_000 - Double(index)), account: "acct")
        }
        for record in records { try await ledger.append(record) }
        #expect(try await ledger.usage() == records)
    }
}

@Suite("S3 store refusals from a real object store")
struct S3RefusalTests {
    @Test("a wrong secret is refused with the S3 code, the request id and what to check")
    func wrongSecret() async throws {
        var configuration = try await S3TestBucket.configuration()
        configuration.credentials.secretAccessKey = "not-the-secret"
        let error = await #expect(throws: ImagesKitError.self) {
            _ = try await S3ImageStore.open(configuration: configuration)
        }
        #expect(error?.code == .storeFailure)
        #expect(error?.context["s3_code"] == "SignatureDoesNotMatch")
        #expect(error?.context["request_id"]?.isEmpty == false)
        #expect(error?.message.contains("AWS_SECRET_ACCESS_KEY") == true)
        #expect(error?.message.contains("not-the-secret") == false)
    }

    @Test("a bucket that does not exist is named, with what to do")
    func missingBucket() async throws {
        var configuration = try await S3TestBucket.configuration()
        configuration.bucket = "no-such-bucket-\(UUID().uuidString.prefix(8).lowercased())"
        let error = await #expect(throws: ImagesKitError.self) {
            _ = try await S3ImageStore.open(configuration: configuration)
        }
        #expect(error?.context["s3_code"] == "NoSuchBucket")
        #expect(error?.message.contains(configuration.bucket) == true)
    }
}
