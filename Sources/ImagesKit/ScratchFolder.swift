import Foundation

/// A private folder for a long operation's working files, removed when the operation ends.
///
/// It is readable by its owner only, since it holds a copy of a customer's disk. Its name
/// carries the process id, so a folder left by a killed process can be recognised and removed.
struct ScratchFolder {
    let url: URL

    private static let prefix = "imageskit-scratch-"

    init(inside parent: String) throws {
        url = URL(fileURLWithPath: parent).appendingPathComponent("\(Self.prefix)\(getpid())-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(
            atPath: parent, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        guard mkdir(url.path, 0o700) == 0 else {
            throw ImagesKitError.io(
                "can't make a scratch folder in \(parent); check it exists and is writable",
                call: "mkdir", errno: errno, path: url.path)
        }
    }

    func path(_ name: String) -> String {
        url.appendingPathComponent(name).path
    }

    func remove() {
        try? FileManager.default.removeItem(at: url)
    }

    private static let partialNote = "partial-file"

    /// Notes a partial file this process writes outside the folder (a deploy's new disk, an
    /// export), so that a recovery after a crash removes it with the folder.
    func notePartialFile(_ path: String) throws {
        guard FileManager.default.createFile(atPath: self.path(Self.partialNote), contents: Data(path.utf8)) else {
            throw ImagesKitError(
                .ioFailure, "can't write in the scratch folder \(url.path); check it is writable and has room",
                context: ["path": url.path])
        }
    }

    /// Removes scratch folders in `parent` whose process has ended, as after a crash, with the
    /// partial files they note.
    static func removeAbandoned(inside parent: String) {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: parent)) ?? []
        for name in names where name.hasPrefix(prefix) {
            let pid = Int32(name.dropFirst(prefix.count).prefix { $0 != "-" }) ?? 0
            guard pid > 0, kill(pid, 0) != 0, errno == ESRCH else { continue }
            let folder = (parent as NSString).appendingPathComponent(name)
            removeNotedPartial(in: folder, pid: pid)
            try? FileManager.default.removeItem(atPath: folder)
        }
    }

    /// Removes the partial file a dead process noted, only if its name says that process wrote
    /// it: a note is never a way to remove anything else.
    private static func removeNotedPartial(in folder: String, pid: Int32) {
        let note = (folder as NSString).appendingPathComponent(partialNote)
        guard let data = FileManager.default.contents(atPath: note) else { return }
        let path = String(decoding: data, as: UTF8.self)
        let name = (path as NSString).lastPathComponent
        guard name.hasPrefix("."), name.contains("\(ImageService.partialMarker)\(pid)-") else { return }
        unlink(path)
    }
}
