import Foundation
import ImagesKit
import ImagesKitS3
import ImagesKitStoreContract
import ImagesKitTestSupport

/// The object store the tests share, with one bucket, and configurations that give every test
/// a folder of its own.
enum S3TestBucket {
    static let bucket = "imageskit-tests"

    private static let made = NSLock()
    nonisolated(unsafe) private static var bucketMade = false

    /// A configuration for a fresh prefix of the shared bucket, with small parts and ranges so
    /// that a few megabytes already take several of each.
    static func configuration(
        prefix: String = "t-\(UUID().uuidString.prefix(12).lowercased())", server: ObjectStoreServer? = nil
    ) async throws -> S3Configuration {
        let server = try await offThePool { try server ?? ObjectStoreServer.shared() }
        try await offThePool { try makeBucket(on: server) }
        var configuration = S3Configuration(
            endpoint: server.endpoint, region: server.region, bucket: bucket, prefix: prefix,
            credentials: S3Credentials(accessKeyID: server.accessKeyID, secretAccessKey: server.secretAccessKey))
        configuration.partByteCount = S3Configuration.minimumPartByteCount
        configuration.partsInFlight = 2
        configuration.rangeByteCount = 1 << 20
        configuration.rangesInFlight = 3
        configuration.retryPolicy = S3RetryPolicy(maximumAttempts: 3, initialDelay: 0.05, maximumDelay: 0.2)
        return configuration
    }

    /// A store over a fresh prefix.
    static func store(_ configuration: S3Configuration? = nil) async throws -> S3ImageStore {
        if let configuration { return try S3ImageStore(configuration: configuration, region: "us-east") }
        return try S3ImageStore(configuration: try await self.configuration(), region: "us-east")
    }

    private static func makeBucket(on server: ObjectStoreServer) throws {
        guard server === (try? ObjectStoreServer.shared()) else { return try server.makeBucket(bucket) }
        made.lock()
        defer { made.unlock() }
        if !bucketMade {
            try server.makeBucket(bucket)
            bucketMade = true
        }
    }

    /// Bytes that do not repeat, drawn from `seed`.
    static func payload(_ count: Int, seed: UInt64 = 7) -> [UInt8] {
        var random = SplitMix64(seed: seed)
        return random.bytes(count)
    }

    /// Every byte of an image's content from `offset`, read `piece` bytes at a time.
    static func read(
        _ store: any ImageStore, _ id: ImageID, from offset: UInt64 = 0, piece: Int = 300_000
    )
        async throws -> [UInt8]
    {
        let reader = try await store.openContent(for: id, at: offset)
        var bytes: [UInt8] = []
        while true {
            let next = try await reader.read(maxLength: piece)
            if next.isEmpty { break }
            bytes += next
        }
        await reader.close()
        return bytes
    }

    /// Stores `bytes` as a new image's content, written `piece` bytes at a time, and returns
    /// whether its record and every byte came back the same.
    static func roundTrip(_ store: S3ImageStore, _ bytes: [UInt8], piece: Int) async throws -> Bool {
        let record = availableRecord(number: try await store.reserveImageNumber(), bytes: bytes)
        try await store.save(ImageStoreContract.sampleRecord(number: record.image.id.number!))
        let writer = try await store.beginContent(for: record.image.id)
        for start in stride(from: 0, to: bytes.count, by: piece) {
            try await writer.write(Array(bytes[start..<min(bytes.count, start + piece)]))
        }
        try await writer.commit(record)

        let sameRecord = try await store.record(record.image.id) == record
        let sameBytes = try await read(store, record.image.id) == bytes
        return sameRecord && sameBytes
    }

    /// Starts `python3 -c program arguments...`, which must print the port it listens on as
    /// its first line; kills it when it prints anything else.
    static func startPythonServer(_ program: String, _ arguments: [String]) throws -> (process: Process, port: Int) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = ["-c", program] + arguments
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let line = String(decoding: output.fileHandleForReading.availableData, as: UTF8.self)
        guard let port = Int(line.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            throw CocoaError(
                .fileReadCorruptFile, userInfo: [NSLocalizedDescriptionKey: "no port from python3: \(line)"])
        }
        return (process, port)
    }

    /// An `available` record for content of `bytes`.
    static func availableRecord(number: Int, bytes: [UInt8]) -> StoredImage {
        var record = ImageStoreContract.sampleRecord(number: number)
        record.image.status = .available
        record.image.size = Image.megabytes(UInt64(bytes.count))
        record.content = ImageContent(
            format: "gzip", sha256: SHA256Digest.hex(of: bytes), uncompressedByteCount: UInt64(bytes.count),
            compressedByteCount: UInt64(bytes.count), filesystem: "data", isExtFilesystem: false)
        return record
    }
}
