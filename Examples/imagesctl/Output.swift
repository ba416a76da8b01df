import Foundation
import ImagesKit

/// Prints records for people or as the public API's JSON.
struct Output {
    let json: Bool

    func show(_ image: Image) throws {
        if json { return try printJSON(image) }
        let rows: [(String, String)] = [
            ("id", "\(image.id)"), ("label", image.label), ("status", image.status.rawValue),
            ("type", image.type.rawValue), ("size", Self.megabytes(image.size)),
            ("total size", Self.megabytes(image.totalSize)), ("created", APITimestamp.format(image.created)),
            ("updated", APITimestamp.format(image.updated)), ("description", image.description ?? "-"),
            ("tags", image.tags.isEmpty ? "-" : image.tags.joined(separator: ", ")),
            ("capabilities", image.capabilities.isEmpty ? "-" : image.capabilities.joined(separator: ", ")),
            (
                "regions",
                image.regions.isEmpty
                    ? "-"
                    : image.regions.map { "\($0.region) (\($0.status.rawValue))" }
                        .joined(separator: ", ")
            ),
        ]
        for (name, value) in rows {
            print(name.padding(toLength: 14, withPad: " ", startingAt: 0) + Self.printable(value))
        }
    }

    func list(_ page: ImagePage) throws {
        if json { return try printJSON(page) }
        guard !page.data.isEmpty else { return print("no images") }
        print(row("ID", "LABEL", "STATUS", "SIZE", "CREATED"))
        for image in page.data {
            print(
                row(
                    "\(image.id)", image.label, image.status.rawValue, Self.megabytes(image.size),
                    APITimestamp.format(image.created)))
        }
    }

    func message(_ text: String) {
        if !json { print(text) }
    }

    /// A line on standard error, in both modes, for what went wrong without failing the command.
    func note(_ text: String) {
        FileHandle.standardError.write(Data("imagesctl: \(Self.printable(text))\n".utf8))
    }

    func events(_ events: [ImageEvent]) throws {
        if json { return try printJSON(ListEnvelope(data: events)) }
        guard !events.isEmpty else { return print("no events") }
        for event in events {
            let columns = [
                APITimestamp.format(event.created),
                "\(event.entity)".padding(toLength: 12, withPad: " ", startingAt: 0),
                event.action.rawValue.padding(toLength: 14, withPad: " ", startingAt: 0),
                event.status.rawValue.padding(toLength: 13, withPad: " ", startingAt: 0),
                Self.printable(event.message ?? ""),
            ]
            print(columns.joined(separator: " "))
        }
    }

    func verified(_ file: VerifiedImageFile) throws {
        if json { return try printJSON(VerifiedJSON(file)) }
        let rows = [
            ("format", file.format.name), ("compressed", "\(file.compressedByteCount) bytes"),
            ("uncompressed", "\(file.uncompressedByteCount) bytes"), ("sha256", file.sha256),
            ("holds", file.filesystem),
        ]
        for (name, value) in rows {
            print(name.padding(toLength: 14, withPad: " ", startingAt: 0) + Self.printable(value))
        }
    }

    func invoice(_ invoice: Invoice) throws {
        if json { return try printJSON(invoice) }
        print(
            "invoice for \(APITimestamp.format(invoice.from)) to \(APITimestamp.format(invoice.to)), \(invoice.currency)"
        )
        for line in invoice.lines {
            let columns = [
                "\(line.image)".padding(toLength: 12, withPad: " ", startingAt: 0),
                Self.printable(line.region).padding(toLength: 14, withPad: " ", startingAt: 0),
                "\(line.hours) h".padding(toLength: 9, withPad: " ", startingAt: 0),
                "\(line.gigabytes) GB".padding(toLength: 12, withPad: " ", startingAt: 0),
                Invoice.format(line.amount),
            ]
            print(columns.joined(separator: " "))
        }
        print("total \(Invoice.format(invoice.total)) \(invoice.currency)")
    }

    func printJSON(_ value: some Encodable) throws {
        let data = try APIJSON.encoder(pretty: true).encode(value)
        print(String(decoding: data, as: UTF8.self))
    }

    /// Text with control characters shown as `?`, so a description can't drive the terminal.
    static func printable(_ text: String) -> String {
        String(
            String.UnicodeScalarView(
                text.unicodeScalars.map { $0.properties.generalCategory == .control ? "?" : $0 }))
    }

    static func megabytes(_ megabytes: Int) -> String {
        megabytes >= 1000 ? String(format: "%d MB (%.2f GB)", megabytes, Double(megabytes) / 1000) : "\(megabytes) MB"
    }

    private func row(_ id: String, _ label: String, _ status: String, _ size: String, _ created: String) -> String {
        [
            id.padding(toLength: 12, withPad: " ", startingAt: 0),
            label.padding(toLength: 30, withPad: " ", startingAt: 0),
            status.padding(toLength: 16, withPad: " ", startingAt: 0),
            size.padding(toLength: 20, withPad: " ", startingAt: 0), created,
        ].joined()
    }
}

/// Draws a progress bar on standard error when it is a terminal.
final class ProgressBar: @unchecked Sendable {
    private let enabled = isatty(STDERR_FILENO) == 1
    private let lock = NSLock()
    private var lastDraw = Date.distantPast
    private var drawn = false

    func report(_ progress: OperationProgress) {
        guard enabled else { return }
        lock.lock()
        defer { lock.unlock() }
        let now = Date()
        guard now.timeIntervalSince(lastDraw) > 0.1 || progress.completedBytes == progress.totalBytes else { return }
        lastDraw = now
        drawn = true
        FileHandle.standardError.write(Data(("\r\u{1B}[K" + Self.line(progress)).utf8))
    }

    func clear() {
        lock.lock()
        defer { lock.unlock() }
        if drawn { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        drawn = false
    }

    private static func line(_ progress: OperationProgress) -> String {
        let done = String(format: "%.1f MB", Double(progress.completedBytes) / 1e6)
        guard let total = progress.totalBytes, total > 0 else { return "\(progress.phase.rawValue) \(done)" }
        let fraction = min(1, Double(progress.completedBytes) / Double(total))
        let width = 30
        let filled = Int(fraction * Double(width))
        let bar = String(repeating: "#", count: filled) + String(repeating: " ", count: width - filled)
        let whole = String(format: "%.1f MB", Double(total) / 1e6)
        return String(format: "[%@] %3d%% %@ %@ of %@", bar, Int(fraction * 100), progress.phase.rawValue, done, whole)
    }
}

/// The public API's list envelope around any kind of item.
struct ListEnvelope<Item: Encodable>: Encodable {
    let data: [Item]
    let page = 1
    let pages = 1
    let results: Int

    init(data: [Item]) {
        self.data = data
        self.results = data.count
    }
}

/// The `verify --json` document.
struct VerifiedJSON: Encodable {
    let format: String
    let compressedSize: UInt64
    let uncompressedSize: UInt64
    let sha256: String

    init(_ file: VerifiedImageFile) {
        format = file.format.name
        compressedSize = file.compressedByteCount
        uncompressedSize = file.uncompressedByteCount
        sha256 = file.sha256
    }

    enum CodingKeys: String, CodingKey {
        case format, sha256
        case compressedSize = "compressed_size"
        case uncompressedSize = "uncompressed_size"
    }
}
