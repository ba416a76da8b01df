import Foundation
import ImagesKit
import Testing

/// `--help`, and where the store is when `--store` is not given.
struct UsageTests {
    let sandbox: Sandbox

    init() throws {
        sandbox = try Sandbox()
    }

    @Test(arguments: [["--help"], ["deploy", "--help"], ["--json", "--help"]])
    func helpPrintsUsageAndSucceeds(arguments: [String]) async throws {
        let result = try await sandbox.imagesctl(arguments)
        #expect(result.status == 0)
        #expect(result.standardError.isEmpty)
        #expect(
            result.standardOutput.hasPrefix(
                "usage: imagesctl [--store DIR | --store s3://BUCKET/PREFIX --s3-endpoint URL] [--json] [--now TIME]"))
        #expect(result.standardOutput.contains("--s3-region") && result.standardOutput.contains("AWS_ACCESS_KEY_ID"))
        let commands = [
            "capture DISK", "upload FILE.img.gz", "list", "show ID", "update ID", "delete ID",
            "server-delete --label L",
            "expire", "replicate ID REGION...", "events [--image ID]", "bill --from TIME --to TIME", "verify FILE",
        ]
        for command in commands {
            #expect(result.standardOutput.contains("  \(command)"), "usage lacks \(command)")
        }
        #expect(result.standardOutput.contains("deploy ID TARGET [--size SIZE]"))
        #expect(result.standardOutput.contains("export ID OUT.img.gz|OUT.img.xz"))
        #expect(result.standardOutput.contains("1500M is 1500 MiB"))
        #expect(!FileManager.default.fileExists(atPath: sandbox.store))
    }

    /// The only test that leaves out `--store`: `XDG_DATA_HOME` and `HOME` both point into the
    /// sandbox, so the user's own store is never touched.
    @Test func theDefaultStoreIsInXDGDataHomeElseInTheHomeFolder() async throws {
        let disk = try await sandbox.makeExt4Disk()
        let dataHome = sandbox.path("data-home")
        let home = sandbox.path("home")
        var environment = Programs.environment
        environment["XDG_DATA_HOME"] = dataHome
        environment["HOME"] = home

        let captured = try await defaultStoreRun(["capture", disk, "--label", "in xdg"], environment)
        #expect(captured.status == 0, "\(captured.standardError)")
        #expect(FileManager.default.fileExists(atPath: dataHome + "/imageskit/records"))
        #expect(!FileManager.default.fileExists(atPath: home))
        let listedThere = try await defaultStoreRun(
            ["--store", dataHome + "/imageskit", "--json", "list"], environment)
        let page = try APIJSON.decoder().decode(ImagePage.self, from: Data(listedThere.standardOutput.utf8))
        #expect(page.data.map(\.label) == ["in xdg"])

        environment["XDG_DATA_HOME"] = ""
        let listed = try await defaultStoreRun(["list"], environment)
        #expect(listed.status == 0, "\(listed.standardError)")
        #expect(listed.standardOutput == "no images\n")
        #expect(FileManager.default.fileExists(atPath: home + "/.local/share/imageskit/records"))
        #expect(!FileManager.default.fileExists(atPath: sandbox.store))
    }

    private func defaultStoreRun(_ arguments: [String], _ environment: [String: String]) async throws -> ProcessResult {
        try await Programs.run(Programs.imagesctl, arguments, environment: environment, outputsIn: sandbox.folder)
    }
}
