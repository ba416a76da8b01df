import Foundation
import ImagesKitS3

/// Reads the S3 store's settings from the command line and the standard AWS variables.
enum S3Options {
    /// The configuration for `--store s3://BUCKET/PREFIX`.
    static func configuration(
        _ address: String, _ arguments: Arguments,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> S3Configuration {
        guard let (bucket, prefix) = S3Configuration.parseStoreAddress(address) else {
            throw UsageError("--store \(address) is not s3://BUCKET/PREFIX")
        }
        let endpointText =
            try arguments.value("--s3-endpoint") ?? nonEmpty(environment["AWS_ENDPOINT_URL_S3"])
            ?? nonEmpty(environment["AWS_ENDPOINT_URL"])
        guard let endpointText, let endpoint = URL(string: endpointText), endpoint.host != nil else {
            throw UsageError("an s3:// store needs the service's address: --s3-endpoint https://HOST[:PORT]")
        }
        guard let credentials = S3Credentials.fromEnvironment(environment) else {
            throw UsageError("an s3:// store needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment")
        }
        let region =
            try arguments.value("--s3-region") ?? nonEmpty(environment["AWS_REGION"])
            ?? nonEmpty(environment["AWS_DEFAULT_REGION"]) ?? "us-east-1"
        let addressingText = try arguments.value("--s3-addressing") ?? "path"
        guard let addressing = S3Configuration.Addressing(rawValue: addressingText) else {
            throw UsageError("--s3-addressing takes path or virtual, not \(addressingText)")
        }
        var configuration = S3Configuration(
            endpoint: endpoint, region: region, bucket: bucket, prefix: prefix, credentials: credentials,
            addressing: addressing)
        configuration.certificateAuthorities = nonEmpty(environment["AWS_CA_BUNDLE"]).map {
            URL(fileURLWithPath: $0)
        }
        return configuration
    }

    private static func nonEmpty(_ text: String?) -> String? {
        text.flatMap { $0.isEmpty ? nil : $0 }
    }
}
