import Foundation
import ImagesKit
import ImagesKitMemory
import Testing

@Suite("Image record JSON")
struct ImageRecordJSONTests {
    /// 2026-12-04T15:09:43 and 2026-12-05T00:00:00 UTC, as seconds since 1970.
    static let created = Date(timeIntervalSince1970: 1_796_396_983)
    static let updated = Date(timeIntervalSince1970: 1_796_428_800)

    static let sample = Image(
        id: .private(7), label: "web", created: created, updated: updated, size: 1500, status: .available,
        capabilities: ["cloud-init"], tags: ["zeta", "alpha"],
        regions: [
            ImageRegion(region: "us-east", status: .available),
            ImageRegion(region: "eu-west", status: .pendingReplication),
        ])

    static func encode(_ image: Image) throws -> String {
        String(decoding: try APIJSON.encoder().encode(image), as: UTF8.self)
    }

    @Test func encodesTheAPIFieldNamesAndForms() throws {
        let expected =
            #"{"capabilities":["cloud-init"],"created":"2026-12-04T15:09:43","created_by":null,"#
            + #""deprecated":false,"description":null,"eol":null,"expiry":null,"id":"private/7","#
            + #""is_public":false,"label":"web","regions":[{"region":"us-east","status":"available"},"#
            + #"{"region":"eu-west","status":"pending replication"}],"size":1500,"status":"available","#
            + #""tags":["alpha","zeta"],"total_size":1500,"type":"manual","updated":"2026-12-05T00:00:00","#
            + #""vendor":null}"#
        #expect(try Self.encode(Self.sample) == expected)
    }

    @Test func totalSizeOfAnEnormousSizeStopsAtIntMaxInsteadOfOverflowing() throws {
        var image = Self.sample
        image.size = .max
        image.regions = [
            ImageRegion(region: "us-east", status: .available), ImageRegion(region: "eu-west", status: .available),
        ]
        #expect(image.totalSize == .max)
        #expect(try Self.encode(image).contains(#""total_size":\#(Int.max)"#))
    }

    @Test func encodesEveryRegionStatusWithTheAPISpelling() throws {
        let spellings: [RegionStatus: String] = [
            .available: "available", .creating: "creating", .pending: "pending",
            .pendingReplication: "pending replication", .replicating: "replicating",
            .pendingDeletion: "pending deletion",
        ]
        for status in RegionStatus.allCases {
            let json = try APIJSON.encoder().encode(ImageRegion(region: "ap-south", status: status))
            #expect(
                String(decoding: json, as: UTF8.self) == #"{"region":"ap-south","status":"\#(spellings[status]!)"}"#)
        }
    }

    @Test func timestampsDropFractionsOfASecond() throws {
        var image = Self.sample
        image.created = Self.created.addingTimeInterval(0.999)
        #expect(try Self.encode(image).contains(#""created":"2026-12-04T15:09:43""#))
    }

    @Test func decodesAHandWrittenAPIDocument() throws {
        let document = """
            {
              "id": "private/42",
              "label": "Debian 12, patched",
              "description": "golden image for the web tier",
              "created": "2026-01-31T23:59:59",
              "updated": "2026-02-01T00:00:10",
              "created_by": "alice",
              "size": 2500,
              "total_size": 9999,
              "status": "available",
              "type": "automatic",
              "is_public": false,
              "deprecated": false,
              "vendor": null,
              "eol": null,
              "expiry": "2026-02-08T00:00:10",
              "capabilities": ["cloud-init", "distributed-sites"],
              "tags": ["web", "debian"],
              "regions": [
                {"region": "us-east", "status": "available"},
                {"region": "fr-par", "status": "pending deletion"}
              ]
            }
            """
        let image = try APIJSON.decoder().decode(Image.self, from: Data(document.utf8))

        let expected = Image(
            id: .private(42), label: "Debian 12, patched", description: "golden image for the web tier",
            created: Date(timeIntervalSince1970: 1_769_903_999), updated: Date(timeIntervalSince1970: 1_769_904_010),
            createdBy: "alice", size: 2500, status: .available, type: .automatic,
            expiry: Date(timeIntervalSince1970: 1_770_508_810), capabilities: ["cloud-init", "distributed-sites"],
            tags: ["debian", "web"],
            regions: [
                ImageRegion(region: "us-east", status: .available),
                ImageRegion(region: "fr-par", status: .pendingDeletion),
            ])
        #expect(image == expected)
        #expect(image.tags == ["debian", "web"])
        #expect(image.totalSize == 2500)
    }

