import Foundation
import ImagesKit
import ImagesKitTestSupport
import Testing

/// `imagesctl --store s3://BUCKET/PREFIX --s3-endpoint URL` against a real object store: every
/// command works as with a folder store.
@Suite("imagesctl with an S3 store")
struct S3StoreTests {
    let sandbox: Sandbox
    let server: ObjectStoreServer
    let address = "s3://imagesctl-tests/run-\(UUID().uuidString.prefix(8).lowercased())"

    init() async throws {
        sandbox = try Sandbox()
        let server = try await offThePool { try ObjectStoreServer.shared() }
        try await offThePool { try server.makeBucket("imagesctl-tests") }
        self.server = server
    }

    func environment(secret: String? = nil) -> [String: String] {
        var environment = Programs.environment
        environment["AWS_ACCESS_KEY_ID"] = server.accessKeyID
        environment["AWS_SECRET_ACCESS_KEY"] = secret ?? server.secretAccessKey
        environment.removeValue(forKey: "AWS_SESSION_TOKEN")
        return environment
    }

    func imagesctl(_ arguments: String..., secret: String? = nil) async throws -> ProcessResult {
        let options = [
            "--store", address, "--s3-endpoint", server.endpoint.absoluteString, "--s3-region", server.region,
        ]
        return try await Programs.run(
            Programs.imagesctl, options + arguments, environment: environment(secret: secret),
            outputsIn: sandbox.folder)
    }

    @Test func captureListDeployExportBillAndDeleteWorkAsWithAFolderStore() async throws {
        let disk = try await sandbox.makeExt4Disk()
        let captured = try await imagesctl("capture", disk, "--label", "golden")
        #expect(captured.status == 0, "\(captured.standardError)")
        let upload = try await sandbox.gzip(disk)
        let uploaded = try await imagesctl("upload", upload, "--label", "upload", "--region", "us-east")
        #expect(uploaded.status == 0, "\(uploaded.standardError)")

        let listed = try await imagesctl("list")
        #expect(listed.standardOutput.contains("golden") && listed.standardOutput.contains("upload"))
        let target = sandbox.path("deployed.img")
        let deployed = try await imagesctl("deploy", "private/2", target)
        #expect(deployed.status == 0, "\(deployed.standardError)")
        #expect(FileManager.default.contentsEqual(atPath: target, andPath: disk))
        let exported = try await imagesctl("export", "private/1", sandbox.path("out.img.gz"))
        #expect(exported.status == 0, "\(exported.standardError)")
        let updated = try await imagesctl("update", "private/1", "--label", "renamed")
        #expect(updated.status == 0 && updated.standardOutput.contains("renamed"))
        let events = try await imagesctl("events")
        #expect(events.standardOutput.contains("disk_imagize") && events.standardOutput.contains("image_upload"))
        let bill = try await imagesctl("bill", "--from", "2020-01-01", "--to", "2100-01-01")
        #expect(bill.status == 0, "\(bill.standardError)")
        #expect(try await imagesctl("delete", "private/1").status == 0)
        #expect(try await imagesctl("show", "private/1").status != 0)
    }

    @Test func aWrongSecretIsRefusedWithWhatToCheckAndTheSecretUnsaid() async throws {
        let result = try await imagesctl("list", secret: "wrong-secret-value")
        #expect(result.status == 1)
        #expect(result.standardError.contains("SignatureDoesNotMatch"))
        #expect(result.standardError.contains("AWS_SECRET_ACCESS_KEY"))
        #expect(!result.standardError.contains("wrong-secret-value"))
    }

    @Test func anS3StoreWithoutAnEndpointOrCredentialsSaysWhatIsMissing() async throws {
        let noEndpoint = try await Programs.run(
            Programs.imagesctl, ["--store", address, "list"], environment: environment(), outputsIn: sandbox.folder)
        #expect(noEndpoint.status != 0 && noEndpoint.standardError.contains("--s3-endpoint"))
        var bare = Programs.environment
        bare.removeValue(forKey: "AWS_ACCESS_KEY_ID")
        bare.removeValue(forKey: "AWS_SECRET_ACCESS_KEY")
        let noKeys = try await Programs.run(
            Programs.imagesctl, ["--store", address, "--s3-endpoint", server.endpoint.absoluteString, "list"],
            environment: bare, outputsIn: sandbox.folder)
        #expect(noKeys.status != 0 && noKeys.standardError.contains("AWS_ACCESS_KEY_ID"))
    }
}
