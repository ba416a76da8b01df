import Foundation
import ImagesKit
import Testing

/// How `capture`, `show` and `list` print records: for people, and as the public API's JSON.
struct RecordOutputTests {
    let sandbox: Sandbox

    /// Every field of an image record in the public API's JSON.
    static let apiFields: Set<String> = [
        "id", "label", "description", "created", "updated", "created_by", "size", "total_size", "status", "type",
        "is_public", "deprecated", "vendor", "eol", "expiry", "capabilities", "tags", "regions",
    ]

    init() throws {
        sandbox = try Sandbox()
    }

    @Test func captureThenShowPrintsTheRecordWithItsSizeInMegabytes() async throws {
        let disk = try await sandbox.makeExt4Disk()
        let captured = try await sandbox.imagesctl(
            "capture", disk, "--label", "web golden", "--description", "the web tier", "--tag", "web")
        #expect(captured.status == 0, "\(captured.standardError)")
        let bytes = try await sandbox.uncompressedByteCount(of: "private/1")
        let megabytes = Image.megabytes(bytes)

        let shown = try await sandbox.imagesctl("show", "private/1")
        #expect(shown.status == 0 && shown.standardError.isEmpty)
        #expect(shown.standardOutput == captured.standardOutput)
        let fields = Self.fields(of: shown.standardOutput)
        #expect(fields["id"] == "private/1")
        #expect(fields["label"] == "web golden")
        #expect(fields["status"] == "available")
        #expect(fields["size"] == "\(megabytes) MB")
        #expect(fields["total size"] == "\(megabytes) MB")
        #expect(fields["description"] == "the web tier")
        #expect(fields["tags"] == "web")
        #expect(fields["regions"] == "local (available)")
    }

    @Test func showTakesABareImageNumber() async throws {
        _ = try await sandbox.capture(try await sandbox.makeExt4Disk(), label: "numbered")
        let byNumber = try await sandbox.imagesctl("show", "1")
        let byID = try await sandbox.imagesctl("show", "private/1")
        #expect(byNumber.status == 0)
        #expect(byNumber.standardOutput == byID.standardOutput)
    }