    @Test func decodingRefusesABadTimestampOrId() throws {
        let good = try Self.encode(Self.sample)
        for bad in [
            good.replacingOccurrences(of: "2026-12-04T15:09:43", with: "2026-12-04T15:09:43Z"),
            good.replacingOccurrences(of: "private/7", with: "private/07"),
            good.replacingOccurrences(of: #""status":"available","t"#, with: #""status":"ready","t"#),
        ] {
            #expect(throws: DecodingError.self) { try APIJSON.decoder().decode(Image.self, from: Data(bad.utf8)) }
        }
    }

    @Test(arguments: [
        sample,
        Image(id: .private(1), label: "x", created: created, status: .pendingUpload),
        Image(
            id: .private(900), label: "recovery 'db'", description: "kept \"after\" deletion / 7 days",
            created: created.addingTimeInterval(0.5), createdBy: "bob", size: 1, status: .available,
            type: .automatic, expiry: updated, tags: ["b-tag", "a-tag", "b-tag"],
            regions: [ImageRegion(region: "us-east", status: .replicating)]),
    ])
    func encodeDecodeEncodeIsByteForByte(_ image: Image) throws {
        let first = try APIJSON.encoder().encode(image)
        let decoded = try APIJSON.decoder().decode(Image.self, from: first)
        let second = try APIJSON.encoder().encode(decoded)
        #expect(first == second)
        #expect(decoded.created == APITimestamp.wholeSeconds(image.created))
    }

    @Test func totalSizeCountsOnlyAvailableCopies() {
        var image = Self.sample
        #expect(image.totalSize == 1500)
        image.regions.append(ImageRegion(region: "ap-west", status: .available))
        #expect(image.totalSize == 3000)
        image.regions = []
        #expect(image.totalSize == 0)
    }

    @Test(arguments: [
        (UInt64(0), 0), (1, 1), (999_999, 1), (1_000_000, 1), (1_000_001, 2), (6_000_000_000, 6000),
        (6_000_000_001, 6001),
    ])
    func megabytesRoundUp(_ bytes: UInt64, _ megabytes: Int) {
        #expect(Image.megabytes(bytes) == megabytes)
    }
}

@Suite("Image ids")
struct ImageIDTests {
    @Test(arguments: [
        ("private/1", ImageID.private(1)), ("private/123456789", .private(123_456_789)),
        ("linode/debian12", .public("debian12")), ("linode/ubuntu24.04", .public("ubuntu24.04")),
    ])
    func parsesTheAPIForms(_ text: String, _ id: ImageID) {
        #expect(ImageID(text) == id)
        #expect(ImageID(text)?.description == text)
    }

    @Test(arguments: [
        "private/0", "private/-1", "private/01", "private/1x", "private/", "", "private/ 1", "private/+1",
        "private/" + String(repeating: "9", count: 40), "Private/1", "private/1/2", "linode/", "linode/Debian",
        "other/1", "private/١",
    ])
    func refusesEverythingElse(_ text: String) {
        #expect(ImageID(text) == nil)
    }

    @Test func ordersAccountImagesByNumber() {
        let ids: [ImageID] = [.private(10), .private(9), .public("debian12"), .private(100)]
        #expect(ids.sorted() == [.public("debian12"), .private(9), .private(10), .private(100)])
    }
}

@Suite("API timestamps")
struct APITimestampTests {
    @Test(arguments: [
        "2026-02-30T00:00:00", "2025-02-29T00:00:00", "2026-13-01T00:00:00", "2026-00-10T00:00:00",
        "2026-12-00T00:00:00", "2026-12-04T24:00:00", "2026-12-04T15:60:00", "2026-12-04T15:09:60",
        "2026-12-04", "2026-12-04T15:09", "2026-12-04T15:09:43Z", "2026-12-04T15:09:43+00:00",
        "2026-12-04T15:09:43.5", "2026-12-04 15:09:43", "2026/12/04T15:09:43", "2026-1a-04T15:09:43",
        "", " 2026-12-04T15:09:4",
    ])
    func refusesBadText(_ text: String) {
        #expect(APITimestamp.parse(text) == nil)
    }

