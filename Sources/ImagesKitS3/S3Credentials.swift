import Foundation

/// The keys that sign requests to an S3-compatible service.
///
/// The secret never appears in descriptions, logs or errors.
public struct S3Credentials: Sendable, Hashable, CustomStringConvertible, CustomReflectable {
    /// The access key id, such as `AKIA...`, or `account:user` on OpenStack Swift's tempauth.
    public var accessKeyID: String
    /// The secret access key.
    public var secretAccessKey: String
    /// The session token of temporary credentials, sent as `X-Amz-Security-Token`.
    public var sessionToken: String?

    /// Creates credentials.
    public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
    }

    /// Reads `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and, when set, `AWS_SESSION_TOKEN`.
    ///
    /// - Parameter environment: The variables to read; by default the process's.
    /// - Returns: The credentials, or `nil` when the key id or the secret is missing or empty.
    public static func fromEnvironment(
        _ environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> S3Credentials? {
        guard let key = environment["AWS_ACCESS_KEY_ID"], !key.isEmpty,
            let secret = environment["AWS_SECRET_ACCESS_KEY"], !secret.isEmpty
        else { return nil }
        let token = environment["AWS_SESSION_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
        return S3Credentials(accessKeyID: key, secretAccessKey: secret, sessionToken: token)
    }

    /// The key id, with the secret and token left out.
    public var description: String {
        "S3Credentials(\(accessKeyID)\(sessionToken == nil ? "" : ", with session token"))"
    }

    /// The key id alone, so that `dump` and debuggers show no secret either.
    public var customMirror: Mirror {
        Mirror(self, children: ["accessKeyID": accessKeyID], displayStyle: .struct)
    }
}
