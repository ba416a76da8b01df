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

    /// Removes scratch folders in `parent` whose process has ended, as after a crash.
    static func removeAbandoned(inside parent: String) {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: parent)) ?? []
        for name in names where name.hasPrefix(prefix) {
            let pid = Int32(name.dropFirst(prefix.count).prefix { $0 != "-" }) ?? 0
            guard pid > 0, kill(pid, 0) != 0, errno == ESRCH else { continue }
            try? FileManager.default.removeItem(atPath: (parent as NSString).appendingPathComponent(name))
        }
    }
}
