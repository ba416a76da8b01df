import Foundation

/// A disk of a deleted server, offered for a recovery image.
public struct ServerDisk: Sendable {
    /// The disk's content.
    public var disk: any DiskSource
    /// The disk's label in the control plane, such as `Debian 12 Disk`; by default the
    /// filesystem's volume label, else the disk's name.
    public var label: String?

    /// Creates a server disk.
    public init(_ disk: any DiskSource, label: String? = nil) {
        self.disk = disk
        self.label = label
    }
}

/// A server the application has deleted, as the recovery rules need it.
public struct DeletedServer: Sendable {
    /// The server's label.
    public var label: String
    /// The server's disks.
    public var disks: [ServerDisk]
    /// How long the server was active.
    public var activeTime: TimeInterval
    /// The region its recovery images are kept in; by default the store's.
    public var region: String?

    /// Creates a deleted server's description.
    public init(label: String, disks: [ServerDisk], activeTime: TimeInterval, region: String? = nil) {
        self.label = label
        self.disks = disks
        self.activeTime = activeTime
        self.region = region
    }
}

/// What became of a deleted server's disks.
public struct RecoveryOutcome: Sendable {
    /// A disk that got no recovery image, and why.
    public struct SkippedDisk: Sendable {
        /// The disk's name.
        public var disk: String
        /// Why it was skipped: not ext3/ext4, the server too briefly active, or a failed capture.
        public var reason: ImagesKitError
    }

    /// The recovery images made, one per eligible disk, in the order of the disks.
    public var images: [Image]
    /// The disks that got none.
    public var skipped: [SkippedDisk]
}

extension ImageService {
    /// Keeps a deleted server's ext3/ext4 disks as free, temporary recovery images.
    ///
    /// A server active for at least the recovery policy's minimum (12 hours) gets one
    /// `automatic` image per ext3/ext4 disk. Each expires after as long as the server was
    /// active, at most the policy's maximum (7 days) after deletion; ``expire()`` removes it
    /// then. Recovery images count toward no quota or size limit and are never billed. A disk
    /// that can't be captured is skipped and reported; the others are still kept.
    /// - Parameters:
    ///   - server: The deleted server: its label, disks and active time.
    ///   - progress: Receives each capture's progress.
    /// - Returns: The images made and the disks skipped with their reasons.
    /// - Throws: ``ImagesKitError`` with `invalid_argument` for a negative active time, or
    ///   `cancelled`; images finished before a cancellation are kept.
    public func serverDeleted(_ server: DeletedServer, progress: ProgressHandler? = nil) async throws -> RecoveryOutcome
    {
        try checkActiveTime(server.activeTime)
        if let region = server.region { try Self.validateRegion(region) }
        guard server.activeTime >= configuration.recovery.minimumActiveTime else {
            return RecoveryOutcome(images: [], skipped: server.disks.map { skip($0, tooBrieflyActive(server)) })
        }
        var outcome = RecoveryOutcome(images: [], skipped: [])
        for disk in server.disks {
            try Task.checkCancellation()
            do {
                outcome.images.append(try await keepRecoveryImage(of: disk, server, progress ?? { _ in }))
            } catch let error as ImagesKitError where error.code != .cancelled {
                outcome.skipped.append(skip(disk, error))
            }
        }
        return outcome
    }

    private func keepRecoveryImage(
        of disk: ServerDisk, _ server: DeletedServer, _ progress: ProgressHandler
    ) async throws -> Image {
        let filesystem = try DiskProbe.capturableFilesystem(on: disk.disk)
        let diskLabel = disk.label ?? filesystem.label ?? disk.disk.name
        let deleted = now()
        let kept = min(server.activeTime.rounded(.up), configuration.recovery.maximumRetention)
        var fields = try ImageFields(
            label: Self.recoveryLabel(server: server.label, disk: diskLabel),
            description: "Recovery image of disk \(Self.excerpt(diskLabel)) of server \(Self.excerpt(server.label)), "
                + "deleted \(APITimestamp.format(deleted))",
            tags: [], cloudInit: false, createdBy: nil)
        fields.type = .automatic
        fields.expiry = deleted.addingTimeInterval(kept)
        return try await capture(fields, region: server.region, from: disk.disk, progress: progress)
    }

    /// A label naming the server and the disk, within the label rules: each part is cut so
    /// both fit in 50 characters.
    static func recoveryLabel(server: String, disk: String) -> String {
        let separator = " - "
        let room = ImageRules.maximumLabelLength - separator.count
        let serverPart = ImageRules.label(derivedFrom: server, fallback: "server")
        let diskPart = ImageRules.label(derivedFrom: disk, fallback: "disk")
        let serverRoom = max(room - diskPart.count, room / 2)
        let serverCut = ImageRules.label(derivedFrom: String(serverPart.prefix(serverRoom)), fallback: "server")
        let diskCut = ImageRules.label(
            derivedFrom: String(diskPart.prefix(room - serverCut.count)), fallback: "disk")
        return serverCut + separator + diskCut
    }

    /// Text for a generated message: at most 200 characters, control characters shown as `?`.
    static func excerpt(_ text: String) -> String {
        let cut = text.count > 200 ? text.prefix(199) + "…" : Substring(text)
        return String(
            String.UnicodeScalarView(cut.unicodeScalars.map { $0.properties.generalCategory == .control ? "?" : $0 }))
    }

    private func checkActiveTime(_ activeTime: TimeInterval) throws {
        guard activeTime.isFinite, activeTime >= 0 else {
            throw ImagesKitError(
                .invalidArgument, "the server's active time must be zero or more seconds; got \(activeTime)",
                context: ["field": "active_time"])
        }
    }

    private func tooBrieflyActive(_ server: DeletedServer) -> ImagesKitError {
        let hours = Int(configuration.recovery.minimumActiveTime / 3600)
        return ImagesKitError(
            .invalidState,
            "server \(server.label) was active \(Int(server.activeTime)) seconds, less than the \(hours) hours "
                + "that earn recovery images; its disks were not kept")
    }

    private func skip(_ disk: ServerDisk, _ reason: ImagesKitError) -> RecoveryOutcome.SkippedDisk {
        RecoveryOutcome.SkippedDisk(disk: disk.label ?? disk.disk.name, reason: reason)
    }
}
