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

    @Test("a partial file an ended process noted is removed with its scratch folder, and nothing else is")
    func notedPartialsGo() throws {
        let parent = try ServiceTestFolder()
        let targets = try ServiceTestFolder()
        let pid = 999_999_998
        let partial = targets.path(".disk.img.imageskit-partial-\(pid)-\(UUID().uuidString)")
        let other = targets.path("disk.img")
        for path in [partial, other] { #expect(FileManager.default.createFile(atPath: path, contents: Data([1]))) }
        for (name, noted) in [("\(pid)", partial), ("\(pid - 1)", other)] {
            let abandoned = parent.path("imageskit-scratch-\(name)-\(UUID().uuidString)")
            try FileManager.default.createDirectory(atPath: abandoned, withIntermediateDirectories: false)
            try Data(noted.utf8).write(to: URL(fileURLWithPath: abandoned + "/partial-file"))
        }

        ScratchFolder.removeAbandoned(inside: parent.path(""))
        #expect(!FileManager.default.fileExists(atPath: partial))
        #expect(FileManager.default.fileExists(atPath: other), "a noted file not named as that process's partial went")
        #expect(try parent.entries().isEmpty)
    }

    @Test("a live deploy notes its partial disk in its scratch folder")
    func liveNote() throws {
        let parent = try ServiceTestFolder()
        let scratch = try ScratchFolder(inside: parent.path(""))
        defer { scratch.remove() }
        try scratch.notePartialFile("/nowhere/.x.imageskit-partial-1-y")
        ScratchFolder.removeAbandoned(inside: parent.path(""))
        #expect(
            FileManager.default.contents(atPath: scratch.path("partial-file"))
                == Data("/nowhere/.x.imageskit-partial-1-y".utf8))
    }
}
