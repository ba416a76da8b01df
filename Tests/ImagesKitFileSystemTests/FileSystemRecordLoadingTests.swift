import Foundation
import ImagesKit
import ImagesKitFileSystem
import Testing

/// The folder store loads only records that name the image their file is for, and reports any
/// other record file as damaged instead of handing it out under the wrong id.
@Suite("Folder store record loading")
struct FileSystemRecordLoadingTests {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("records-\(UUID().uuidString)")

    /// A record as the store writes it, for image `id`, with `size` MB.
    static func recordJSON(id: String, size: Int = 2148) -> String {
        #"{"home_region":"us-east","image":{"created":"2026-11-30T00:53:20","id":"\#(id)","label":"web","#
            + #""regions":[{"region":"us-east","status":"available"}],"size":\#(size),"status":"available","#
            + #""type":"manual","updated":"2026-11-30T00:53:20"}}"#
    }

    func storeHolding(_ json: String, inFile number: Int) throws -> FileSystemImageStore {
        let store = try FileSystemImageStore(folder: folder)
        let file = folder.appendingPathComponent("records/\(number).json")
        try Data(json.utf8).write(to: file)
        return store
    }

    @Test(arguments: ["linode/p2", "private/2"])
    func aRecordNamingAnotherImageIsReportedDamaged(_ id: String) async throws {
        let store = try storeHolding(Self.recordJSON(id: id), inFile: 1)
        defer { try? FileManager.default.removeItem(at: folder) }

        let error = await #expect(throws: ImagesKitError.self) { try await store.record(.private(1)) }
        #expect(error?.code == .storeFailure)
        #expect(error?.message.contains("1.json") == true, "\(error?.message ?? "")")
        #expect(error?.message.contains(id) == true, "\(error?.message ?? "")")
        #expect(try await store.records().isEmpty)
        #expect(try store.damagedRecords()[.private(1)]?.message.contains(id) == true)
    }

    @Test func aRecordWithANegativeSizeIsReportedDamaged() async throws {
        let store = try storeHolding(Self.recordJSON(id: "private/3", size: -1), inFile: 3)
        defer { try? FileManager.default.removeItem(at: folder) }

        let error = await #expect(throws: ImagesKitError.self) { try await store.record(.private(3)) }
        #expect(error?.code == .storeFailure)
    }

    @Test func aRecordNamingItsOwnImageLoadsAndSavesBackUnchanged() async throws {
        let store = try storeHolding(Self.recordJSON(id: "private/4"), inFile: 4)
        defer { try? FileManager.default.removeItem(at: folder) }

        let record = try #require(try await store.record(.private(4)))
        try await store.save(record)
        #expect(try await store.record(.private(4)) == record)
        #expect(record.image.totalSize == 2148)
    }
}
