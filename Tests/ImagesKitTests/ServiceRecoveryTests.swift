import Foundation
import ImagesKit
import ImagesKitMemory
import ImagesKitTestSupport
import Testing

@Suite("Service recovery images")
struct ServiceRecoveryTests {
    let folder: ServiceTestFolder

    init() throws {
        folder = try ServiceTestFolder()
    }

    @Test func serverActiveUnderTwelveHoursLeavesNoImage() async throws {
        let harness = ServiceHarness()
        let disks = [ServerDisk(try SmallDisk.ext(in: folder), label: "root"), ServerDisk(SmallDisk.zeros())]
        let outcome = try await harness.deleteServer(disks: disks, activeTime: 12 * hour - 60)

        #expect(outcome.images.isEmpty)
        #expect(outcome.skipped.map(\.disk) == ["root", "blank"])
        #expect(outcome.skipped.allSatisfy { $0.reason.code == .invalidState })
        #expect(outcome.skipped.first?.reason.message.contains("12 hours") == true)
        #expect(try await harness.store.records().isEmpty)
        #expect(try await harness.store.events().isEmpty)
    }

    @Test func serverActiveTwelveHoursKeepsEachExtThreeAndExtFourDisk() async throws {
        let harness = ServiceHarness()
        let disks = [
            ServerDisk(try SmallDisk.ext("ext4", in: folder, name: "root.img"), label: "Debian 12 Disk"),
            ServerDisk(SmallDisk.zeros(name: "swap")),
            ServerDisk(try SmallDisk.ext("ext3", in: folder, name: "data.img")),
            ServerDisk(try SmallDisk.ext("ext2", in: folder, name: "old.img"), label: "Old Disk"),
        ]
        let outcome = try await harness.deleteServer("web-01", disks: disks, activeTime: 12 * hour)

        #expect(outcome.images.map(\.label) == ["web-01 - Debian 12 Disk", "web-01 - data.img"])
        #expect(outcome.skipped.map(\.disk) == ["swap", "Old Disk"])
        #expect(outcome.skipped.map(\.reason.code) == [.unsupportedFilesystem, .unsupportedFilesystem])
        #expect(outcome.skipped.last?.reason.message.contains("ext2") == true)
        #expect(outcome.skipped.first?.reason.message.contains("no filesystem") == true)

        let expiry = serviceTestStart.addingTimeInterval(12 * hour)
        for image in outcome.images {
            #expect(image.type == .automatic && image.status == .available)
            #expect(image.expiry == expiry)
            #expect(image.regions == [ImageRegion(region: "local", status: .available)])
            #expect(image.capabilities == ["distributed-sites"])
            #expect(image.createdBy == nil)
            #expect(try await harness.service.image(image.id) == image)
            let events = try await harness.eventSummary(of: image.id)
            #expect(events == ["disk_imagize started", "disk_imagize finished"])
        }
        let filesystems = try await harness.store.records().map { $0.content?.filesystem }
        #expect(filesystems == ["ext4", "ext3"])
    }

    /// Active times and how long after deletion their recovery images are kept.
    static let retentions: [(active: TimeInterval, kept: TimeInterval)] = [
        (12 * hour, 12 * hour), (3 * day, 3 * day), (7 * day, 7 * day), (30 * day, 7 * day),
    ]

    @Test(arguments: retentions)
    func recoveryImageExpiresAfterTheActiveTimeAtMostSevenDays(
        _ activeTime: TimeInterval, _ kept: TimeInterval
    ) async throws {
        let harness = ServiceHarness()
        harness.clock.advance(by: 5 * day + 17)
        let deleted = harness.clock.now()
        let outcome = try await harness.deleteServer(
            disks: [ServerDisk(try SmallDisk.ext(in: folder))], activeTime: activeTime)

        let image = try #require(outcome.images.first)
        #expect(image.created == deleted)
        #expect(image.expiry == deleted.addingTimeInterval(kept))
    }

