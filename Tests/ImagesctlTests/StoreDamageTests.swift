import Foundation
import ImagesKit
import Testing

/// Images whose files were damaged in the store: the command line says so and changes nothing.
struct StoreDamageTests {
    let sandbox: Sandbox

    init() throws {
        sandbox = try Sandbox()
    }

    @Test func aDamagedRecordIsLeftOutOfTheListWithAWarningAndShowSaysItIsDamaged() async throws {
        let upload = try await sandbox.gzip(try await sandbox.makeExt4Disk(size: "8M"))
        for label in ["first", "second"] {
            _ = try await sandbox.imagesctl("upload", upload, "--label", label, "--region", "local")
        }
        let record = sandbox.path("store/records/1.json")
        try Data("{\"image\": ".utf8).write(to: URL(fileURLWithPath: record))

        let listed = try await sandbox.imagesctl("list")
        #expect(listed.status == 0)
        #expect(listed.standardOutput.contains("second") && !listed.standardOutput.contains("first"))
        #expect(listed.standardError.contains("warning: private/1 is not listed"), "\(listed.standardError)")
        #expect(listed.standardError.contains("[store_failure]"))

        let shown = try await sandbox.imagesctl("show", "private/1")
        expectFailure(shown, advising: "restored from a backup")
        #expect(shown.standardError.contains("1.json") && shown.standardError.contains("[store_failure]"))
        #expect(try String(contentsOfFile: record, encoding: .utf8) == "{\"image\": ")
    }

    @Test func aFlippedBitInStoredContentLeavesAnExistingTargetAndTheExportPathAlone() async throws {
        let upload = try await sandbox.gzip(try await sandbox.makeExt4Disk(size: "8M"))
        _ = try await sandbox.imagesctl("upload", upload, "--label", "golden", "--region", "local")
        let content = URL(fileURLWithPath: sandbox.path("store/content/1.data"))
        var bytes = [UInt8](try Data(contentsOf: content))
        bytes[bytes.count / 2] ^= 0x01
        try Data(bytes).write(to: content)
        let target = sandbox.path("target.img")
        let old = Data(repeating: 0x5A, count: 16 << 20)
        try old.write(to: URL(fileURLWithPath: target))

        let deployed = try await sandbox.imagesctl("deploy", "private/1", target)
        expectFailure(deployed, advising: "was not touched")
        #expect(deployed.standardError.contains("[digest_mismatch]"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: target)) == old)

        let exported = try await sandbox.imagesctl("export", "private/1", sandbox.path("out.img.gz"))
        expectFailure(exported, advising: "restore it from a backup")
        let names = try FileManager.default.contentsOfDirectory(atPath: sandbox.folder.path)
        #expect(!names.contains { $0.contains("out.img.gz") }, "\(names)")
        #expect(try Data(contentsOf: content) == Data(bytes))
        #expect(try await sandbox.imagesctl("show", "private/1").status == 0)
    }
}
