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

    /// Waits until the capture has saved its `creating` record.
    private func waitForRecord(of number: Int) async throws {
        let path = sandbox.store + "/records/\(number).json"
        for _ in 0..<200 where !FileManager.default.fileExists(atPath: path) {
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(FileManager.default.fileExists(atPath: path), "the capture never started")
    }
}