    @Test func recoveryLabelNamesServerAndDiskWithinTheLabelRules() async throws {
        let server = "prod/database:primary ünïcødé server with a very long name indeed #1"
        let disk = "Ubuntu 24.04 LTS Disk — the boot volume, labelled far too long"
        let harness = ServiceHarness()
        let outcome = try await harness.deleteServer(
            server, disks: [ServerDisk(try SmallDisk.ext(in: folder), label: disk)])
        let label = try #require(outcome.images.first?.label)

        try ImageRules.validateLabel(label)
        #expect(label.count > 40 && label.count <= ImageRules.maximumLabelLength, "\(label)")
        let parts = label.components(separatedBy: " - ")
        try #require(parts.count == 2, "\(label)")
        let serverLabel = ImageRules.label(derivedFrom: server)
        let diskLabel = ImageRules.label(derivedFrom: disk)
        #expect(serverLabel.hasPrefix(parts[0]) && parts[0].count >= 20, "\(parts[0]) of \(serverLabel)")
        #expect(diskLabel.hasPrefix(parts[1]) && parts[1].count >= 20, "\(parts[1]) of \(diskLabel)")
        #expect(parts[0].count < serverLabel.count && parts[1].count < diskLabel.count, "both are cut")
        #expect(parts[0].hasPrefix("prod_database_primary"))
        #expect(parts[1].hasPrefix("Ubuntu 24.04 LTS Disk"))
    }

    /// Server and disk labels of every awkward kind, with a part each must keep.
    static let awkwardLabels: [(server: String, disk: String, serverPart: String, diskPart: String)] = [
        ("a", "b", "a", "b"),
        ("", "   ", "server", "disk"),
        ("////", "🙂🙂", "____", "__"),
        (String(repeating: "s", count: 80), "sda", String(repeating: "s", count: 44), "sda"),
        ("db", String(repeating: "d", count: 80), "db", String(repeating: "d", count: 45)),
        (
            String(repeating: "x", count: 22) + "    tail", String(repeating: "y", count: 60),
            String(repeating: "x", count: 22), String(repeating: "y", count: 20)
        ),
        ("tab\tserver\n", "disk\u{0}nul", "tab_server_", "disk_nul"),
    ]

    @Test(arguments: awkwardLabels)
    func recoveryLabelOfAwkwardNamesIsAlwaysValid(
        _ labels: (server: String, disk: String, serverPart: String, diskPart: String)
    ) async throws {
        let harness = ServiceHarness()
        let outcome = try await harness.deleteServer(
            labels.server, disks: [ServerDisk(try SmallDisk.ext(in: folder), label: labels.disk)])
        let label = try #require(outcome.images.first?.label)

        #expect(throws: Never.self) { try ImageRules.validateLabel(label) }
        let parts = label.components(separatedBy: " - ")
        #expect(parts.count == 2, "\(label)")
        #expect(parts.first?.hasPrefix(labels.serverPart) == true, "\(label)")
        #expect(parts.last?.hasPrefix(labels.diskPart) == true, "\(label)")
    }

    @Test func recoveryImageDeploysToACleanFilesystemAndIsFree() async throws {
        let billing = RecordingBilling()
        let harness = ServiceHarness(billing: billing)
        let files = ExtImageMaker.sampleFiles(seed: 31)
        let source = try SmallDisk.ext(in: folder, files: files)
        let image = try #require(try await harness.deleteServer(disks: [ServerDisk(source)]).images.first)

        let target = MemoryDisk(name: "restored", byteCount: 12 << 20)
        try target.fill(with: 0x5A)
        try await harness.service.deploy(image.id, to: target)
        let path = try target.dump(to: "restored.img", in: folder)
        #expect(try HostCheck.filesystemIsClean(at: path))
        let found = try HostCheck.extFiles(files.keys, inImageAt: path)
        for (name, bytes) in files { expectSameBytes(found[name], bytes, name) }

        let started = billing.all
        #expect(started.map(\.kind) == [.started])
        #expect(started.allSatisfy { $0.type == .automatic && $0.image == image.id && $0.region == "local" })
        harness.clock.advance(by: 12 * hour)
        #expect(try await harness.service.expire().expiredRecoveryImages.map(\.id) == [image.id])
        #expect(billing.all.map(\.kind) == [.started, .ended])
        #expect(billing.all.allSatisfy { $0.type == .automatic })
    }

    @Test(arguments: [-1, -Double.infinity, .nan])
    func impossibleActiveTimeIsRefused(_ activeTime: TimeInterval) async throws {
        let harness = ServiceHarness()
        let error = await expectImagesKitError {
            try await harness.deleteServer(disks: [ServerDisk(SmallDisk.zeros())], activeTime: activeTime)
        }
        #expect(error?.code == .invalidArgument)
        #expect(error?.context["field"] == "active_time")
    }
}
