import Foundation
import Testing

@testable import ImagesKit

@Suite("Scratch folders")
struct ScratchFolderTests {
    @Test("a scratch folder is its owner's only, and one left by an ended process is removed")
    func privateAndReclaimed() throws {
        let parent = try ServiceTestFolder()
        let scratch = try ScratchFolder(inside: parent.path(""))
        var status = stat()
        #expect(stat(scratch.url.path, &status) == 0)
        #expect(status.st_mode & 0o777 == 0o700)

        let abandoned = parent.path("imageskit-scratch-999999999-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: abandoned, withIntermediateDirectories: false)
        ScratchFolder.removeAbandoned(inside: parent.path(""))

        #expect(!FileManager.default.fileExists(atPath: abandoned))
        #expect(FileManager.default.fileExists(atPath: scratch.url.path), "a live process's scratch was removed")
        scratch.remove()
    }
}
