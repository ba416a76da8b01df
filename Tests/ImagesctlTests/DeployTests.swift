import Foundation
import ImagesKit
import Testing

/// `deploy ID TARGET [--size SIZE]`: new targets are made, existing ones rebuilt, never shrunk.
struct DeployTests {
    let sandbox: Sandbox

    init() throws {
        sandbox = try Sandbox()
    }

    /// Captures the sample disk as `private/1`.
    private func captureSample() async throws -> Image {
        try await sandbox.capture(try await sandbox.makeExt4Disk(), label: "golden")
    }

    /// Makes an existing target: an ext4 disk of `size` with one file the deploy must erase.
    private func existingTarget(size: String) async throws -> String {
        try await sandbox.makeExt4Disk(
            "existing.img", label: "old", size: size, files: ["old.txt": Array("old content\n".utf8)])
    }

    /// Left to itself, resize2fs rounds a disk down to whole 4 KiB pages, which would ask a
    /// 1 KiB-block image whose block count is not a multiple of 4 to shrink below its minimum.
    @Test(arguments: [4096, 1024])
    func aNewTargetWithoutSizeGetsTheImageSize(blockSize: Int) async throws {
        let disk = try await sandbox.makeExt4Disk(blockSize: blockSize)
        let image = try await sandbox.capture(disk, label: "golden")
        let imageBytes = try await sandbox.uncompressedByteCount(of: "private/1")
        let target = sandbox.path("new.img")

        let deployed = try await sandbox.imagesctl("deploy", "private/1", target)
        #expect(deployed.status == 0 && deployed.standardError.isEmpty, "\(deployed.standardError)")
        #expect(deployed.standardOutput == "deployed private/1 to \(target)\n")
        let size = try sandbox.fileSize(target)
        #expect(size == imageBytes)
        #expect(try await sandbox.filesystemByteCount(target) == size)
        #expect(Image.megabytes(size) == image.size)
        try await sandbox.expectHoldsSampleFiles(target)
    }

    /// An upload is not shrunk, so its filesystem keeps a block count that may not be a multiple
    /// of 4; it must still fill its new disk to the last block.
    @Test func anUploadedFilesystemWithAnOddBlockCountFillsItsNewDisk() async throws {
        let upload = try await sandbox.gzip(try await sandbox.makeExt4Disk(size: "32767K", blockSize: 1024))
        let uploaded = try await sandbox.imagesctl("upload", upload, "--label", "odd", "--region", "us-east")
        #expect(uploaded.status == 0, "\(uploaded.standardError)")
        let target = sandbox.path("odd.img")

        let deployed = try await sandbox.imagesctl("deploy", "private/1", target)
        #expect(deployed.status == 0, "\(deployed.standardError)")
        #expect(try sandbox.fileSize(target) == 32767 << 10)
        try await sandbox.expectHoldsSampleFiles(target)
        let filesystemBytes = try await sandbox.filesystemByteCount(target)
        #expect(filesystemBytes == 32767 << 10)
    }

    @Test(arguments: [
        ("64M", UInt64(64) << 20), ("65536K", UInt64(64) << 20), ("1500M", UInt64(1500) << 20),
        ("1G", UInt64(1) << 30), ("100663296", UInt64(96) << 20),
    ])
    func aNewTargetWithSizeGetsExactlyThatManyBytes(size: String, bytes: UInt64) async throws {
        _ = try await captureSample()
        let target = sandbox.path("sized.img")

        let deployed = try await sandbox.imagesctl("deploy", "private/1", target, "--size", size)
        #expect(deployed.status == 0, "\(deployed.standardError)")
        #expect(try sandbox.fileSize(target) == bytes)
        #expect(try await sandbox.filesystemByteCount(target) == bytes)
        try await sandbox.expectHoldsSampleFiles(target)
    }

    @Test func anExistingLargerTargetKeepsItsSizeAndLosesItsOldContent() async throws {
        _ = try await captureSample()
        let target = try await existingTarget(size: "100M")

        let deployed = try await sandbox.imagesctl("deploy", "private/1", target)
        #expect(deployed.status == 0, "\(deployed.standardError)")
        #expect(try sandbox.fileSize(target) == 100 << 20)
        #expect(try await sandbox.filesystemByteCount(target) == 100 << 20)
        try await sandbox.expectHoldsSampleFiles(target)
        #expect(try await sandbox.fileInside(target, "/old.txt") == nil)
    }

    @Test func anExistingTargetGrowsToALargerSize() async throws {
        _ = try await captureSample()
        let target = try await existingTarget(size: "40M")

        let deployed = try await sandbox.imagesctl("deploy", "private/1", target, "--size", "80M")
        #expect(deployed.status == 0, "\(deployed.standardError)")
        #expect(try sandbox.fileSize(target) == 80 << 20)
        #expect(try await sandbox.filesystemByteCount(target) == 80 << 20)
        try await sandbox.expectHoldsSampleFiles(target)
        #expect(try await sandbox.fileInside(target, "/old.txt") == nil)
    }

    @Test func anExistingTargetOfExactlyTheSizeAskedForIsRebuilt() async throws {
        _ = try await captureSample()
        let target = try await existingTarget(size: "48M")

        let deployed = try await sandbox.imagesctl("deploy", "private/1", target, "--size", "48M")
        #expect(deployed.status == 0, "\(deployed.standardError)")
        #expect(try sandbox.fileSize(target) == 48 << 20)
        try await sandbox.expectHoldsSampleFiles(target)
    }

    @Test func aSmallerSizeForAnExistingTargetIsRefusedAndTheTargetUntouched() async throws {
        _ = try await captureSample()
        let target = try await existingTarget(size: "48M")
        let before = try sandbox.contents(target)

        let refused = try await sandbox.imagesctl("deploy", "private/1", target, "--size", "40M")
        expectFailure(refused, advising: "give a larger --size or leave it out")
        #expect(refused.standardError.contains("can't shrink"))
        #expect(try sandbox.contents(target) == before)
    }

    @Test func anUnknownImageLeavesAnExistingTargetUntouchedEvenWithALargerSize() async throws {
        let target = try await existingTarget(size: "40M")
        let before = try sandbox.contents(target)

        let refused = try await sandbox.imagesctl("deploy", "private/7", target, "--size", "80M")
        expectFailure(refused, advising: "list the images to find its id")
        #expect(try sandbox.contents(target) == before)
    }

    @Test func anExistingTargetTooSmallForTheImageIsRefusedAndUntouched() async throws {
        _ = try await captureSample()
        let target = sandbox.path("tiny.img")
        try await sandbox.tool("truncate", "-s", "1M", target)

        expectFailure(try await sandbox.imagesctl("deploy", "private/1", target), advising: "use a disk at least")
        #expect(try sandbox.fileSize(target) == 1 << 20)

        let grown = try await sandbox.imagesctl("deploy", "private/1", target, "--size", "2M")
        expectFailure(grown, advising: "use a disk at least")
        #expect(try sandbox.fileSize(target) == 1 << 20)
    }

    @Test func aNewTargetSmallerThanTheImageIsRefusedAndNotLeftBehind() async throws {
        _ = try await captureSample()
        let target = sandbox.path("tiny.img")

        expectFailure(
            try await sandbox.imagesctl("deploy", "private/1", target, "--size", "1M"), advising: "use a disk at least")
        #expect(!FileManager.default.fileExists(atPath: target))
    }
}
