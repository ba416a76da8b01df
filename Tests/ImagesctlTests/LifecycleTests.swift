import Foundation
import ImagesKit
import Testing

/// Uploading, changing, deleting and exporting images from the command line.
struct LifecycleTests {
    let sandbox: Sandbox

    init() throws {
        sandbox = try Sandbox()
    }

    @Test func uploadOfAGzippedDiskMakesAnAvailableImageInTheRegionAskedFor() async throws {
        let disk = try await sandbox.makeExt4Disk()
        let upload = try await sandbox.gzip(disk)

        let uploaded = try await sandbox.imagesctl(
            "upload", upload, "--label", "debian", "--region", "us-east", "--description", "from a file",
            "--tag", "linux", "--tag", "base")
        #expect(uploaded.status == 0 && uploaded.standardError.isEmpty, "\(uploaded.standardError)")
        #expect(RecordOutputTests.fields(of: uploaded.standardOutput)["size"] == "34 MB")

        let image = try await sandbox.imagesctlJSON(Image.self, "show", "private/1")
        #expect(image.label == "debian")
        #expect(image.status == .available)
        #expect(image.description == "from a file")
        #expect(image.tags == ["base", "linux"])
        #expect(image.regions == [ImageRegion(region: "us-east", status: .available)])
        // The whole 32 MiB disk was uploaded: 33,554,432 bytes are 34 MB.
        #expect(image.size == Image.megabytes(32 << 20))
        #expect(try await sandbox.uncompressedByteCount(of: "private/1") == 32 << 20)
    }

    @Test func anUploadedDiskDeploysWithItsFiles() async throws {
        let upload = try await sandbox.gzip(try await sandbox.makeExt4Disk())
        let uploaded = try await sandbox.imagesctl("upload", upload, "--label", "debian", "--region", "us-east")
        #expect(uploaded.status == 0, "\(uploaded.standardError)")

        let target = sandbox.path("web-2.img")
        let deployed = try await sandbox.imagesctl("deploy", "private/1", target)
        #expect(deployed.status == 0, "\(deployed.standardError)")
        #expect(try sandbox.fileSize(target) == 32 << 20)
        try await sandbox.expectHoldsSampleFiles(target)
    }

    @Test func updateChangesLabelDescriptionAndReplacesTags() async throws {
        let disk = try await sandbox.makeExt4Disk()
        let captured = try await sandbox.capture(disk, label: "before", "--description", "old", "--tag", "old-tag")

        let updated = try await sandbox.imagesctl(
            "update", "private/1", "--label", "after", "--description", "new text", "--tag", "web", "--tag", "blue")
        #expect(updated.status == 0 && updated.standardError.isEmpty, "\(updated.standardError)")
        let fields = RecordOutputTests.fields(of: updated.standardOutput)
        #expect(fields["label"] == "after")
        #expect(fields["description"] == "new text")
        #expect(fields["tags"] == "blue, web")

        let image = try await sandbox.imagesctlJSON(Image.self, "show", "private/1")
        #expect(image.label == "after")
        #expect(image.description == "new text")
        #expect(image.tags == ["blue", "web"])
        #expect(image.size == captured.size)
        #expect(image.created == captured.created)
    }

    @Test func updateLeavesFieldsItIsNotGiven() async throws {
        let disk = try await sandbox.makeExt4Disk()
        _ = try await sandbox.capture(disk, label: "before", "--description", "kept", "--tag", "kept-tag")

        let image = try await sandbox.imagesctlJSON(Image.self, "update", "1", "--label", "renamed")
        #expect(image.label == "renamed")
        #expect(image.description == "kept")
        #expect(image.tags == ["kept-tag"])
    }

    @Test func updateWithAnEmptyDescriptionClearsIt() async throws {
        _ = try await sandbox.capture(try await sandbox.makeExt4Disk(), label: "described", "--description", "gone")
        let image = try await sandbox.imagesctlJSON(Image.self, "update", "private/1", "--description", "")
        #expect(image.description == nil)
    }

    @Test func updateRefusesABadLabelAndKeepsTheRecord() async throws {
        let captured = try await sandbox.capture(try await sandbox.makeExt4Disk(), label: "good")
        let refused = try await sandbox.imagesctl("update", "private/1", "--label", "bad/label")
        expectFailure(refused, advising: "may hold only ASCII letters")
        #expect(try await sandbox.imagesctlJSON(Image.self, "show", "private/1") == captured)
    }

    @Test func deleteRemovesTheImageSoShowFails() async throws {
        _ = try await sandbox.capture(try await sandbox.makeExt4Disk(), label: "doomed")

        let deleted = try await sandbox.imagesctl("delete", "private/1")
        #expect(deleted.status == 0 && deleted.standardError.isEmpty)
        #expect(deleted.standardOutput == "deleted private/1\n")

        expectFailure(try await sandbox.imagesctl("show", "private/1"), advising: "list the images to find its id")
        expectFailure(try await sandbox.imagesctl("delete", "private/1"), advising: "list the images to find its id")
        #expect(try await sandbox.imagesctl("list").standardOutput == "no images\n")
        let page = try await sandbox.imagesctlJSON(ImagePage.self, "list")
        #expect(page.results == 0 && page.data.isEmpty)
    }

    @Test func jsonDeletePrintsNothing() async throws {
        _ = try await sandbox.capture(try await sandbox.makeExt4Disk(), label: "doomed")
        let deleted = try await sandbox.imagesctl("--json", "delete", "private/1")
        #expect(deleted.status == 0)
        #expect(deleted.standardOutput.isEmpty && deleted.standardError.isEmpty)
    }

    @Test func exportWritesAGzipFileThatHoldsTheImage() async throws {
        _ = try await sandbox.capture(try await sandbox.makeExt4Disk(), label: "exported")
        let exported = sandbox.path("out.img.gz")

        let result = try await sandbox.imagesctl("export", "private/1", exported)
        #expect(result.status == 0 && result.standardError.isEmpty, "\(result.standardError)")
        #expect(result.standardOutput == "exported \(exported)\n")
        #expect(try await sandbox.tryTool("gzip", "-t", exported).status == 0)

        let raw = try await sandbox.gunzip(exported)
        #expect(try await sandbox.filesystemByteCount(raw) == (try sandbox.fileSize(raw)))
        try await sandbox.expectHoldsSampleFiles(raw)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: sandbox.folder.path)
        #expect(!leftovers.contains { $0.contains("partial") })
    }
}
