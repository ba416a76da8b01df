import Foundation

/// Where an ``S3ImageStore`` keeps its objects and how it talks to the service.
///
/// The defaults suit images up to the product's 6 GB limit: 32 MiB parts give at most 179 parts
/// (S3 allows 10,000, so one object may reach 312 GiB), and two parts of 32 MiB and four ranges
/// of 8 MiB in flight hold 64 and 32 MiB of content.
public struct S3Configuration: Sendable {
    /// How bucket names go into request addresses.
    public enum Addressing: String, Sendable {
        /// `https://endpoint/BUCKET/KEY`: works with every service and with IP-address endpoints.
        case pathStyle = "path"
        /// `https://BUCKET.endpoint/KEY`: what AWS prefers; the bucket must be a valid host name.
        case virtualHosted = "virtual"
    }

    /// The service's address, such as `https://s3.us-east-1.amazonaws.com`.
    public var endpoint: URL
    /// The region requests are signed for, such as `us-east-1`.
    public var region: String
    /// The bucket that holds the store.
    public var bucket: String
    /// The folder of keys the store uses inside the bucket: empty, or ending with `/`.
    public var prefix: String
    /// The keys that sign every request.
    public var credentials: S3Credentials
    /// How the bucket goes into addresses.
    public var addressing: Addressing
    /// The size of each part of a multipart upload, at least 5 MiB; 32 MiB by default.
    ///
    /// Every part is a request of its own that the service answers with work of its own (on
    /// OpenStack Swift, about 20 ms of server time a part), so larger parts upload faster: on
    /// loopback, 32 MiB parts two at a time went up about 20% faster than 8 MiB parts four at a
    /// time, with less memory.
    public var partByteCount: Int
    /// How many parts upload at once, 2 by default.
    public var partsInFlight: Int
    /// The size of each ranged GET that reads content back, 8 MiB by default.
    public var rangeByteCount: Int
    /// How many ranged GETs run ahead of the reader.
    public var rangesInFlight: Int
    /// A PEM file of the certificate authorities an `https` endpoint's certificate must come
    /// from, for a service behind a private authority; `nil` trusts the system's authorities.
    public var certificateAuthorities: URL?
    /// When requests that failed for a passing reason are tried again.
    public var retryPolicy: S3RetryPolicy
    /// How long a request may wait for the next bytes before it fails, in seconds.
    public var idleTimeout: TimeInterval
    /// How long one request may take in all, in seconds.
    public var requestTimeout: TimeInterval
    /// How old an unfinished multipart upload or undescribed content must be before the store
    /// removes it as abandoned, in seconds; younger ones may belong to a running process.
    public var abandonedAge: TimeInterval
    /// How long a claim on an image, or the admission lock, lasts without renewal, in seconds;
    /// a held claim is renewed every quarter of it. A process that dies blocks the image for
    /// at most this long.
    public var claimLease: TimeInterval

    /// Creates a configuration; `prefix` gets a trailing `/` when it lacks one.
    public init(
        endpoint: URL, region: String = "us-east-1", bucket: String, prefix: String = "",
        credentials: S3Credentials, addressing: Addressing = .pathStyle
    ) {
        self.endpoint = endpoint
        self.region = region
        self.bucket = bucket
        self.prefix = Self.folder(prefix)
        self.credentials = credentials
        self.addressing = addressing
        self.partByteCount = 32 << 20
        self.partsInFlight = 2
        self.rangeByteCount = 8 << 20
        self.rangesInFlight = 4
        self.retryPolicy = S3RetryPolicy()
        self.idleTimeout = 60
        self.requestTimeout = 600
        self.abandonedAge = 24 * 3600
        self.claimLease = 120
    }

    /// The smallest part S3 accepts, but for the last.
    public static let minimumPartByteCount = 5 << 20
    /// The most parts one upload may have.
    public static let maximumPartCount = 10_000

    /// Says what is wrong with the configuration, or `nil` when it can be used.
    public var problem: String? {
        guard let scheme = endpoint.scheme?.lowercased(), scheme == "http" || scheme == "https",
            endpoint.host?.isEmpty == false
        else { return "the endpoint \(endpoint.absoluteString) is not an http or https address" }
        guard (3...63).contains(bucket.count), bucket.allSatisfy(Self.isBucketCharacter),
            bucket.first != "-", bucket.first != "."
        else { return "\"\(bucket)\" is not a bucket name (3 to 63 lowercase letters, digits, dots, hyphens)" }
        guard !region.isEmpty else { return "the region is empty" }
        guard partByteCount >= Self.minimumPartByteCount else { return "parts must be at least 5 MiB" }
        guard partsInFlight >= 1, rangesInFlight >= 1, rangeByteCount >= 65_536 else {
            return "parts and ranges in flight must be at least 1, ranges at least 64 KiB"
        }
        guard partByteCount <= 5 << 30 else { return "parts must be at most 5 GiB" }
        if let file = certificateAuthorities, !FileManager.default.isReadableFile(atPath: file.path) {
            return "the certificate authorities file \(file.path) can't be read"
        }
        return nil
    }

    /// Parses `s3://BUCKET/PREFIX` into a bucket and a key prefix.
    ///
    /// - Parameter text: The store's address.
    /// - Returns: The bucket and prefix, or `nil` when `text` is not an `s3://` address.
    public static func parseStoreAddress(_ text: String) -> (bucket: String, prefix: String)? {
        guard text.hasPrefix("s3://") else { return nil }
        let rest = text.dropFirst(5)
        let bucket = rest.prefix { $0 != "/" }
        guard !bucket.isEmpty else { return nil }
        let prefix = rest.dropFirst(bucket.count).drop { $0 == "/" }
        return (String(bucket), folder(String(prefix)))
    }

    private static func folder(_ prefix: String) -> String {
        prefix.isEmpty || prefix.hasSuffix("/") ? prefix : prefix + "/"
    }

    private static func isBucketCharacter(_ character: Character) -> Bool {
        character.isASCII && (character.isLowercase || character.isNumber || character == "-" || character == ".")
    }
}

/// When and how often requests that failed for a passing reason are tried again: throttling,
/// server errors, timeouts and lost connections. Client errors are never retried.
public struct S3RetryPolicy: Sendable {
    /// The most times a request is sent, the first included.
    public var maximumAttempts: Int
    /// The wait before the first retry, in seconds; it doubles with every retry.
    public var initialDelay: TimeInterval
    /// The longest wait between two attempts, in seconds.
    public var maximumDelay: TimeInterval

    /// Creates a policy: by default six attempts over about 15 seconds.
    public init(maximumAttempts: Int = 6, initialDelay: TimeInterval = 0.5, maximumDelay: TimeInterval = 8) {
        self.maximumAttempts = max(1, maximumAttempts)
        self.initialDelay = initialDelay
        self.maximumDelay = maximumDelay
    }

    /// The wait before attempt `attempt` (2 for the first retry), with random jitter so that
    /// clients failing together do not retry together.
    func delay(beforeAttempt attempt: Int) -> TimeInterval {
        let full = min(maximumDelay, initialDelay * pow(2, Double(max(0, attempt - 2))))
        return full * Double.random(in: 0.5...1)
    }
}
