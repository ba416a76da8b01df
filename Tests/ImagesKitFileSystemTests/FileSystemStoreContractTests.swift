import Foundation
import ImagesKit
import ImagesKitFileSystem
import ImagesKitStoreContract
import Testing

@Suite("Folder store contract")
struct FileSystemStoreContractTests {
    static let factory = ImageStoreContract.Factory(
        makeStore: {
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("store-\(UUID().uuidString)")
            return try FileSystemImageStore(folder: folder, region: "us-east")
        },
        reopen: { store in
            let folder = (store as! FileSystemImageStore).root
            return try FileSystemImageStore(folder: folder, region: "us-east")
        })

    @Test("passes the store contract", arguments: ImageStoreContract.checks)
    func contract(_ check: ImageStoreContract.Check) async throws {
        try await check.run(Self.factory)
    }

    @Test("staging left by a crash is cleared on open and committed content stays")
    func stagingClearedOnOpen() async throws {
        let store = try await Self.factory.makeStore() as! FileSystemImageStore
        let writer = try await store.beginContent(for: .private(1))
        try await writer.write(Array(repeating: 1, count: 4096))
        let staged = try FileManager.default.contentsOfDirectory(
            atPath: store.root.appendingPathComponent("staging").path)
        #expect(staged.count == 1)

        let reopened = try FileSystemImageStore(folder: store.root)
        let after = try FileManager.default.contentsOfDirectory(
            atPath: reopened.root.appendingPathComponent("staging").path)
        #expect(after.isEmpty)
        await writer.abort()
    }

    @Test("a damaged record file is reported as a store failure naming the file")
    func damagedRecord() async throws {
        let store = try await Self.factory.makeStore() as! FileSystemImageStore
        let path = store.root.appendingPathComponent("records/4.json")
        try Data("{not json".utf8).write(to: path)
        await #expect(throws: ImagesKitError.self) { _ = try await store.record(.private(4)) }
        do {
            _ = try await store.records()
            Issue.record("a damaged record was listed")
        } catch let error as ImagesKitError {
            #expect(error.code == .storeFailure)
            #expect(error.message.contains("4.json"))
        }
    }
}
