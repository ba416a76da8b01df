import Foundation
import ImagesKit
import ImagesKitFileSystem
import ImagesKitGzip
import ImagesKitS3
import ImagesKitXz

/// `imagesctl`: captures, uploads, lists, deploys and exports disk images in a local store.
@main
enum Imagesctl {
    static let usage = """
        usage: imagesctl [--store DIR | --store s3://BUCKET/PREFIX --s3-endpoint URL] [--json] [--now TIME]
                         [--accept-xz] COMMAND

          capture DISK [--label L] [--region R] [--description D] [--tag T]... [--cloud-init]
                  [--codec gzip|xz]
          upload FILE.img.gz --label L --region R [--description D] [--tag T]... [--cloud-init]
                  [--codec gzip|xz]
          upload FILE.img.gz --image ID   sends the file again to a pending_upload image
          list [--label TEXT] [--status S] [--type manual|automatic] [--tag T]...
          show ID
          update ID [--label L] [--description D] [--tag T]...
          delete ID
          deploy ID TARGET [--size SIZE]   makes TARGET at SIZE if missing, rebuilds it if present
          export ID OUT.img.gz|OUT.img.xz   the name's extension says the format
          verify FILE                      checks a .gz or .xz file as an upload would; stores nothing
          server-delete --label L --active-hours H [--region R] DISK...
                                           keeps a deleted server's ext3/ext4 disks as recovery images
          expire                           removes expired recovery images and closed upload windows
          replicate ID REGION...           the complete set of regions the image should be in
          events [--image ID]
          bill --from TIME --to TIME       the invoice for the period; TO is not included

        SIZE takes K, M, G or T suffixes in powers of 1024 (1500M is 1500 MiB).
        TIME is ISO 8601 such as 2026-12-04T15:09:43 (UTC unless it has a Z or offset), or a
        date such as 2026-12-01 for its midnight UTC. --now makes the clock read TIME.
        H is hours such as 12, 11.5 or 11:59 (hours:minutes).
        --codec says how an image is kept: captures as gzip by default, uploads as they came.
        Uploads are taken as .img.gz; --accept-xz takes .img.xz too. Exports never replace a file.
        The store defaults to $XDG_DATA_HOME/imageskit, else ~/.local/share/imageskit.
        --store s3://BUCKET/PREFIX keeps images in an S3-compatible object store at --s3-endpoint URL
        (else $AWS_ENDPOINT_URL_S3 or $AWS_ENDPOINT_URL), signed for --s3-region (else $AWS_REGION,
        else us-east-1) with $AWS_ACCESS_KEY_ID, $AWS_SECRET_ACCESS_KEY and $AWS_SESSION_TOKEN;
        --s3-addressing path (the default) or virtual says how the bucket goes into addresses.
        """

    static func main() async {
        let words = Array(CommandLine.arguments.dropFirst())
        let task = Task { try await run(words) }
        let interrupt = cancelOnInterrupt(task)
        let result = await task.result
        interrupt.cancel()
        switch result {
        case .success:
            exit(0)
        case .failure(let error):
            FileHandle.standardError.write(Data("imagesctl: \(describe(error))\n".utf8))
            exit(1)
        }
    }

    static func run(_ words: [String]) async throws {
        let arguments = try Arguments(words)
        if arguments.flags.contains("--help") || arguments.command == nil {
            print(usage)
            return
        }
        let (store, ledger) = try await openStore(arguments)
        let billing = MeteredBilling(ledger: ledger)
        var configuration = ImageServiceConfiguration()
        if arguments.flags.contains("--accept-xz") { configuration.uploadFormats.insert("xz") }
        let service = ImageService(
            store: store, compressor: GzipCompressor(), otherCodecs: [XzCompressor()], billing: billing,
            clock: try clock(arguments), configuration: configuration)
        // Whatever a killed run left half-made goes before anything is read.
        try await service.recoverInterruptedWork()
        let session = Session(
            service: service, billing: billing, arguments: arguments,
            output: Output(json: arguments.flags.contains("--json")))
        try await session.run()
    }

    /// The system clock, or a clock stopped at `--now`.
    static func clock(_ arguments: Arguments) throws -> any ImagesClock {
        guard let text = try arguments.value("--now") else { return SystemClock() }
        return FixedClock(time: try TimeArgument.parse(text, option: "--now"))
    }

    /// The store `--store` names, and the ledger kept beside it.
    static func openStore(_ arguments: Arguments) async throws -> (any ImageStore, any UsageLedger) {
        if let address = try arguments.value("--store"), address.hasPrefix("s3://") {
            let store = try await S3ImageStore.open(configuration: try S3Options.configuration(address, arguments))
            return (store, S3UsageLedger(store: store))
        }
        let folder = try storeFolder(arguments)
        let store = try FileSystemImageStore(folder: folder)
        return (store, FileUsageLedger(file: folder.appendingPathComponent("usage.jsonl")))
    }

    static func storeFolder(_ arguments: Arguments) throws -> URL {
        if let path = try arguments.value("--store") { return URL(fileURLWithPath: path) }
        let environment = ProcessInfo.processInfo.environment
        if let data = environment["XDG_DATA_HOME"], !data.isEmpty {
            return URL(fileURLWithPath: data).appendingPathComponent("imageskit")
        }
        let home = environment["HOME"] ?? NSHomeDirectory()
        return URL(fileURLWithPath: home).appendingPathComponent(".local/share/imageskit")
    }

    static func describe(_ error: any Error) -> String {
        switch error {
        case let error as ImagesKitError: "\(error.message) [\(error.code)]" + causeSuffix(error.cause)
        case let error as UsageError: "\(error.description)"
        case is CancellationError: "cancelled; nothing the command had started was kept"
        default: "\(error)"
        }
    }

    /// The cause on the same line: whitespace folded, cut to a readable length.
    static func causeSuffix(_ cause: (any Error & Sendable)?) -> String {
        guard let cause else { return "" }
        let words = "\(cause)".split(whereSeparator: \.isWhitespace).joined(separator: " ")
        return " (cause: \(words.count > 300 ? words.prefix(300) + "..." : words))"
    }

    static func cancelOnInterrupt(_ task: Task<Void, any Error>) -> any DispatchSourceSignal {
        signal(SIGINT, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGINT)
        source.setEventHandler { task.cancel() }
        source.resume()
        return source
    }
}

/// A clock that always reads the same time.
struct FixedClock: ImagesClock {
    let time: Date

    func now() -> Date { time }
}
