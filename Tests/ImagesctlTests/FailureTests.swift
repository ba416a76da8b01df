import Foundation
import Testing

/// Every failure exits with status 1 and one line on standard error that says what to do.
struct FailureTests {
    let sandbox: Sandbox

    init() throws {
        sandbox = try Sandbox()
    }

    @Test(arguments: [
        (["frob"], "run imagesctl --help"),
        (["--frob", "list"], "run imagesctl --help"),
        (["show"], "run imagesctl --help"),
        (["delete"], "run imagesctl --help"),
        (["update"], "run imagesctl --help"),
        (["capture"], "run imagesctl --help"),
        (["upload"], "run imagesctl --help"),
        (["deploy", "private/1"], "run imagesctl --help"),
        (["export", "private/1"], "run imagesctl --help"),
        (["deploy", "private/1", "target.img", "--size"], "run imagesctl --help"),
        (["list", "--store", "elsewhere"], "run imagesctl --help"),
    ])
    func aMistakenCommandLinePointsToHelp(arguments: [String], advice: String) async throws {
        expectFailure(try await sandbox.imagesctl(arguments), advising: advice)
    }

    @Test(arguments: ["12Q", "-5", "", "0", "1.5G", "M", "12 M"])
    func aBadSizeIsRefusedBeforeAnythingIsMade(size: String) async throws {
        _ = try await sandbox.capture(try await sandbox.makeExt4Disk(), label: "golden")
        let target = sandbox.path("target.img")

        let refused = try await sandbox.imagesctl("deploy", "private/1", target, "--size", size)
        expectFailure(refused, advising: "with an optional K, M, G or T suffix")
        #expect(refused.standardError.contains("'\(size)'"))
        #expect(!FileManager.default.fileExists(atPath: target))
    }

    @Test(arguments: [
        ["show", "private/42"], ["show", "42"], ["delete", "private/42"], ["update", "private/42", "--label", "x"],
        ["deploy", "private/42", "target.img"], ["export", "private/42", "out.img.gz"],
    ])
    func anUnknownImageIDPointsToTheList(arguments: [String]) async throws {
        expectFailure(try await sandbox.imagesctl(arguments), advising: "list the images to find its id")
        #expect(!FileManager.default.fileExists(atPath: sandbox.path("target.img")))
        #expect(!FileManager.default.fileExists(atPath: sandbox.path("out.img.gz")))
    }

    @Test func textThatIsNoImageIDIsRefusedWithAnExample() async throws {
        expectFailure(try await sandbox.imagesctl("show", "web-golden"), advising: "such as private/12")
    }

    @Test func captureOfADiskOfZerosNamesWhatCanBeCaptured() async throws {
        let disk = sandbox.path("zeros.img")
        try Data(count: 4 << 20).write(to: URL(fileURLWithPath: disk))

        let refused = try await sandbox.imagesctl("capture", disk, "--label", "zeros")
        expectFailure(refused, advising: "only ext3 and ext4 can be captured")
        #expect(try await sandbox.imagesctl("list").standardOutput == "no images\n")
    }

    @Test func captureOfAnExt2DiskNamesExt2() async throws {
        let disk = sandbox.path("ext2.img")
        try await sandbox.tool("truncate", "-s", "16M", disk)
        try await sandbox.tool("mkfs.ext2", "-q", "-F", disk)

        let refused = try await sandbox.imagesctl("capture", disk, "--label", "old")
        expectFailure(refused, advising: "only ext3 and ext4 can be captured")
        #expect(refused.standardError.contains("ext2"))
    }

    /// Whether xfsprogs is installed, so an xfs disk can be made.
    static let canMakeXfs = ["/usr/sbin/mkfs.xfs", "/sbin/mkfs.xfs"].contains {
        FileManager.default.isExecutableFile(atPath: $0)
    }

    @Test(.enabled(if: canMakeXfs, "mkfs.xfs is not installed"))
    func captureOfAnXfsDiskNamesXfs() async throws {
        let disk = sandbox.path("xfs.img")
        try await sandbox.tool("truncate", "-s", "300M", disk)
        try await sandbox.tool("mkfs.xfs", "-q", disk)

        let refused = try await sandbox.imagesctl("capture", disk, "--label", "xfs")
        expectFailure(refused, advising: "only ext3 and ext4 can be captured")
        #expect(refused.standardError.contains("xfs"))
    }

    @Test func captureOfAMissingDiskSaysToCheckThePath() async throws {
        let refused = try await sandbox.imagesctl("capture", sandbox.path("absent.img"), "--label", "absent")
        expectFailure(refused, advising: "check that it exists")
    }

    @Test func uploadOfAnUncompressedDiskAsksForGzip() async throws {
        let disk = try await sandbox.makeExt4Disk()

        let refused = try await sandbox.imagesctl("upload", disk, "--label", "raw", "--region", "us-east")
        expectFailure(refused, advising: "upload a raw disk image compressed with gzip")
        #expect(try await sandbox.imagesctl("list").standardOutput == "no images\n")
    }

    @Test func uploadOfATextFileAsksForGzip() async throws {
        let file = sandbox.path("notes.img.gz")
        try Data("these are notes, not a disk\n".utf8).write(to: URL(fileURLWithPath: file))

        let refused = try await sandbox.imagesctl("upload", file, "--label", "notes", "--region", "us-east")
        expectFailure(refused, advising: "upload a raw disk image compressed with gzip")
    }

    @Test func uploadOfATruncatedFileAsksForTheWholeFile() async throws {
        let upload = try await sandbox.gzip(try await sandbox.makeExt4Disk())
        let truncated = sandbox.path("truncated.img.gz")
        try sandbox.contents(upload).prefix(4000).write(to: URL(fileURLWithPath: truncated))

        let refused = try await sandbox.imagesctl("upload", truncated, "--label", "cut", "--region", "us-east")
        expectFailure(refused, advising: "upload the whole file again")
        #expect(try await sandbox.imagesctl("list").standardOutput == "no images\n")
    }

    @Test(arguments: ["--region", "--label"])
    func uploadWithoutARequiredOptionNamesIt(missing: String) async throws {
        let upload = try await sandbox.gzip(try await sandbox.makeExt4Disk())
        var arguments = ["upload", upload]
        for option in ["--label", "--region"] where option != missing {
            arguments += [option, option == "--label" ? "debian" : "us-east"]
        }

        let refused = try await sandbox.imagesctl(arguments)
        expectFailure(refused, advising: "run imagesctl --help")
        #expect(refused.standardError.contains(missing))
        #expect(try await sandbox.imagesctl("list").standardOutput == "no images\n")
    }

    @Test func uploadOfAMissingFileSaysToCheckThePath() async throws {
        let refused = try await sandbox.imagesctl(
            "upload", sandbox.path("absent.img.gz"), "--label", "absent", "--region", "us-east")
        expectFailure(refused, advising: "check the path")
    }
}
