import Foundation
import ImagesKitTestSupport
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

@Suite("The object store server of the S3 tests")
struct ObjectStoreServerTests {
    @Test("the shared server starts once, makes buckets and answers S3 requests")
    func sharedServer() async throws {
        let server = try ObjectStoreServer.shared()
        #expect(try ObjectStoreServer.shared() === server)
        #expect(server.endpoint.host == "127.0.0.1" || server.endpoint.host == "localhost")
        #expect(!server.region.isEmpty && !server.accessKeyID.isEmpty && !server.secretAccessKey.isEmpty)
        try server.makeBucket("objectstore-server-tests")
        try server.makeBucket("objectstore-server-tests")  // already ours: fine
        try await expectRefusesUnknownKey(server)
        #expect(throws: ObjectStoreServerError.self) { try server.makeBucket("Not_A_Bucket_Name") }
    }

    @Test("a server of its own stops, then starts again on the same port over the same objects")
    func stopAndStartAgain() async throws {
        let server = try ObjectStoreServer.dedicated()
        defer { try? server.remove() }
        #expect(FileManager.default.fileExists(atPath: server.stateFolder.appendingPathComponent("env").path))
        try server.makeBucket("kept")
        #expect(try await get(server.endpoint.appendingPathComponent("healthcheck")).body == "OK")
        let content = Data((0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        try await putThroughSwiftAPI(server, bucket: "kept", key: "before-the-stop", content: content)

        try server.stop()
        await #expect(throws: (any Error).self) {
            try await get(server.endpoint.appendingPathComponent("healthcheck"))
        }
        try server.start()
        try server.start()  // running already: only checks it

        #expect(try await get(server.endpoint.appendingPathComponent("healthcheck")).body == "OK")
        try await expectRefusesUnknownKey(server)
        #expect(try await getThroughSwiftAPI(server, bucket: "kept", key: "before-the-stop") == content)
        try server.makeBucket("kept")
        try server.makeBucket("made-after-the-restart")
    }
}

/// A session that keeps nothing between requests and gives up soon on a stopped server.
private let session: URLSession = {
    let configuration = URLSessionConfiguration.ephemeral
    configuration.timeoutIntervalForRequest = 10
    return URLSession(configuration: configuration)
}()

@discardableResult
private func get(
    _ url: URL, headers: [String: String] = [:]
) async throws -> (
    status: Int, headers: [AnyHashable: Any], body: String
) {
    var request = URLRequest(url: url)
    for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
    let (data, response) = try await session.data(for: request)
    let http = try #require(response as? HTTPURLResponse)
    return (http.statusCode, http.allHeaderFields, String(decoding: data, as: UTF8.self))
}

/// An S3 ListBuckets with a SigV4 header of an access key that does not exist: any S3 server answers 403 with an
/// XML error, which shows it speaks S3 without any credentials being needed for the check.
private func expectRefusesUnknownKey(_ server: ObjectStoreServer) async throws {
    let formatter = DateFormatter()
    formatter.locale = Locale(identifier: "en_US_POSIX")
    formatter.timeZone = TimeZone(identifier: "UTC")
    formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
    let now = formatter.string(from: Date())
    let scope = "\(now.prefix(8))/\(server.region)/s3/aws4_request"
    let answer = try await get(
        server.endpoint,
        headers: [
            "Authorization": "AWS4-HMAC-SHA256 Credential=nobody/\(scope), "
                + "SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=\(String(repeating: "0", count: 64))",
            "x-amz-date": now,
            "x-amz-content-sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        ])
    #expect(answer.status == 403)
    #expect(answer.body.contains("<Error>") && answer.body.contains("<Code>"))
}

/// Swift's own API with a tempauth token: a way to put and read objects without signing S3 requests.
private func swiftToken(_ server: ObjectStoreServer) async throws -> (storage: URL, token: String) {
    let answer = try await get(
        server.endpoint.appendingPathComponent("auth/v1.0"),
        headers: ["X-Auth-User": server.accessKeyID, "X-Auth-Key": server.secretAccessKey])
    #expect(answer.status == 200)
    let header = { (name: String) in
        answer.headers.first { ($0.key as? String)?.lowercased() == name }?.value as? String
    }
    let storage = try #require(header("x-storage-url").flatMap(URL.init(string:)))
    #expect(storage.host == server.endpoint.host)
    return (storage, try #require(header("x-auth-token")))
}

private func putThroughSwiftAPI(_ server: ObjectStoreServer, bucket: String, key: String, content: Data) async throws {
    let (storage, token) = try await swiftToken(server)
    var request = URLRequest(url: storage.appendingPathComponent(bucket).appendingPathComponent(key))
    request.httpMethod = "PUT"
    request.setValue(token, forHTTPHeaderField: "X-Auth-Token")
    let (_, response) = try await session.upload(for: request, from: content)
    #expect((response as? HTTPURLResponse)?.statusCode == 201)
}

private func getThroughSwiftAPI(_ server: ObjectStoreServer, bucket: String, key: String) async throws -> Data {
    let (storage, token) = try await swiftToken(server)
    var request = URLRequest(url: storage.appendingPathComponent(bucket).appendingPathComponent(key))
    request.setValue(token, forHTTPHeaderField: "X-Auth-Token")
    let (data, response) = try await session.data(for: request)
    #expect((response as? HTTPURLResponse)?.statusCode == 200)
    return data
}
