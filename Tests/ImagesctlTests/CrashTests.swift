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
        let scratch = sandbox.path("scratch")
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        var environment = Programs.environment
        environment["TMPDIR"] = scratch

        var killed = false
        for mebibytes in [120, 480] where !killed {
            let disk = try await makeBusyDisk(mebibytes: mebibytes)
            killed = try await killCaptureMidway(of: disk, environment: environment)
        }
        try #require(killed, "every capture ended before it could be caught in the middle")

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

    /// Runs a capture of `disk` and kills it with SIGKILL while its record still says `creating`.
    ///
    /// The capture is stopped with SIGSTOP before each look at its record, so what the test sees
    /// is still true when the kill arrives. Returns false when the capture ended first (the store
    /// is then emptied for another try with a bigger disk).
    private func killCaptureMidway(of disk: String, environment: [String: String]) async throws -> Bool {
        let capture = Process()
        capture.executableURL = URL(fileURLWithPath: Programs.imagesctl)
        capture.arguments = ["--store", sandbox.store, "capture", disk, "--label", "killed"]
        capture.environment = environment
        capture.standardOutput = FileHandle.nullDevice
        capture.standardError = FileHandle.nullDevice
        try capture.run()

        while capture.isRunning {
            try await Task.sleep(for: .milliseconds(10))
            kill(capture.processIdentifier, SIGSTOP)
            try await waitUntilStopped(capture.processIdentifier)
            if try recordIsCreating() {
                kill(capture.processIdentifier, SIGKILL)
                capture.waitUntilExit()
                #expect(capture.terminationReason == .uncaughtSignal)
                return true
            }
            kill(capture.processIdentifier, SIGCONT)
        }
        capture.waitUntilExit()
        try FileManager.default.removeItem(atPath: sandbox.store)
        return false
    }

    /// Waits until every thread of process `pid` has stopped, or the process has ended.
    private func waitUntilStopped(_ pid: pid_t) async throws {
        let tasks = "/proc/\(pid)/task"
        while true {
            let threads = (try? FileManager.default.contentsOfDirectory(atPath: tasks)) ?? []
            let states = threads.compactMap { threadState(tasks + "/" + $0 + "/stat") }
            if states.allSatisfy({ $0 == "T" || $0 == "t" || $0 == "Z" || $0 == "X" }) { return }
            try await Task.sleep(for: .milliseconds(1))
        }
    }

    /// The state letter of a `/proc` stat file: the field after the name in parentheses.
    private func threadState(_ path: String) -> Character? {
        guard let stat = try? String(contentsOfFile: path, encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return nil }
        return stat[close...].dropFirst().first { $0 != " " }
    }

    /// Whether the store holds a record of a capture still being made.
    private func recordIsCreating() throws -> Bool {
        let records = sandbox.store + "/records"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: records)) ?? []
        for name in names where name.hasSuffix(".json") {
            let data = try Data(contentsOf: URL(fileURLWithPath: records + "/" + name))
            let stored = try APIJSON.decoder().decode(StoredImage.self, from: data)
            if stored.image.status == .creating { return true }
        }
        return false
    }
}
