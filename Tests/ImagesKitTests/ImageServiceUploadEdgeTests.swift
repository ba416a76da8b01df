import Foundation
import ImagesKit
import ImagesKitMemory
import ImagesKitTestSupport
import Testing

@Suite("Upload edges")
struct ImageServiceUploadEdgeTests {
    @Test("a gzip file that decompresses to nothing is refused and leaves no image")
    func emptyContentRefused() async throws {
        let folder = try ServiceTestFolder()
        let harness = ServiceHarness()
        let empty = try HostCheck.gzip([], in: folder)
        let members = Array([[UInt8]](repeating: empty, count: 3).joined())

        await #expect(throws: ImagesKitError.self) { _ = try await harness.upload(members) }
        #expect(try await harness.store.records().isEmpty)
        let events = try await harness.store.events()
        #expect(events.last?.status == .failed && events.last?.message?.contains("no data") == true)
    }

    @Test("an upload that holds no ext3/ext4 filesystem is stored, with a notification that says so")
    func otherContentFlagged() async throws {
        let folder = try ServiceTestFolder()
        let harness = ServiceHarness()
        var generator = SplitMix64(seed: 5)
        let image = try await harness.upload(try HostCheck.gzip(generator.bytes(200_000), in: folder))

        #expect(image.status == .available)
        let notes = try await harness.service.events(for: image.id).filter { $0.status == .notification }
        #expect(notes.count == 1 && notes.first?.message?.contains("not an unpartitioned ext3/ext4 disk") == true)
    }

    @Test("tags with control characters are refused")
    func controlCharactersInTags() throws {
        #expect(throws: ImagesKitError.self) { try ImageRules.normalizedTags(["web\u{1B}]0;owned\u{07}"]) }
        #expect(throws: ImagesKitError.self) { try ImageRules.normalizedTags(["two\nlines"]) }
        #expect(try ImageRules.normalizedTags(["web", "db-primary"]) == ["db-primary", "web"])
    }
}
