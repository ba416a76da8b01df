import Foundation
import ImagesKit
import ImagesKitGzip
import ImagesKitTestSupport
import Testing

@testable import ImagesKitS3

/// The image service over the S3 store: capture, upload, deploy, delete and billing, then an
/// upload cut off by the object store going down.
@Suite("Image service over the S3 store")
struct S3EndToEndTests {
    @Test("capture, upload, deploy and delete through the S3 store, billed from the bucket")
    func captureUploadDeploy() async throws {
        let work = try WorkFolder()
        let store = try await S3TestBucket.store()
        let service = ImageService(
            store: store, compressor: GzipCompressor(), billing: MeteredBilling(ledger: S3UsageLedger(store: store)))
        let (disk, random) = try await work.ext4Disk("source", randomBytes: 12 << 20)

        let captured = try await service.capture(CaptureRequest(label: "captured"), from: try FileDisk(path: disk))
        #expect(captured.status == .available)
        let capturedCopy = work.path("captured-deployed.img")
        try await service.deploy(captured.id, toNewDiskAt: capturedCopy)
        try await expectHealthy(capturedCopy, holding: random)

        try await Shell.run("gzip -c '\(disk)' > '\(work.path("upload.img.gz"))'")
        let pending = try await service.createUpload(UploadRequest(label: "uploaded", region: "us-east"))
        let uploaded = try await service.upload(pending.image.id, fileAt: work.path("upload.img.gz"))
        let uploadedCopy = work.path("uploaded-deployed.img")
        try await service.deploy(uploaded.id, toNewDiskAt: uploadedCopy)
        #expect(FileManager.default.contentsEqual(atPath: uploadedCopy, andPath: disk))

        #expect(try await service.images().data.map(\.id) == [captured.id, uploaded.id])
        let started = try await S3UsageLedger(store: store).usage().filter { $0.kind == .started }
        #expect(Set(started.map(\.image)) == [captured.id, uploaded.id])
        try await service.delete(captured.id)
        #expect(try await store.record(captured.id) == nil)
        #expect(try await store.client.list(prefix: store.keys.contentFolder).count == 1)
    }

    @Test("the object store stopped mid-upload: nothing listed or half-written, and a retry succeeds")
    func serverStoppedMidUpload() async throws {
        let server = try await offThePool { try ObjectStoreServer.dedicated() }
        defer { try? server.remove() }
        let work = try WorkFolder()
        let store = try await S3TestBucket.store(try await S3TestBucket.configuration(server: server))
        let service = ImageService(store: store, compressor: GzipCompressor())
        let (disk, _) = try await work.ext4Disk("source", randomBytes: 24 << 20)
        let file = work.path("upload.img.gz")
        try await Shell.run("gzip -1 -c '\(disk)' > '\(file)'")
        let pending = try await service.createUpload(UploadRequest(label: "cut-off", region: "us-east"))

        let stopped = StopOnce(server: server, after: 12 << 20)
        let error = await #expect(throws: ImagesKitError.self) {
            try await service.upload(pending.image.id, fileAt: file) { stopped.check($0.completedBytes) }
        }
        #expect(error?.code == .storeFailure)
        #expect(stopped.didStop)
        try await offThePool { try server.start() }

        #expect(try await service.images().data.allSatisfy { $0.status != .available })
        #expect(try await store.record(pending.image.id)?.content == nil)
        #expect(try await store.client.list(prefix: store.keys.contentFolder).isEmpty)
        let retried = try await service.upload(pending.image.id, fileAt: file)
        #expect(retried.status == .available)
        #expect(try await store.client.pendingUploads(prefix: store.keys.prefix).isEmpty)
        let copy = work.path("deployed.img")
        try await service.deploy(retried.id, toNewDiskAt: copy)
        #expect(FileManager.default.contentsEqual(atPath: copy, andPath: disk))
    }

    private func expectHealthy(_ disk: String, holding random: [UInt8]) async throws {
        let check = try await Shell.status("e2fsck -fn '\(disk)'")
        #expect(check.status == 0, "e2fsck: \(check.output)")
        let read = try await Shell.run("debugfs -R 'dump /random.bin /dev/stdout' '\(disk)' 2>/dev/null | sha256sum")
        #expect(read.hasPrefix(SHA256Digest.hex(of: random)))
    }
}

/// Stops the object store once, when an upload's progress first passes a number of bytes.
private final class StopOnce: Sendable {
    private let server: ObjectStoreServer
    private let threshold: UInt64
    private let lock = NSLock()
    nonisolated(unsafe) private var stopped = false

    init(server: ObjectStoreServer, after threshold: UInt64) {
        self.server = server
        self.threshold = threshold
    }

    var didStop: Bool { lock.withLock { stopped } }

    func check(_ bytes: UInt64) {
        lock.withLock {
            guard !stopped, bytes >= threshold else { return }
            stopped = true
            try? server.stop()
        }
    }
}

/// A temporary folder for one test's disks and files, removed when the test ends.
final class WorkFolder {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("s3-e2e-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(at: url)
    }

    func path(_ name: String) -> String {
        url.appendingPathComponent(name).path
    }

    /// A 64 MiB ext4 disk holding `random.bin` of `randomBytes` bytes; returns its path and them.
    func ext4Disk(_ name: String, randomBytes: Int) async throws -> (String, [UInt8]) {
        let tree = url.appendingPathComponent("\(name)-files")
        try FileManager.default.createDirectory(at: tree, withIntermediateDirectories: true)
        let random = S3TestBucket.payload(randomBytes, seed: 99)
        try Data(random).write(to: tree.appendingPathComponent("random.bin"))
        let disk = path("\(name).img")
        try await Shell.run("truncate -s 64M '\(disk)' && mkfs.ext4 -q -F -L \(name) -d '\(tree.path)' '\(disk)'")
        return (disk, random)
    }
}
