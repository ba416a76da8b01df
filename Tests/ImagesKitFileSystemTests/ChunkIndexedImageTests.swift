import Foundation
import ImagesKit
import ImagesKitFileSystem
import ImagesKitGzip
import Testing

/// Captured images carry an index of their gzip chunks; deploys use it to inflate in parallel,
/// and an index that was edited or does not fit its content never changes what is deployed.
@Suite("Chunk-indexed images")
struct ChunkIndexedImageTests {
    static let chunk = 64 << 10

    /// A store whose gzip codec writes 64 KiB chunks, holding one captured 8 MiB ext4 disk.
    static func capturedImage() async throws -> (StoreFixture, ImageID) {
        let fixture = try StoreFixture(gzip: GzipCompressor(threads: 2, chunkByteCount: chunk))
        let disk = try fixture.makeExt4Disk(named: "source", seed: 21, randomBytes: 2 << 20)
        let image = try await fixture.service.capture(CaptureRequest(label: "source"), from: try FileDisk(path: disk))
        return (fixture, image.id)
    }

    static func content(_ fixture: StoreFixture, _ id: ImageID) async throws -> ImageContent {
        try #require(try await fixture.store.record(id)?.content)
    }

    @Test("a captured image has an index that fits it and deploys byte for byte as gzip reads it")
    func capturedImageDeploysThroughItsIndex() async throws {
        let (fixture, id) = try await Self.capturedImage()
        let content = try await Self.content(fixture, id)
        let index = try #require(content.chunkIndex)
        #expect(index.chunkByteCount == Self.chunk)
        #expect(index.compressedByteCounts.count > 10)
        #expect(
            index.mismatch(
                compressedByteCount: content.compressedByteCount,
                uncompressedByteCount: content.uncompressedByteCount) == nil)

        let target = fixture.path("deployed.img")
        try await fixture.service.deploy(id, toNewDiskAt: target)
        let inflated = fixture.path("inflated.img")
        try Tool.run("/bin/sh", "-c", "gzip -dc '\(fixture.contentFile(id).path)' > '\(inflated)'")
        #expect(FileManager.default.contentsEqual(atPath: target, andPath: inflated))
    }

    @Test("an edited index breaks the record's seal: the image can't be read and nothing changes")
    func editedIndexBreaksTheSeal() async throws {
        let (fixture, id) = try await Self.capturedImage()
        try editIndex(fixture, id, keepSeal: true)
        let before = try fixture.snapshot()

        let error = await #expect(throws: ImagesKitError.self) { try await fixture.service.image(id) }
        #expect(error?.code == .storeFailure)
        #expect(try fixture.store.damagedRecords().keys.sorted() == [id])
        #expect(try fixture.snapshot() == before)
    }

    @Test("without a seal, an index moved around fails the deploy as damaged and leaves no disk")
    func movedIndexFailsTheDeploy() async throws {
        let (fixture, id) = try await Self.capturedImage()
        try editIndex(fixture, id, keepSeal: false)
        let before = try fixture.namesInFolder()

        let error = await #expect(throws: ImagesKitError.self) {
            try await fixture.service.deploy(id, toNewDiskAt: fixture.path("new.img"))
        }
        #expect(error?.code == .digestMismatch, "\(error?.description ?? "")")
        #expect(try fixture.namesInFolder() == before)
    }

    @Test("without a seal, an index that does not add up to the content marks the record damaged")
    func indexThatDoesNotAddUpIsDamage() async throws {
        let (fixture, id) = try await Self.capturedImage()
        try StoredFile.editJSON(fixture.recordFile(id)) { object in
            object["content", "seal"] = nil
            var index = object["content", "chunk_index"] as? [String: Any] ?? [:]
            var sizes = index["compressed_chunk_bytes"] as? [Int] ?? []
            sizes[0] += 1
            index["compressed_chunk_bytes"] = sizes
            object["content", "chunk_index"] = index
        }
        let error = await #expect(throws: ImagesKitError.self) { try await fixture.service.image(id) }
        #expect(error?.code == .storeFailure)
        #expect(error?.message.contains("chunk index") == true, "\(error?.message ?? "")")
    }

    /// Moves bytes from the first data chunk to its neighbour in the index, keeping the total.
    private func editIndex(_ fixture: StoreFixture, _ id: ImageID, keepSeal: Bool) throws {
        try StoredFile.editJSON(fixture.recordFile(id)) { object in
            if !keepSeal { object["content", "seal"] = nil }
            var index = object["content", "chunk_index"] as? [String: Any] ?? [:]
            var sizes = index["compressed_chunk_bytes"] as? [Int] ?? []
            let large = sizes.indices.dropLast().first { sizes[$0] > 1000 } ?? 0
            sizes[large] -= 7
            sizes[large + 1] += 7
            index["compressed_chunk_bytes"] = sizes
            object["content", "chunk_index"] = index
        }
    }
}

/// Edits a store's JSON files as an operator or a fault might.
enum StoredFile {
    static func editJSON(_ url: URL, _ change: (inout JSONObject) -> Void) throws {
        let parsed = try JSONSerialization.jsonObject(with: Data(contentsOf: url))
        var object = JSONObject(try #require(parsed as? [String: Any]))
        change(&object)
        try JSONSerialization.data(withJSONObject: object.value).write(to: url)
    }
}
