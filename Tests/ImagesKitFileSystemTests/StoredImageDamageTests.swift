import Foundation
import ImagesKit
import ImagesKitFileSystem
import Testing

/// A stored image whose files changed on disk is caught the next time it is read: the read
/// fails with a typed error, nothing appears at the target or an existing disk keeps every
/// byte, and the store keeps every file, the damaged image's included.
@Suite("Damage to a folder store's files")
struct StoredImageDamageTests {
    @Test("damaged content or records fail every read with their code and change nothing", arguments: Damage.allCases)
    func damageIsCaughtAndNothingChanges(damage: Damage) async throws {
        let fixture = try StoreFixture()
        let damaged = try await fixture.uploadDisk(named: "first", seed: 1)
        let intact = try await fixture.uploadDisk(named: "second", seed: 2)
        try damage.apply(fixture, damaged, intact)
        let before = try fixture.snapshot()

        try await expectDeployOntoADiskRefused(fixture, damaged, damage)
        try await expectNewDiskAndExportRefused(fixture, damaged, damage)
        try await expectListAndGet(fixture, damaged, intact, damage)

        #expect(try fixture.snapshot() == before, "the store's files changed")
        try await fixture.service.export(intact, to: fixture.path("intact.img.gz"))
    }

    @Test("an xz image whose content file is cut short fails to export and leaves no file")
    func truncatedXzContentIsCaught() async throws {
        let fixture = try StoreFixture()
        let damaged = try await fixture.uploadDisk(named: "packed", seed: 3, compressor: "xz")
        try Damage.truncatedContent.apply(fixture, damaged, damaged)

        let error = await #expect(throws: ImagesKitError.self) {
            try await fixture.service.export(damaged, to: fixture.path("out.img.xz"))
        }
        #expect(error?.code == .digestMismatch)
        #expect(try fixture.namesInFolder().allSatisfy { !$0.contains("out.img") })
    }

    private func expectDeployOntoADiskRefused(_ fixture: StoreFixture, _ id: ImageID, _ damage: Damage) async throws {
        let diskPath = fixture.path("existing.img")
        try Data(repeating: 0xA5, count: 16 << 20).write(to: URL(fileURLWithPath: diskPath))
        let original = try Data(contentsOf: URL(fileURLWithPath: diskPath))

        let error = await #expect(throws: ImagesKitError.self) {
            try await fixture.service.deploy(id, to: try FileDisk(path: diskPath, writable: true))
        }
        #expect(error?.code == damage.code, "\(error?.description ?? "")")
        #expect(error?.message.contains("restore") == true, "\(error?.message ?? "")")
        #expect(try Data(contentsOf: URL(fileURLWithPath: diskPath)) == original, "the disk was changed")
    }

    private func expectNewDiskAndExportRefused(_ fixture: StoreFixture, _ id: ImageID, _ damage: Damage) async throws {
        let before = try fixture.namesInFolder()
        let deployError = await #expect(throws: ImagesKitError.self) {
            try await fixture.service.deploy(id, toNewDiskAt: fixture.path("new.img"), byteCount: 16 << 20)
        }
        #expect(deployError?.code == damage.code, "\(deployError?.description ?? "")")
        let exportError = await #expect(throws: ImagesKitError.self) {
            try await fixture.service.export(id, to: fixture.path("out.img.gz"))
        }
        #expect(exportError?.code == damage.code, "\(exportError?.description ?? "")")
        #expect(try fixture.namesInFolder() == before, "a file or partial was left in the target folder")
    }

    private func expectListAndGet(
        _ fixture: StoreFixture, _ damaged: ImageID, _ intact: ImageID, _ damage: Damage
    ) async throws {
        let listed = try await fixture.service.images().data.map(\.id)
        let damagedRecords = try fixture.store.damagedRecords()
        if damage.breaksRecord {
            #expect(listed == [intact])
            #expect(damagedRecords.keys.sorted() == [damaged])
            let error = await #expect(throws: ImagesKitError.self) { try await fixture.service.image(damaged) }
            #expect(error?.code == .storeFailure)
            #expect(error?.message.contains("damaged") == true)
        } else {
            #expect(listed == [damaged, intact])
            #expect(damagedRecords.isEmpty)
            #expect(try await fixture.service.image(damaged).status == .available)
        }
        #expect(try await fixture.service.image(intact).status == .available)
    }
}

