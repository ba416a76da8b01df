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

    @Test("staging left by an ended process is cleared on open; a running writer's staging stays")
    func stagingOfEndedProcessesClearedOnOpen() async throws {
        let store = try await Self.factory.makeStore() as! FileSystemImageStore
        let staging = store.root.appendingPathComponent("staging")
        let writer = try await store.beginContent(for: .private(1))
        try await writer.write(Array(repeating: 1, count: 4096))
        let crashed = staging.appendingPathComponent("999999999.2.data.\(UUID().uuidString)")
        try Data(repeating: 2, count: 4096).write(to: crashed)
        #expect(try FileManager.default.contentsOfDirectory(atPath: staging.path).count == 2)

        let reopened = try FileSystemImageStore(folder: store.root)
        let after = try FileManager.default.contentsOfDirectory(atPath: staging.path)
        #expect(after.count == 1 && !after.contains(crashed.lastPathComponent))
        try await writer.commit(ImageStoreContract.sampleRecord(number: 1))
        #expect(try await reopened.record(.private(1)) != nil)
    }

    @Test("a store whose staging folder is a symbolic link refuses to open and deletes nothing")
    func symbolicLinkRefused() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("store-\(UUID().uuidString)")
        let victim = FileManager.default.temporaryDirectory.appendingPathComponent("victim-\(UUID().uuidString)")
        defer {
            try? FileManager.default.removeItem(at: root)
            try? FileManager.default.removeItem(at: victim)
        }
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: victim, withIntermediateDirectories: true)
        try Data("keep".utf8).write(to: victim.appendingPathComponent("1.a.conf"))
        try FileManager.default.createSymbolicLink(
            at: root.appendingPathComponent("staging"), withDestinationURL: victim)

        #expect(throws: ImagesKitError.self) { try FileSystemImageStore(folder: root) }
        #expect(FileManager.default.fileExists(atPath: victim.appendingPathComponent("1.a.conf").path))
    }

    @Test("two stores over one folder, as two processes would open it, never hand out the same number")
    func numbersUniqueAcrossInstances() async throws {
        let first = try await Self.factory.makeStore() as! FileSystemImageStore
        let second = try FileSystemImageStore(folder: first.root)
        let numbers = try await withThrowingTaskGroup(of: Int.self) { group in
            for index in 0..<200 {
                group.addTask { try await (index % 2 == 0 ? first : second).reserveImageNumber() }
            }
            return try await group.reduce(into: [Int]()) { $0.append($1) }
        }
        #expect(Set(numbers).count == 200)
    }

    @Test("a damaged record file is a store failure naming the file, left out of the list but kept")
    func damagedRecord() async throws {
        let store = try await Self.factory.makeStore() as! FileSystemImageStore
        let path = store.root.appendingPathComponent("records/4.json")
        try Data("{not json".utf8).write(to: path)
        let error = await #expect(throws: ImagesKitError.self) { _ = try await store.record(.private(4)) }
        #expect(error?.code == .storeFailure)
        #expect(error?.message.contains("4.json") == true)
        #expect(try await store.records().isEmpty)
        #expect(try store.damagedRecords()[.private(4)]?.code == .storeFailure)
        #expect(FileManager.default.fileExists(atPath: path.path))
    }
}
