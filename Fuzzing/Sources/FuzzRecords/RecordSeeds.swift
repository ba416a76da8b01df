import Foundation
import FuzzSupport
import ImagesKit
import ImagesKitFileSystem

/// Saves a few records of every shape through a folder store in `folder`, so that the seeds are
/// the store's own files: `records/<n>.json`.
///
/// - Parameter folder: The store's folder; created when absent.
func writeRecordSeeds(into folder: URL) throws {
    let seedStore = try FileSystemImageStore(folder: folder)
    for (index, record) in seedRecords().enumerated() {
        var numbered = record
        numbered.image.id = .private(index + 1)
        try blockingSave(numbered, in: seedStore)
    }
}

private func blockingSave(_ record: StoredImage, in store: FileSystemImageStore) throws {
    _ = try blocking { try await store.save(record) }
}

private func seedRecords() -> [StoredImage] {
    let created = Date(timeIntervalSince1970: 1_796_000_000)
    let pending = Image(
        id: .private(1), label: "debian-upload", created: created, status: .pendingUpload,
        regions: [ImageRegion(region: "us-east", status: .pending)])
    var captured = Image(
        id: .private(1), label: "web golden", description: "nightly", created: created, createdBy: "alice",
        size: 2_148, status: .available, tags: ["web", "prod"],
        regions: [
            ImageRegion(region: "us-east", status: .available), ImageRegion(region: "eu-west", status: .replicating),
        ])
    captured.capabilities = ["cloud-init"]
    let recovery = Image(
        id: .private(1), label: "web-1 recovery", created: created, size: 1, status: .available, type: .automatic,
        expiry: created.addingTimeInterval(7 * 86_400), regions: [ImageRegion(region: "local", status: .available)])
    let content = ImageContent(
        format: "gzip", sha256: String(repeating: "ab", count: 32), uncompressedByteCount: 2_147_483_648,
        compressedByteCount: 91_000_000, filesystem: "ext4", isExtFilesystem: true,
        storedSHA256: String(repeating: "cd", count: 32))
    return [
        StoredImage(
            image: pending, homeRegion: "us-east", uploadDeadline: created.addingTimeInterval(86_400),
            uploadFormat: "xz"),
        StoredImage(image: captured, homeRegion: "us-east", content: content),
        StoredImage(image: recovery, homeRegion: "local", content: content),
    ]
}
