import Foundation
import ImagesKit
import Testing

/// Recovery images, expiry, replication, events and billing from the command line, with the
/// clock set by `--now`.
struct ServiceRulesTests {
    let sandbox: Sandbox

    init() throws {
        sandbox = try Sandbox()
    }

    static let deletion = "2026-12-01T10:00:00"

    /// Runs `imagesctl --json --now TIME ...`, expecting success, and decodes what it prints.
    func json<Value: Decodable>(
        _ type: Value.Type, at time: String, _ arguments: String...,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> Value {
        let result = try await sandbox.imagesctl(["--json", "--now", time] + arguments)
        guard result.status == 0 else {
            throw ToolFailure(description: "imagesctl \(arguments) exited \(result.status): \(result.standardError)")
        }
        return try APIJSON.decoder().decode(Value.self, from: Data(result.standardOutput.utf8))
    }

    @Test func nowSetsTheTimeOfRecordsAndEvents() async throws {
        let disk = try await sandbox.makeExt4Disk()
        let image = try await json(Image.self, at: "2026-12-01T10:00:00Z", "capture", disk, "--label", "golden")
        #expect(APITimestamp.format(image.created) == "2026-12-01T10:00:00")

        let events = try await json(EventList.self, at: "2026-12-02T00:00:00", "events").data
        #expect(events.map { APITimestamp.format($0.created) } == ["2026-12-01T10:00:00", "2026-12-01T10:00:00"])
    }

    @Test func serverDeleteKeepsEachExtDiskAsARecoveryImage() async throws {
        let disk = try await sandbox.makeExt4Disk("root.img", label: "root")
        let swap = sandbox.path("swap.img")
        try Data(count: 4 << 20).write(to: URL(fileURLWithPath: swap))

        let result = try await sandbox.imagesctl(
            "--json", "--now", Self.deletion, "server-delete", "--label", "web-1", "--active-hours", "36", disk, swap)
        #expect(result.status == 0, "\(result.standardError)")
        #expect(result.standardError.contains("no recovery image of swap.img"))
        #expect(result.standardError.contains("[unsupported_filesystem]"))

        let page = try APIJSON.decoder().decode(ImagePage.self, from: Data(result.standardOutput.utf8))
        #expect(page.results == 1)
        let image = try #require(page.data.first)
        #expect(image.type == .automatic)
        #expect(image.label == "web-1 - root")
        #expect(image.expiry.map(APITimestamp.format) == "2026-12-02T22:00:00")
        #expect(image.status == .available)
    }

    @Test(arguments: [
        ("11:59", 0), ("11.99", 0), ("11.99999", 0), ("11.999999999", 0), ("12", 1), ("12:00", 1), ("12.0", 1),
    ])
    func recoveryImagesNeedTwelveHoursOfActivity(hours: String, images: Int) async throws {
        let disk = try await sandbox.makeExt4Disk()
        let result = try await sandbox.imagesctl(
            "--json", "--now", Self.deletion, "server-delete", "--label", "web", "--active-hours", hours, disk)
        #expect(result.status == 0, "\(result.standardError)")
        let page = try APIJSON.decoder().decode(ImagePage.self, from: Data(result.standardOutput.utf8))
        #expect(page.results == images)
        #expect(result.standardError.contains("less than the 12 hours") == (images == 0))
    }

    @Test(arguments: [
        ("2026-12-01T12:00:00+02:00", "2026-12-01T10:00:00"), ("2026-12-01T12:00:00+0200", "2026-12-01T10:00:00"),
        ("2026-12-01T08:30:00-01:30", "2026-12-01T10:00:00"), ("2026-12-01T10:00:00.999Z", "2026-12-01T10:00:00"),
        ("2026-12-01T10:00:00.5", "2026-12-01T10:00:00"), ("2026-12-01", "2026-12-01T00:00:00"),
    ])
    func timesWithOffsetsAndFractionsAreReadExactly(time: String, utc: String) async throws {
        let upload = try await sandbox.gzip(try await sandbox.makeExt4Disk())
        let image = try await json(Image.self, at: time, "upload", upload, "--label", "t", "--region", "us-east")
        #expect(APITimestamp.format(image.created) == utc)
    }

    @Test func aDiskNamedTwiceOrAFifoIsRefusedBeforeAnythingIsKept() async throws {
        let disk = try await sandbox.makeExt4Disk()
        let twice = try await sandbox.imagesctl(
            "server-delete", "--label", "web", "--active-hours", "13", disk, sandbox.folder.path + "/./disk.img")
        expectFailure(twice, advising: "name each disk once")

        let fifo = sandbox.path("pipe")
        #expect(mkfifo(fifo, 0o600) == 0)
        let refused = try await sandbox.imagesctl("server-delete", "--label", "web", "--active-hours", "13", fifo)
        expectFailure(refused, advising: "neither a regular file nor a block device")
        expectFailure(
            try await sandbox.imagesctl("capture", fifo), advising: "neither a regular file nor a block device")
        #expect(try await sandbox.imagesctl("list").standardOutput == "no images\n")
    }

    @Test func recoveryImagesAreKeptSevenDaysAtMost() async throws {
        let disk = try await sandbox.makeExt4Disk()
        let page = try await json(
            ImagePage.self, at: Self.deletion, "server-delete", "--label", "db", "--active-hours", "2000", disk)
        #expect(page.data.first?.expiry.map(APITimestamp.format) == "2026-12-08T10:00:00")
    }

    @Test func expireRemovesARecoveryImageOnlyOnceItsTimeHasCome() async throws {
        let disk = try await sandbox.makeExt4Disk()
        _ = try await json(
            ImagePage.self, at: Self.deletion, "server-delete", "--label", "web", "--active-hours", "12", disk)

        let early = try await json(ImagePage.self, at: "2026-12-01T21:59:59", "expire")
        #expect(early.results == 0)
        #expect(try await json(ImagePage.self, at: "2026-12-01T21:59:59", "list").results == 1)

        let due = try await json(ImagePage.self, at: "2026-12-01T22:00:01", "expire")
        #expect(due.data.map(\.id) == [.private(1)])
        #expect(try await json(ImagePage.self, at: "2026-12-01T22:00:01", "list").results == 0)
        #expect(try await json(ImagePage.self, at: "2026-12-01T22:00:02", "expire").results == 0)

        let events = try await json(EventList.self, at: "2026-12-02T00:00:00", "events", "--image", "private/1")
        #expect(events.data.last?.action == .imageExpire)
    }

    @Test func replicateKeepsExactlyTheRegionsAsked() async throws {
        let upload = try await sandbox.gzip(try await sandbox.makeExt4Disk())
        let image = try await json(
            Image.self, at: Self.deletion, "upload", upload, "--label", "base", "--region", "us-east")

        let both = try await json(Image.self, at: Self.deletion, "replicate", "private/1", "us-east", "eu-west")
        #expect(both.regions.map(\.region) == ["us-east", "eu-west"])
        #expect(both.regions.allSatisfy { $0.status == .available })
        #expect(both.totalSize == 2 * image.size)

        let moved = try await json(Image.self, at: Self.deletion, "replicate", "private/1", "eu-west")
        #expect(moved.regions == [ImageRegion(region: "eu-west", status: .available)])

        let stranded = try await sandbox.imagesctl("replicate", "private/1", "ap-south")
        expectFailure(stranded, advising: "so the new copies have a source")
        #expect(stranded.standardError.contains("[invalid_argument]"))
        expectFailure(try await sandbox.imagesctl("replicate", "private/1"), advising: "run imagesctl --help")
    }

    @Test func eventsListEveryChangeAndFilterByImage() async throws {
        let upload = try await sandbox.gzip(try await sandbox.makeExt4Disk())
        _ = try await json(Image.self, at: Self.deletion, "upload", upload, "--label", "a", "--region", "us-east")
        _ = try await json(Image.self, at: Self.deletion, "upload", upload, "--label", "b", "--region", "us-east")
        _ = try await json(Image.self, at: Self.deletion, "update", "private/2", "--label", "c")
        #expect(try await sandbox.imagesctl("--now", Self.deletion, "delete", "private/1").status == 0)

        let all = try await json(EventList.self, at: Self.deletion, "events").data
        #expect(all.count == 6)
        let second = try await json(EventList.self, at: Self.deletion, "events", "--image", "private/2").data
        #expect(
            second.map { "\($0.action.rawValue) \($0.status.rawValue)" } == [
                "image_upload started", "image_upload finished", "image_update finished",
            ])
        #expect(all.last.map { "\($0.entity) \($0.action.rawValue)" } == "private/1 image_delete")
    }

