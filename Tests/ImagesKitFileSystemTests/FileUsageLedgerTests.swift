import Foundation
import ImagesKit
import ImagesKitFileSystem
import Testing

@Suite("File usage ledger")
struct FileUsageLedgerTests {
    /// A fresh folder and the ledger file inside it, not yet created.
    static func makeLedgerFile() throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ledger-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return folder.appendingPathComponent("usage.jsonl")
    }

    static func usage(
        _ kind: UsageRecord.Kind, _ image: Int, _ time: String, account: String = "default"
    )
        -> UsageRecord
    {
        UsageRecord(
            kind: kind, image: .private(image), region: "us-east", byteCount: 73_000_000_000, type: .manual,
            time: APITimestamp.parse(time)!, account: account)
    }

    static let samples = [
        usage(.started, 1, "2026-12-01T00:00:00"),
        usage(.started, 2, "2026-12-01T06:00:00", account: "acme"),
        usage(.ended, 1, "2026-12-02T00:00:00"),
    ]

    @Test("a reopened ledger reads back every record, in order")
    func survivesReopening() async throws {
        let file = try Self.makeLedgerFile()
        let ledger = FileUsageLedger(file: file)
        for record in Self.samples { try await ledger.append(record) }

        #expect(try await FileUsageLedger(file: file).usage() == Self.samples)
    }

    @Test("a missing file holds no records")
    func missingFileIsEmpty() async throws {
        let ledger = FileUsageLedger(file: try Self.makeLedgerFile())

        #expect(try await ledger.usage().isEmpty)
    }

    @Test("each record is one line of snake_case JSON")
    func oneLinePerRecord() async throws {
        let file = try Self.makeLedgerFile()
        try await FileUsageLedger(file: file).append(Self.samples[1])

        let text = try String(contentsOf: file, encoding: .utf8)
        #expect(
            text
                == #"{"account":"acme","byte_count":73000000000,"image":"private/2","kind":"started","#
                + #""region":"us-east","time":"2026-12-01T06:00:00","type":"manual"}"# + "\n")
    }

    @Test("the ledger file is created readable and writable by its owner only")
    func fileModeIsOwnerOnly() async throws {
        let file = try Self.makeLedgerFile()
        try await FileUsageLedger(file: file).append(Self.samples[0])

        var status = stat()
        #expect(stat(file.path, &status) == 0)
        #expect(status.st_mode & 0o777 == 0o600)
    }

    @Test("a malformed line is reported with the file and its line number")
    func malformedLineNamed() async throws {
        let file = try Self.makeLedgerFile()
        let ledger = FileUsageLedger(file: file)
        try await ledger.append(Self.samples[0])
        try appendRaw(#"{"kind":"started","image":"private/2"}"# + "\n", to: file)
        try await ledger.append(Self.samples[2])

        let error = await #expect(throws: ImagesKitError.self) { try await ledger.usage() }
        #expect(error?.code == .storeFailure)
        #expect(error?.message.contains("line 2 of the usage ledger \(file.path)") == true)
        #expect(error?.context["line"] == "2")
        #expect(error?.context["path"] == file.path)
    }

    @Test("a blank line in the middle is malformed too")
    func blankLineNamed() async throws {
        let file = try Self.makeLedgerFile()
        let ledger = FileUsageLedger(file: file)
        try await ledger.append(Self.samples[0])
        try appendRaw("\n", to: file)
        try await ledger.append(Self.samples[2])

        let error = await #expect(throws: ImagesKitError.self) { try await ledger.usage() }
        #expect(error?.context["line"] == "2")
    }

    @Test("a line torn by a crash stays its own line; the next record is whole")
    func tornLineKeptApart() async throws {
        let file = try Self.makeLedgerFile()
        let ledger = FileUsageLedger(file: file)
        try await ledger.append(Self.samples[0])
        try appendRaw(#"{"kind":"sta"#, to: file)
        try await ledger.append(Self.samples[2])

        let error = await #expect(throws: ImagesKitError.self) { try await ledger.usage() }
        #expect(error?.context["line"] == "2")
        let lines = try String(contentsOf: file, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 3)
        #expect(lines.last?.hasPrefix(#"{"account":"default","#) == true)
    }

    @Test("appends from many tasks each land on a line of their own")
    func concurrentAppendsStayWhole() async throws {
        let file = try Self.makeLedgerFile()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for image in 1...64 {
                group.addTask {
                    try await FileUsageLedger(file: file).append(Self.usage(.started, image, "2026-12-01T00:00:00"))
                }
            }
            try await group.waitForAll()
        }

        let images = try await FileUsageLedger(file: file).usage().map(\.image)
        #expect(Set(images) == Set((1...64).map { ImageID.private($0) }))
        #expect(images.count == 64)
    }

    @Test("a symbolic link in place of the ledger file is refused")
    func symbolicLinkRefused() async throws {
        let file = try Self.makeLedgerFile()
        let elsewhere = file.deletingLastPathComponent().appendingPathComponent("elsewhere.jsonl")
        try Data().write(to: elsewhere)
        try FileManager.default.createSymbolicLink(at: file, withDestinationURL: elsewhere)

        let error = await #expect(throws: ImagesKitError.self) {
            try await FileUsageLedger(file: file).append(Self.samples[0])
        }
        #expect(error?.code == .storeFailure)
        #expect(try Data(contentsOf: elsewhere).isEmpty)
    }

    @Test("metered billing over a file ledger invoices what was recorded")
    func meteredBillingOverFile() async throws {
        let file = try Self.makeLedgerFile()
        try await MeteredBilling(ledger: FileUsageLedger(file: file)).record(Self.samples[0])
        try await MeteredBilling(ledger: FileUsageLedger(file: file)).record(Self.samples[2])

        // 24 h of 73 GB at $0.10 per GB over 730 h: $0.24.
        let invoice = try await MeteredBilling(ledger: FileUsageLedger(file: file)).invoice(
            account: "default", from: APITimestamp.parse("2026-12-01T00:00:00")!,
            to: APITimestamp.parse("2027-01-01T00:00:00")!)
        #expect(invoice.lines.map(\.hours) == [24])
        #expect(invoice.total == Decimal(string: "0.24")!)
    }

    private func appendRaw(_ text: String, to file: URL) throws {
        let handle = try FileHandle(forWritingTo: file)
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(text.utf8))
    }
}