/// One way a stored image's files change on disk.
enum Damage: String, CaseIterable, CustomTestStringConvertible {
    case flippedBitInContent
    case flippedBitInHeaderName
    case truncatedContent
    case contentGrownByZeros
    case contentGrownByJunk
    case emptyContent
    case recordOfAnotherImage
    case recordWithAnotherID
    case editedSHA256
    case editedStoredSHA256
    case editedUncompressedSize
    case editedCompressedSize
    case editedSize
    case unsealedEditedSHA256
    case unsealedEditedStoredSHA256
    case unsealedEditedUncompressedSize
    case unsealedEditedCompressedSize
    case garbageRecord
    case emptyRecord

    var testDescription: String { rawValue }

    /// Whether the record itself is damaged, so the image can't be listed or got: edited facts
    /// break their seal, while the same edits in a record made before facts were sealed are
    /// caught by reading the content against them.
    var breaksRecord: Bool {
        [
            .recordOfAnotherImage, .recordWithAnotherID, .editedSize, .garbageRecord, .emptyRecord, .editedSHA256,
            .editedStoredSHA256, .editedUncompressedSize, .editedCompressedSize,
        ].contains(self)
    }

    /// The code every read of the damaged image fails with.
    var code: ImagesKitError.Code { breaksRecord ? .storeFailure : .digestMismatch }

    func apply(_ fixture: StoreFixture, _ id: ImageID, _ other: ImageID) throws {
        let content = fixture.contentFile(id)
        let record = fixture.recordFile(id)
        switch self {
        case .flippedBitInContent: try Self.flipBit(in: content, at: { $0 / 2 })
        // gzip keeps the file name from byte 10 on; only the stored SHA-256 covers it.
        case .flippedBitInHeaderName: try Self.flipBit(in: content, at: { _ in 10 })
        case .truncatedContent: try Self.rewrite(content) { $0.dropLast(100) }
        case .contentGrownByZeros: try Self.rewrite(content) { $0 + Data(count: 512) }
        case .contentGrownByJunk: try Self.rewrite(content) { $0 + Data("junk".utf8) }
        case .emptyContent: try Data().write(to: content)
        case .recordOfAnotherImage: try Data(contentsOf: fixture.recordFile(other)).write(to: record)
        case .recordWithAnotherID: try Self.edit(record) { $0["image", "id"] = "private/77" }
        case .editedSHA256: try Self.edit(record) { $0["content", "sha256"] = String(repeating: "0", count: 64) }
        case .editedStoredSHA256:
            try Self.edit(record) { $0["content", "stored_sha256"] = String(repeating: "f", count: 64) }
        case .editedUncompressedSize: try Self.edit(record) { $0["content", "uncompressed_bytes"] = 8_392_704 }
        case .editedCompressedSize: try Self.edit(record) { $0["content", "compressed_bytes"] = 1000 }
        case .editedSize: try Self.edit(record) { $0["image", "size"] = 2 }
        case .unsealedEditedSHA256, .unsealedEditedStoredSHA256, .unsealedEditedUncompressedSize,
            .unsealedEditedCompressedSize:
            try unsealedEdit(record)
        case .garbageRecord: try Data("{\"image\": [".utf8).write(to: record)
        case .emptyRecord: try Data().write(to: record)
        }
    }

    /// Edits a fact of a record whose facts carry no seal, as records made before sealing.
    private func unsealedEdit(_ record: URL) throws {
        try Self.edit(record) { object in
            object["content", "seal"] = nil
            switch self {
            case .unsealedEditedSHA256: object["content", "sha256"] = String(repeating: "0", count: 64)
            case .unsealedEditedStoredSHA256: object["content", "stored_sha256"] = String(repeating: "f", count: 64)
            case .unsealedEditedUncompressedSize: object["content", "uncompressed_bytes"] = 8_392_704
            default: object["content", "compressed_bytes"] = 1000
            }
        }
    }

    private static func flipBit(in url: URL, at offset: (Int) -> Int) throws {
        try rewrite(url) { data in
            var bytes = [UInt8](data)
            bytes[offset(bytes.count)] ^= 0x10
            return Data(bytes)
        }
    }

    private static func rewrite(_ url: URL, _ change: (Data) -> Data) throws {
        try change(try Data(contentsOf: url)).write(to: url)
    }

    private static func edit(_ url: URL, _ change: (inout JSONObject) -> Void) throws {
        var object = JSONObject(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any])
        change(&object)
        try JSONSerialization.data(withJSONObject: object.value).write(to: url)
    }
}

/// A JSON object with one level of nesting to edit by two keys.
struct JSONObject {
    var value: [String: Any]

    init(_ value: [String: Any]) {
        self.value = value
    }

    subscript(outer: String, inner: String) -> Any? {
        get { (value[outer] as? [String: Any])?[inner] }
        set {
            var nested = value[outer] as? [String: Any] ?? [:]
            nested[inner] = newValue
            value[outer] = nested
        }
    }
}
