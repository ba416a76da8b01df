import Foundation
import ImagesKit
import ImagesKitStoreContract
import Testing

@testable import ImagesKitS3

/// A 6 GB image's content through multipart upload and ranged reads, in bounded memory.
@Suite("S3 store with a 6 GB image")
struct S3LargeImageTests {
    static let runsLongTests = ProcessInfo.processInfo.environment["IMAGESKIT_LONG_TESTS"] == "1"
    static let byteCount: UInt64 = 6_000_000_000

    // Writes and reads 6 GB through the object store, a minute or two; set IMAGESKIT_LONG_TESTS=1.
    @Test(
        "6 GB go up in 716 parts and come back whole, with the process's memory growing less than 256 MiB",
        .enabled(if: runsLongTests, "set IMAGESKIT_LONG_TESTS=1 to stream 6 GB"))
    func sixGigabytes() async throws {
        var configuration = try await S3TestBucket.configuration()
        configuration.partByteCount = 8 << 20
        configuration.partsInFlight = 4
        configuration.rangeByteCount = 8 << 20
        configuration.rangesInFlight = 4
        let store = try await S3TestBucket.store(configuration)
        let before = Self.peakResidentBytes()

        let number = try await store.reserveImageNumber()
        let written = try await Self.write(Self.byteCount, to: store, number: number)
        let read = try await Self.readDigest(store, .private(number))

        #expect(read.count == Self.byteCount)
        #expect(read.digest == written)
        #expect(try await store.client.pendingUploads(prefix: store.keys.prefix).isEmpty)
        let growth = Self.peakResidentBytes() - before
        #expect(growth < 256 << 20, "peak memory grew by \(growth >> 20) MiB")
        try await store.remove(.private(number))
    }

    /// Writes `count` bytes of a 4 MiB random block, each block marked with its number so that
    /// no two are alike; returns their SHA-256.
    static func write(_ count: UInt64, to store: S3ImageStore, number: Int) async throws -> String {
        var block = S3TestBucket.payload(4 << 20, seed: 6)
        let digest = SHA256Digest()
        let writer = try await store.beginContent(for: .private(number))
        var done: UInt64 = 0
        while done < count {
            let size = Int(min(UInt64(block.count), count - done))
            withUnsafeBytes(of: done.littleEndian) { block.replaceSubrange(0..<8, with: $0) }
            let piece = Array(block[..<size])
            piece.withUnsafeBytes { digest.update($0) }
            try await writer.write(piece)
            done += UInt64(size)
        }
        let hex = digest.finalize()
        var record = ImageStoreContract.sampleRecord(number: number)
        record.image.status = .available
        record.image.size = Image.megabytes(count)
        record.content = ImageContent(
            format: "raw", sha256: hex, uncompressedByteCount: count, compressedByteCount: count, filesystem: "data",
            isExtFilesystem: false)
        try await writer.commit(record)
        return hex
    }

    static func readDigest(_ store: S3ImageStore, _ id: ImageID) async throws -> (count: UInt64, digest: String) {
        let reader = try await store.openContent(for: id, at: 0)
        let digest = SHA256Digest()
        var count: UInt64 = 0
        while true {
            let piece = try await reader.read(maxLength: 1 << 20)
            if piece.isEmpty { break }
            piece.withUnsafeBytes { digest.update($0) }
            count += UInt64(piece.count)
        }
        await reader.close()
        return (count, digest.finalize())
    }

    /// The most memory the process has held so far.
    static func peakResidentBytes() -> Int {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return usage.ru_maxrss * 1024
    }
}