    @Test(arguments: ["2026-12-04T15:09:43", "2024-02-29T23:59:59", "1970-01-01T00:00:00", "2099-12-31T00:00:01"])
    func parsesAndFormatsTheSameText(_ text: String) throws {
        let date = try #require(APITimestamp.parse(text))
        #expect(APITimestamp.format(date) == text)
    }

    @Test func parsesAsUTC() {
        #expect(APITimestamp.parse("2026-12-04T15:09:43") == Date(timeIntervalSince1970: 1_796_396_983))
    }
}

@Suite("Update, delete and list")
struct ImageRecordServiceTests {
    /// Makes `count` pending uploads labelled `name-<n>`.
    static func makeUploads(_ harness: ServiceHarness, count: Int, name: String = "img") async throws -> [Image] {
        var images: [Image] = []
        for index in 1...count {
            let request = UploadRequest(label: "\(name)-\(index)", region: "us-east", tags: ["batch"])
            images.append(try await harness.service.createUpload(request).image)
        }
        return images
    }

    @Test func updateChangesOnlyLabelDescriptionAndTagsAndBumpsUpdated() async throws {
        let harness = ServiceHarness()
        let before = try await Self.makeUploads(harness, count: 1)[0]
        harness.clock.advance(by: 90.25)

        let after = try await harness.service.update(
            before.id,
            ImageUpdate(label: "renamed", description: "now described", tags: ["zzz", "aaa", "zzz"]))

        var expected = before
        expected.label = "renamed"
        expected.description = "now described"
        expected.tags = ["aaa", "zzz"]
        expected.updated = serviceTestStart.addingTimeInterval(90)
        #expect(after == expected)
        #expect(try await harness.service.image(before.id) == expected)
        #expect(try await harness.eventSummary(of: before.id) == ["image_upload started", "image_update finished"])
    }

    @Test func updateLeavesUnnamedFieldsAndClearsAnEmptyDescription() async throws {
        let harness = ServiceHarness()
        let id = try await Self.makeUploads(harness, count: 1)[0].id
        _ = try await harness.service.update(id, ImageUpdate(description: "first"))
        let after = try await harness.service.update(id, ImageUpdate(description: ""))
        #expect(after.label == "img-1")
        #expect(after.tags == ["batch"])
        #expect(after.description == nil)
    }

    @Test(arguments: [
        ImageUpdate(label: "bad/label"), ImageUpdate(label: ""), ImageUpdate(tags: ["no"]),
        ImageUpdate(description: String(repeating: "d", count: 65_001)),
    ])
    func invalidUpdateIsRefusedAndChangesNothing(_ update: ImageUpdate) async throws {
        let harness = ServiceHarness()
        let before = try await Self.makeUploads(harness, count: 1)[0]
        harness.clock.advance(by: 60)
        let error = await #expect(throws: ImagesKitError.self) { try await harness.service.update(before.id, update) }
        #expect(error?.code == .invalidArgument)
        #expect(try await harness.service.image(before.id) == before)
    }

