import Foundation
import ImagesKit

/// The commands of the service's rules (recovery images, expiry, replication, events, billing)
/// and of codecs.
extension Session {
    /// The format `--codec` names for keeping an image, or `nil` for the default (gzip).
    func codecFormat() throws -> CompressionFormat? {
        guard let name = try arguments.value("--codec") else { return nil }
        guard let format = [CompressionFormat.gzip, .xz].first(where: { $0.name == name }) else {
            throw UsageError("--codec takes gzip or xz; got '\(name)'")
        }
        return format
    }

    func verify() async throws {
        let path = try arguments.positional(1, "one FILE")[0]
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw UsageError("can't read \(path); check the path")
        }
        let checked = try await service.verify(fileAt: path, progress: progress)
        bar.clear()
        try output.verified(checked)
    }

    func serverDelete() async throws {
        guard !arguments.positional.isEmpty else {
            throw UsageError("server-delete needs at least one DISK; run imagesctl --help")
        }
        let hours = try HoursArgument.parse(try arguments.required("--active-hours"))
        let disks = try arguments.positional.map { ServerDisk(try FileDisk(path: $0)) }
        try Self.refuseRepeatedDisks(disks)
        let server = DeletedServer(
            label: try arguments.required("--label"), disks: disks, activeTime: hours,
            region: try arguments.value("--region"))
        let outcome = try await service.serverDeleted(server, progress: progress)
        bar.clear()
        for skipped in outcome.skipped {
            output.note("no recovery image of \(skipped.disk): \(skipped.reason.message) [\(skipped.reason.code)]")
        }
        try output.list(ImagePage(data: outcome.images, page: 1, pages: 1, results: outcome.images.count))
    }

    /// A disk named twice (by the same or another path) would be kept twice.
    private static func refuseRepeatedDisks(_ disks: [ServerDisk]) throws {
        var seen: [String: String] = [:]
        for disk in disks {
            var status = stat()
            guard let file = disk.disk as? FileDisk, stat(file.path, &status) == 0 else { continue }
            let identity = "\(status.st_dev):\(status.st_ino):\(status.st_rdev)"
            if let earlier = seen.updateValue(file.path, forKey: identity) {
                throw UsageError("\(file.path) is the same disk as \(earlier); name each disk once")
            }
        }
    }

    func expire() async throws {
        _ = try arguments.positional(0, "no arguments")
        let sweep = try await service.expire()
        guard !output.json else {
            let removed = sweep.removed
            return try output.printJSON(ImagePage(data: removed, page: 1, pages: 1, results: removed.count))
        }
        for image in sweep.expiredRecoveryImages { output.message("expired recovery image \(image.id)") }
        for image in sweep.closedUploads { output.message("removed \(image.id): its upload window closed") }
        if sweep.removed.isEmpty { output.message("nothing has expired") }
    }

    func replicate() async throws {
        guard arguments.positional.count >= 2 else {
            throw UsageError("replicate takes an image ID and every REGION it should be in; run imagesctl --help")
        }
        let image = try await service.replicate(
            try imageID(), to: Array(arguments.positional.dropFirst()), progress: progress)
        bar.clear()
        try output.show(image)
    }

    func events() async throws {
        _ = try arguments.positional(0, "no arguments")
        let id = try arguments.value("--image").map(Self.parseImageID)
        try output.events(try await service.events(for: id))
    }

    func bill(_ billing: MeteredBilling, account: String) async throws {
        _ = try arguments.positional(0, "no arguments")
        let from = try TimeArgument.parse(try arguments.required("--from"), option: "--from")
        let to = try TimeArgument.parse(try arguments.required("--to"), option: "--to")
        let invoice = try await billing.invoice(account: account, from: from, to: to, asOf: service.clock.now())
        try output.invoice(invoice)
    }
}