    @Test func billChargesEveryRegionForTheHoursItsCopyExisted() async throws {
        // One GB of zeros, $0.10 a month per region: 100 gzip members of 10 MB each.
        let raw = sandbox.path("zeros.raw")
        try await sandbox.tool("truncate", "-s", "10000000", raw)
        let member = try Data(contentsOf: URL(fileURLWithPath: try await sandbox.gzip(raw)))
        let upload = sandbox.path("zeros.img.gz")
        try Data((0..<100).flatMap { _ in member }).write(to: URL(fileURLWithPath: upload))
        _ = try await json(Image.self, at: "2026-12-01T00:00:00", "upload", upload, "--label", "z", "--region", "a")
        _ = try await json(Image.self, at: "2026-12-01T00:00:00", "replicate", "private/1", "a", "b")

        let month = try await json(
            InvoiceJSON.self, at: "2027-01-05T00:00:00", "bill", "--from", "2026-12-01", "--to", "2027-01-01")
        #expect(month.currency == "USD")
        #expect([month.from, month.to] == ["2026-12-01T00:00:00", "2027-01-01T00:00:00"])
        #expect(month.lines.map(\.summary) == ["private/1 a 744 1 0.10", "private/1 b 744 1 0.10"])
        #expect(month.total == "0.20")

        // 360 hours of the 730-hour month: 360 / 730 * 0.10 = 0.0493... per region.
        let half = try await json(
            InvoiceJSON.self, at: "2027-01-05T00:00:00", "bill", "--from", "2026-12-01", "--to", "2026-12-16")
        #expect(half.lines.map(\.summary) == ["private/1 a 360 1 0.05", "private/1 b 360 1 0.05"])
        #expect(half.total == "0.10")
    }

