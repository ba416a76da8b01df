import Foundation
import ImagesKit
import ImagesKitFileSystem

/// One run of a command against a service.
struct Session {
    let service: ImageService
    let billing: MeteredBilling
    let arguments: Arguments
    let output: Output
    let bar = ProgressBar()

    func run() async throws {
        switch arguments.command {
        case "capture": try await capture()
        case "upload": try await upload()
        case "list": try await list()
        case "show": try await show()
        case "update": try await update()
        case "delete": try await delete()
        case "deploy": try await deploy()
        case "export": try await export()
        case "server-delete": try await serverDelete()
        case "expire": try await expire()
        case "replicate": try await replicate()
        case "events": try await events()
        case "bill": try await bill(billing, account: service.configuration.account)
        case "verify": try await verify()
        default: throw UsageError("unknown command \(arguments.command ?? ""); run imagesctl --help")
        }
    }

    var progress: ProgressHandler {
        let bar = self.bar
        return { bar.report($0) }
    }

    func imageID(_ position: Int = 0) throws -> ImageID {
        guard position < arguments.positional.count else {
            throw UsageError("\(arguments.command!) needs an image id; run imagesctl --help")
        }
        return try Self.parseImageID(arguments.positional[position])
    }

    static func parseImageID(_ text: String) throws -> ImageID {
        if let id = ImageID(text) { return id }
        if let number = Int(text), number > 0 { return .private(number) }
        throw UsageError("'\(text)' is not an image id such as private/12")
    }

    /// Lists every matching image, all pages gathered into one envelope.
    private func list() async throws {
        _ = try arguments.positional(0, "no arguments")
        var query = try listQuery()
        var page = try await service.images(query)
        var images = page.data
        while page.page < page.pages {
            query.page = page.page + 1
            page = try await service.images(query)
            images += page.data
        }
        try output.list(ImagePage(data: images, page: 1, pages: 1, results: images.count))
        try noteDamagedRecords()
    }

    /// Names on standard error each image left out of the list because its record is damaged.
    private func noteDamagedRecords() throws {
        guard let store = service.store as? FileSystemImageStore else { return }
        for (id, error) in try store.damagedRecords().sorted(by: { $0.key < $1.key }) {
            output.note("warning: \(id) is not listed: \(error.message) [\(error.code)]")
        }
    }

    private func listQuery() throws -> ImageQuery {
        let status = try arguments.value("--status").map { text in
            guard let status = ImageStatus(rawValue: text) else {
                throw UsageError("--status takes creating, pending_upload or available; got '\(text)'")
            }
            return status
        }
        let type = try arguments.value("--type").map { text in
            guard let type = ImageType(rawValue: text) else {
                throw UsageError("--type takes manual or automatic; got '\(text)'")
            }
            return type
        }
        return ImageQuery(
            pageSize: 500, label: try arguments.value("--label"), status: status, type: type,
            tags: arguments.values("--tag"))
    }

    private func show() async throws {
        _ = try arguments.positional(1, "one image ID")
        try output.show(try await service.image(try imageID()))
    }

    private func capture() async throws {
        let path = try arguments.positional(1, "one DISK")[0]
        let request = CaptureRequest(
            label: try arguments.value("--label"), description: try arguments.value("--description"),
            tags: arguments.values("--tag"), cloudInit: arguments.flags.contains("--cloud-init"),
            region: try arguments.value("--region"), format: try codecFormat())
        let disk = try FileDisk(path: path)
        let image = try await service.capture(request, from: disk, progress: progress)
        bar.clear()
        try output.show(image)
    }

    private func upload() async throws {
        let path = try arguments.positional(1, "one FILE.img.gz")[0]
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw UsageError("can't read \(path); check the path")
        }
        _ = try FileDisk(path: path)
        let id: ImageID
        if let text = try arguments.value("--image") {
            id = try Self.parseImageID(text)
        } else {
            id = try await createUpload()
        }
        let image = try await service.upload(id, fileAt: path, progress: progress)
        bar.clear()
        try output.show(image)
    }

    /// Step 1 of an upload, from the options: a `pending_upload` image waiting for its file.
    private func createUpload() async throws -> ImageID {
        let request = UploadRequest(
            label: try arguments.required("--label"), region: try arguments.required("--region"),
            description: try arguments.value("--description"), tags: arguments.values("--tag"),
            cloudInit: arguments.flags.contains("--cloud-init"), format: try codecFormat())
        return try await service.createUpload(request).image.id
    }

    private func update() async throws {
        _ = try arguments.positional(1, "one image ID")
        let tags = arguments.values("--tag")
        let change = ImageUpdate(
            label: try arguments.value("--label"), description: try arguments.value("--description"),
            tags: tags.isEmpty ? nil : tags)
        try output.show(try await service.update(try imageID(), change))
    }

    private func delete() async throws {
        _ = try arguments.positional(1, "one image ID")
        let id = try imageID()
        try await service.delete(id)
        output.message("deleted \(id)")
    }

    private func deploy() async throws {
        let words = try arguments.positional(2, "an image ID and a TARGET disk")
        let id = try imageID()
        let target = words[1]
        let size = try arguments.value("--size").map(SizeArgument.parse)
        if FileManager.default.fileExists(atPath: target) {
            try await rebuild(id, target, size)
        } else {
            try await service.deploy(id, toNewDiskAt: target, byteCount: size, progress: progress)
        }
        bar.clear()
        output.message("deployed \(id) to \(target)")
    }

    private func rebuild(_ id: ImageID, _ path: String, _ size: UInt64?) async throws {
        let disk = try FileDisk(path: path, writable: true)
        let originalSize = disk.byteCount
        if let size {
            guard size >= originalSize else {
                throw UsageError(
                    "--size \(size) is smaller than \(path) (\(originalSize) bytes) and a disk can't shrink; "
                        + "give a larger --size or leave it out")
            }
            try disk.resize(to: size)
        }
        do {
            try await service.deploy(id, to: disk, progress: progress)
        } catch let error as ImagesKitError where Self.refusedBeforeWriting.contains(error.code) {
            // Nothing was written yet, so undo the growth and leave the disk as it was.
            try? disk.resize(to: originalSize)
            throw error
        }
    }

    /// The deploy errors raised before a byte of the target is touched.
    private static let refusedBeforeWriting: Set<ImagesKitError.Code> = [
        .imageNotFound, .notModifiable, .invalidState, .unsupportedFormat, .diskTooSmall,
    ]

    private func export() async throws {
        let words = try arguments.positional(2, "an image ID and OUT.img.gz or OUT.img.xz")
        guard let format = [CompressionFormat.gzip, .xz].first(where: { words[1].hasSuffix($0.fileExtension) }) else {
            throw UsageError("the export's name must end in .img.gz or .img.xz, which says its format")
        }
        guard !FileManager.default.fileExists(atPath: words[1]) else {
            throw UsageError("\(words[1]) already exists; remove it first or choose another name")
        }
        try await service.export(try imageID(), to: words[1], format: format, progress: progress)
        bar.clear()
        output.message("exported \(words[1])")
    }
}
