import Foundation
import ImagesKit
import Testing

/// Labels and ids never name a file: a folder store names its files by image number only.
@Suite("Labels and ids never become paths")
struct LabelPathTests {
    @Test("labels made of dots and spaces are kept as text; the store's files are named by number")
    func dottedLabelsNameNoFile() async throws {
        let fixture = try StoreFixture()
        let labels = ["..", "...", ".", ". .", "'.'"]
        for label in labels {
            _ = try await fixture.service.createUpload(UploadRequest(label: label, region: "local"))
        }

        let files = try FileManager.default.contentsOfDirectory(atPath: fixture.store.root.path).sorted()
        #expect(files == ["content", "events.jsonl", "locks", "next-id", "next-id.lock", "records", "staging"])
        let records = try FileManager.default.contentsOfDirectory(
            atPath: fixture.recordFile(.private(1)).deletingLastPathComponent().path)
        #expect(records.sorted() == (1...labels.count).map { "\($0).json" })
        #expect(try await fixture.service.images().data.map(\.label) == labels)
    }

    @Test(
        "labels with slashes, NUL or other text are refused before anything is kept",
        arguments: [
            "../../etc/passwd", "a/b", "a\u{0}b", "/", String(repeating: "x", count: 51), "disque été",
        ])
    func pathLikeLabelsAreRefused(label: String) async throws {
        let fixture = try StoreFixture()
        let error = await #expect(throws: ImagesKitError.self) {
            _ = try await fixture.service.createUpload(UploadRequest(label: label, region: "local"))
        }
        #expect(error?.code == .invalidArgument)
        #expect(try fixture.snapshot().isEmpty)
    }

    @Test(
        "text that only looks like an id is no id",
        arguments: [
            "private/../1", "private/1/..", "private/-1", "private/01", "private/0", "private/1 ", "../private/1",
            "private/1/../../2", "private/\u{0}1",
        ])
    func pathLikeIDsAreRefused(text: String) {
        #expect(ImageID(text) == nil)
    }
}