    @Test(arguments: [
        ["--now", "yesterday", "list"], ["bill", "--from", "2026-12-01"], ["bill", "--from", "soon", "--to", "x"],
        ["server-delete", "--label", "web", "--active-hours", "many", "disk.img"],
        ["server-delete", "--label", "web", "--active-hours", "12"], ["events", "--image", "web"],
        ["server-delete", "--label", "w", "--active-hours", "9999999999999999:00", "disk.img"],
        ["server-delete", "--label", "w", "--active-hours", "1.2.3", "disk.img"],
        ["server-delete", "--label", "w", "--active-hours", "12:+5", "disk.img"],
        ["server-delete", "--label", "w", "--active-hours", "+12", "disk.img"],
        ["server-delete", "--label", "w", "--active-hours", ".", "disk.img"],
        ["--now", "2026-12-01T00:00:00+1:00", "list"], ["--now", "2026-12-01T00:00:00+25:00", "list"],
        ["--now", "2026-12-01T00:00:00+02:60", "list"], ["--now", "2026-12-01T00:00:00Z0", "list"],
        ["--now", "2026-12-01T00:00:00+02:00Z", "list"], ["--now", "9999-12-31T00:00:00", "list"],
        ["--now", "2026-13-01", "list"], ["--now", "2026-02-30T00:00:00", "list"],
    ])
    func aBadTimeOrMissingArgumentPointsToHelp(arguments: [String]) async throws {
        let result = try await sandbox.imagesctl(arguments)
        #expect(result.status == 1)
        #expect(result.standardOutput.isEmpty)
        #expect(result.standardError.hasPrefix("imagesctl: "))
    }
}

/// The events list envelope.
struct EventList: Decodable {
    let data: [ImageEvent]
    let results: Int
}

/// The `bill --json` document.
struct InvoiceJSON: Decodable {
    struct Line: Decodable {
        let image: String
        let region: String
        let hours: Int
        let gb: String
        let amount: String

        var summary: String { "\(image) \(region) \(hours) \(gb) \(amount)" }
    }

    let from: String
    let to: String
    let currency: String
    let lines: [Line]
    let total: String
}
