import Foundation
import ImagesKit
import ImagesKitFileSystem
import ImagesKitGzip
import ImagesKitS3
import ImagesKitXz

/// `imageskit-bench`: runs one ImagesKit operation against a folder store and prints how long
/// the operation itself took, without the program's start-up.
///
/// `scripts/benchmark.sh` drives it, one operation per process, so that each operation's peak
/// memory can be read from `/usr/bin/time`.
@main
enum Benchmark {
    static let usage = """
        usage: imageskit-bench STORE OPERATION ARGUMENT...

          STORE capture DISK gzip|xz     captures DISK at level 6 into STORE
          STORE upload FILE.img.gz       validates FILE and stores it as a new image
          STORE deploy ID TARGET         deploys image ID to the new disk file TARGET
          STORE export ID OUT.img.gz     writes image ID to OUT as a standard file

          s3://BUCKET/PREFIX put FILE [S3 OPTION]...     stores FILE's bytes as a new image's content
          s3://BUCKET/PREFIX get ID OUT [S3 OPTION]...   writes image ID's content to the new file OUT

        STORE is a folder. An s3:// store is reached at $S3_ENDPOINT (else $AWS_ENDPOINT_URL_S3),
        signed for $S3_REGION (else $AWS_REGION, else us-east-1) with $AWS_ACCESS_KEY_ID and
        $AWS_SECRET_ACCESS_KEY. S3 options, each with a whole number, change the store's defaults:
        --part-mib N (part size), --parts N (parts in flight), --range-mib N (ranged GET size),
        --ranges N (ranged GETs in flight).

        Prints "seconds S image ID" on one line.
        """

    static func main() async {
        do {
            let (seconds, image) = try await run(Array(CommandLine.arguments.dropFirst()))
            print("seconds \(String(format: "%.3f", seconds)) image \(image)")
        } catch {
            FileHandle.standardError.write(Data("imageskit-bench: \(describe(error))\n".utf8))
            exit(1)
        }
    }

    /// Runs the operation the words name and returns its duration in seconds and the image it used.
    static func run(_ words: [String]) async throws -> (Double, ImageID) {
        guard words.count >= 3 else { throw BenchmarkUsageError() }
        if words[0].hasPrefix("s3://") { return try await runS3(words) }
        let service = try makeService(store: words[0])
        let operation = Operation(service: service, arguments: Array(words.dropFirst(2)))
        switch words[1] {
        case "capture": return try await operation.capture()
        case "upload": return try await operation.upload()
        case "deploy": return try await operation.deploy()
        case "export": return try await operation.export()
        default: throw BenchmarkUsageError()
        }
    }

    /// Runs `put` or `get` against the S3 store the first word names.
    static func runS3(_ words: [String]) async throws -> (Double, ImageID) {
        var positional: [String] = []
        var options: [String: Int] = [:]
        var rest = words.dropFirst(2)[...]
        while let word = rest.popFirst() {
            guard S3Operation.optionNames.contains(word) else {
                positional.append(word)
                continue
            }
            guard let text = rest.popFirst(), let value = Int(text), value > 0 else { throw BenchmarkUsageError() }
            options[word] = value
        }
        let operation = try await S3Operation.open(words[0], options: options, arguments: positional)
        switch words[1] {
        case "put": return try await operation.put()
        case "get": return try await operation.get()
        default: throw BenchmarkUsageError()
        }
    }

    /// A service over a folder store with both codecs, gzip first, as `imagesctl` composes it.
    static func makeService(store path: String) throws -> ImageService {
        let store = try FileSystemImageStore(folder: URL(fileURLWithPath: path))
        var configuration = ImageServiceConfiguration()
        configuration.compressionLevel = 6
        return ImageService(
            store: store, compressor: GzipCompressor(), otherCodecs: [XzCompressor()],
            configuration: configuration)
    }

    static func describe(_ error: any Error) -> String {
        switch error {
        case let error as ImagesKitError: "\(error.message) [\(error.code)]"
        case is BenchmarkUsageError: "\n" + usage
        default: "\(error)"
        }
    }
}

/// The words did not name an operation and its arguments.
struct BenchmarkUsageError: Error {}