    @Test func updateOfAnUnknownOrPublicImageIsRefused() async throws {
        let harness = ServiceHarness()
        let missing = await #expect(throws: ImagesKitError.self) {
            try await harness.service.update(.private(5), ImageUpdate(label: "x"))
        }
        #expect(missing?.code == .imageNotFound)
        let distribution = await #expect(throws: ImagesKitError.self) {
            try await harness.service.update(.public("debian12"), ImageUpdate(label: "x"))
        }
        #expect(distribution?.code == .notModifiable)
    }

    @Test func deleteRemovesTheImageForGood() async throws {
        let harness = ServiceHarness()
        let folder = try ServiceTestFolder()
        let image = try await harness.upload(try HostCheck.gzip(Array("some bytes".utf8), in: folder))
        try await harness.service.delete(image.id)

        let error = await #expect(throws: ImagesKitError.self) { try await harness.service.image(image.id) }
        #expect(error?.code == .imageNotFound)
        #expect(harness.store.storedBytes(of: image.id)?.count == nil)
        #expect(try await harness.store.records().isEmpty)
        #expect(try await harness.eventSummary(of: image.id).last == "image_delete finished")

        let again = await #expect(throws: ImagesKitError.self) { try await harness.service.delete(image.id) }
        #expect(again?.code == .imageNotFound)
        let next = try await harness.service.createUpload(UploadRequest(label: "next", region: "us-east"))
        #expect(next.image.id == .private(2))
    }

    @Test(arguments: [24, 501, 0, -25])
    func listRefusesPageSizesOutside25To500(_ size: Int) async throws {
        let harness = ServiceHarness()
        let error = await #expect(throws: ImagesKitError.self) {
            try await harness.service.images(ImageQuery(pageSize: size))
        }
        #expect(error?.code == .invalidArgument)
    }

    @Test func listRefusesPageZero() async throws {
        let error = await #expect(throws: ImagesKitError.self) {
            try await ServiceHarness().service.images(ImageQuery(page: 0))
        }
        #expect(error?.code == .invalidArgument)
    }

    @Test func listPagesInIdOrder() async throws {
        let harness = ServiceHarness(limits: ImageLimits(manualImageCount: 30))
        let images = try await Self.makeUploads(harness, count: 30)

        let first = try await harness.service.images(ImageQuery(page: 1, pageSize: 25))
        let second = try await harness.service.images(ImageQuery(page: 2, pageSize: 25))
        let third = try await harness.service.images(ImageQuery(page: 3, pageSize: 25))
        #expect(first.data == Array(images[..<25]))
        #expect(second.data == Array(images[25...]))
        #expect(third.data.isEmpty)
        #expect([first.pages, first.results, second.page] as [Int] == [2, 30, 2])

        let whole = try await harness.service.images(ImageQuery(pageSize: 500))
        #expect(whole.data == images)
        #expect(whole.pages == 1)
        #expect(try await harness.service.images().data.count == 30)
    }

    @Test func listFiltersByStatusTypeLabelAndTags() async throws {
        let harness = ServiceHarness()
        let folder = try ServiceTestFolder()
        let pending = try await Self.makeUploads(harness, count: 3, name: "Web")
        let available = try await harness.upload(try HostCheck.gzip([1, 2, 3], in: folder), label: "db-main")
        let recovery = Image(
            id: .private(try await harness.store.reserveImageNumber()), label: "recovery web",
            created: serviceTestStart, status: .available, type: .automatic, expiry: serviceTestStart)
        try await harness.store.save(StoredImage(image: recovery, homeRegion: "us-east"))

        let service = harness.service
        #expect(try await service.images(ImageQuery(status: .pendingUpload)).data == pending)
        #expect(try await service.images(ImageQuery(status: .available)).data == [available, recovery])
        #expect(try await service.images(ImageQuery(status: .creating)).data.isEmpty)
        #expect(try await service.images(ImageQuery(type: .automatic)).data == [recovery])
        #expect(try await service.images(ImageQuery(type: .manual)).data == pending + [available])
        #expect(try await service.images(ImageQuery(label: "WEB")).data == pending + [recovery])
        #expect(try await service.images(ImageQuery(label: "web-2")).data == [pending[1]])
        #expect(try await service.images(ImageQuery(label: "web", type: .automatic)).data == [recovery])
        #expect(try await service.images(ImageQuery(tags: ["batch"])).data == pending)
        #expect(try await service.images(ImageQuery(tags: ["batch", "other"])).results == 0)
    }

    @Test func getOfAPublicImageIsNotFoundAndChangingItIsNotModifiable() async throws {
        let service = ServiceHarness().service
        let missing = await #expect(throws: ImagesKitError.self) { try await service.image(.public("debian12")) }
        #expect(missing?.code == .imageNotFound)

        let update = await #expect(throws: ImagesKitError.self) {
            try await service.update(.public("debian12"), ImageUpdate(label: "mine"))
        }
        let delete = await #expect(throws: ImagesKitError.self) { try await service.delete(.public("debian12")) }
        let replicate = await #expect(throws: ImagesKitError.self) {
            try await service.replicate(.public("debian12"), to: ["us-east"])
        }
        #expect([update?.code, delete?.code, replicate?.code] == [.notModifiable, .notModifiable, .notModifiable])
    }
}