    @Test func listPrintsOneRowPerImageWithSizesInMegabytes() async throws {
        let disk = try await sandbox.makeExt4Disk()
        let first = try await sandbox.capture(disk, label: "first")
        let second = try await sandbox.capture(disk, label: "second one")

        let listed = try await sandbox.imagesctl("list")
        #expect(listed.status == 0 && listed.standardError.isEmpty)
        let lines = listed.standardOutput.split(separator: "\n").map(String.init)
        try #require(lines.count == 3, "\(listed.standardOutput)")
        #expect(
            lines[0].split(separator: " ", omittingEmptySubsequences: true) == [
                "ID", "LABEL", "STATUS", "SIZE", "CREATED",
            ])
        for (line, image) in zip(lines.dropFirst(), [first, second]) {
            #expect(line.hasPrefix("\(image.id) "))
            #expect(line.contains(" \(image.label) "))
            #expect(line.contains(" available "))
            #expect(line.contains(" \(image.size) MB "))
            #expect(line.hasSuffix(APITimestamp.format(image.created)))
        }
    }

    @Test func listOfAnEmptyStoreSaysSo() async throws {
        let listed = try await sandbox.imagesctl("list")
        #expect(listed.status == 0)
        #expect(listed.standardOutput == "no images\n")
    }

    @Test func sizesOfAThousandMegabytesAndMoreAlsoReadInGigabytes() async throws {
        let upload = try await makeMultiMemberUpload(mebibytes: 1100)
        let uploaded = try await sandbox.imagesctl("upload", upload, "--label", "big", "--region", "us-east")
        #expect(uploaded.status == 0, "\(uploaded.standardError)")

        // 1100 MiB is 1,153,433,600 bytes: 1154 MB, rounded up.
        #expect(Self.fields(of: uploaded.standardOutput)["size"] == "1154 MB (1.15 GB)")
        let listed = try await sandbox.imagesctl("list")
        #expect(listed.standardOutput.contains(" 1154 MB (1.15 GB) "))
        let image = try await sandbox.imagesctlJSON(Image.self, "show", "private/1")
        #expect(image.size == 1154)
    }

    @Test func jsonListIsTheAPIEnvelopeWithTheAPIFieldNames() async throws {
        let disk = try await sandbox.makeExt4Disk()
        let first = try await sandbox.capture(disk, label: "first", "--tag", "web")
        let second = try await sandbox.capture(disk, label: "second", "--region", "eu-west")

        let listed = try await sandbox.imagesctl("--json", "list")
        #expect(listed.status == 0 && listed.standardError.isEmpty)
        let envelope = try #require(
            try JSONSerialization.jsonObject(with: Data(listed.standardOutput.utf8)) as? [String: Any])
        #expect(Set(envelope.keys) == ["data", "page", "pages", "results"])
        #expect(envelope["page"] as? Int == 1)
        #expect(envelope["pages"] as? Int == 1)
        #expect(envelope["results"] as? Int == 2)
        let records = try #require(envelope["data"] as? [[String: Any]])
        #expect(records.count == 2)
        for record in records {
            #expect(Set(record.keys) == Self.apiFields)
        }
        #expect(records.map { $0["id"] as? String } == ["private/1", "private/2"])

        let page = try APIJSON.decoder().decode(ImagePage.self, from: Data(listed.standardOutput.utf8))
        #expect(page.data == [first, second])
    }

    @Test func jsonListOfAnEmptyStoreIsAnEmptyPage() async throws {
        let page = try await sandbox.imagesctlJSON(ImagePage.self, "list")
        #expect(page == ImagePage(data: [], page: 1, pages: 1, results: 0))
    }

    @Test func jsonShowRoundTripsThroughTheImageRecord() async throws {
        let disk = try await sandbox.makeExt4Disk()
        let captured = try await sandbox.capture(
            disk, label: "round trip", "--description", "kept as it is", "--tag", "zeta", "--tag", "alpha")

        let shown = try await sandbox.imagesctl("--json", "show", "private/1")
        #expect(shown.status == 0 && shown.standardError.isEmpty)
        let image = try APIJSON.decoder().decode(Image.self, from: Data(shown.standardOutput.utf8))
        #expect(image == captured)
        #expect(image.tags == ["alpha", "zeta"])
        #expect(image.description == "kept as it is")
        #expect(image.regions == [ImageRegion(region: "local", status: .available)])
        #expect(image.totalSize == image.size)

        let reencoded = try APIJSON.encoder(pretty: true).encode(image)
        #expect(String(decoding: reencoded, as: UTF8.self) + "\n" == shown.standardOutput)
    }

    @Test func captureKeepsTheFirstCopyInTheRegionAskedFor() async throws {
        let image = try await sandbox.capture(try await sandbox.makeExt4Disk(), label: "west", "--region", "eu-west")
        #expect(image.regions == [ImageRegion(region: "eu-west", status: .available)])
    }

    /// The `name  value` lines of a record printed for people, by name.
    static func fields(of output: String) -> [String: String] {
        var fields: [String: String] = [:]
        for line in output.split(separator: "\n") {
            guard let match = line.firstMatch(of: /^(\S+(?: \S+)*) {2,}(.*)$/) else { continue }
            fields[String(match.1)] = String(match.2)
        }
        return fields
    }

    /// Makes an upload of `mebibytes` MiB: a gzip'd 32 MiB ext4 disk followed by members of zeros.
    ///
    /// Appending copies of one small member keeps this fast where gzip'ing a large file is not.
    private func makeMultiMemberUpload(mebibytes: Int) async throws -> String {
        let disk = try await sandbox.makeExt4Disk()
        let upload = try await sandbox.gzip(disk)
        let zeros = sandbox.path("zeros-1m")
        try Data(count: 1 << 20).write(to: URL(fileURLWithPath: zeros))
        let zeroMember = try sandbox.contents(try await sandbox.gzip(zeros))

        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: upload))
        defer { try? handle.close() }
        try handle.seekToEnd()
        for _ in 0..<(mebibytes - 32) {
            try handle.write(contentsOf: zeroMember)
        }
        return upload
    }
}
