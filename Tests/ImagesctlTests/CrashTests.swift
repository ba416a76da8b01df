import Foundation
import ImagesKit
import Testing

/// A capture killed with SIGKILL leaves nothing behind once imagesctl runs again.
struct CrashTests {
    let sandbox: Sandbox

    init() throws {
        sandbox = try Sandbox()
    }

    /// An ext4 disk holding `mebibytes` MiB of random data, slow enough to capture to be killed
    /// in the middle.
    func makeBusyDisk(mebibytes: Int) async throws -> String {
        let content = sandbox.path("busy.content")
        try FileManager.default.createDirectory(atPath: content, withIntermediateDirectories: true)
        let result = try await Programs.run(
            "/usr/bin/env", ["head", "-c", "\(mebibytes << 20)", "/dev/urandom"], outputsIn: sandbox.folder,
            standardOutputPath: content + "/random.bin")
        #expect(result.status == 0)
        let disk = sandbox.path("busy.img")
        try await sandbox.tool("truncate", "-s", "\(mebibytes * 2)M", disk)
        try await Programs.require("mkfs.ext4", ["-q", "-F", "-d", content, disk], outputsIn: sandbox.folder)
        return disk
    }

    @Test func aKilledCaptureLeavesNoImageAndNoFiles() async throws {
        let disk = try await makeBusyDisk(mebibytes: 120)
        let scratch = sandbox.path("scratch")
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        var environment = Programs.environment
        environment["TMPDIR"] = scratch

        let capture = Process()
        capture.executableURL = URL(fileURLWithPath: Programs.imagesctl)
        capture.arguments = ["--store", sandbox.store, "capture", disk, "--label", "killed"]
        capture.environment = environment
        capture.standardOutput = FileHandle.nullDevice
        capture.standardError = FileHandle.nullDevice
        try capture.run()
        try await waitForRecord(of: 1)
        try await Task.sleep(for: .milliseconds(300))
        kill(capture.processIdentifier, SIGKILL)
        capture.waitUntilExit()
        #expect(capture.terminationReason == .uncaughtSignal)

        let listed = try await Programs.run(
            Programs.imagesctl, ["--store", sandbox.store, "--json", "list"], environment: environment,
            outputsIn: sandbox.folder)
        let page = try APIJSON.decoder().decode(ImagePage.self, from: Data(listed.standardOutput.utf8))
        #expect(page.results == 0)
        let events = try await sandbox.imagesctlJSON(EventList.self, "events").data
        #expect(
            events.map { "\($0.action.rawValue) \($0.status.rawValue)" } == [
                "disk_imagize started", "disk_imagize failed",
            ])
        #expect(events.last?.message?.contains("interrupted") == true)
        for folder in ["staging", "content", "records"] {
            #expect(try FileManager.default.contentsOfDirectory(atPath: sandbox.store + "/" + folder).isEmpty)
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch).isEmpty)
    }

    /// The store as an upload killed between the two renames of its commit leaves it: the record
    /// still `pending_upload`, the content already in place, and a record being replaced in
    /// staging by a process that has ended.
    func leaveCutOffUpload(number: Int) async throws {
        _ = try await sandbox.imagesctl("list")
        let pending = StoredImage(
            image: Image(id: .private(number), label: "cut off", created: Date(), status: .pendingUpload),
            homeRegion: "local", uploadDeadline: Date().addingTimeInterval(3600))
        try APIJSON.encoder().encode(pending).write(to: URL(fileURLWithPath: sandbox.store + "/records/\(number).json"))
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: sandbox.store + "/content/\(number).data"))
        try Data("{".utf8).write(to: URL(fileURLWithPath: sandbox.store + "/staging/999999999.\(number).json.x"))
    }

    @Test func aCutOffUploadKeepsNoBytesAndTakesTheSameFileAgain() async throws {
        try await leaveCutOffUpload(number: 3)
        let listed = try await sandbox.imagesctlJSON(ImagePage.self, "list")
        #expect(listed.data.map(\.status) == [.pendingUpload])
        for folder in ["staging", "content"] {
            #expect(try FileManager.default.contentsOfDirectory(atPath: sandbox.store + "/" + folder).isEmpty)
        }

        let upload = try await sandbox.gzip(try await sandbox.makeExt4Disk())
        let again = try await sandbox.imagesctl("--json", "upload", upload, "--image", "private/3")
        #expect(again.status == 0, "\(again.standardError)")
        #expect(try await sandbox.imagesctlJSON(Image.self, "show", "private/3").status == .available)
        let missing = try await sandbox.imagesctl("upload", upload, "--image", "private/9")
        #expect(missing.status == 1 && missing.standardError.contains("image_not_found"), "\(missing.standardError)")
    }

    /// Waits until the capture has saved its `creating` record.
    private func waitForRecord(of number: Int) async throws {
        let path = sandbox.store + "/records/\(number).json"
        for _ in 0..<200 where !FileManager.default.fileExists(atPath: path) {
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(FileManager.default.fileExists(atPath: path), "the capture never started")
    }
}
