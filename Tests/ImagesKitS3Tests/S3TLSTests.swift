import Foundation
import ImagesKit
import ImagesKitStoreContract
import ImagesKitTestSupport
import Testing

@testable import ImagesKitS3

/// HTTPS against the real object store: a TLS front on 127.0.0.1, with a certificate made for
/// the test by a private authority, passes every byte on to the object store.
@Suite("S3 store over HTTPS")
struct S3TLSTests {
    @Test("with the private authority given, content goes up in parts and comes back whole")
    func trustedAuthority() async throws {
        let front = try await TLSFront.start()
        var configuration = try await front.configuration()
        configuration.certificateAuthorities = front.authority
        let store = try S3ImageStore(configuration: configuration, region: "us-east")
        let bytes = S3TestBucket.payload(11 << 20 + 777, seed: 23)

        let same = try await S3TestBucket.roundTrip(store, bytes, piece: 3_000_017)

        #expect(same)
        #expect(front.connectionCount > 0)
    }

    @Test("a certificate from an authority nobody named is refused at once, with what to do")
    func unknownAuthority() async throws {
        let front = try await TLSFront.start()
        let store = try S3ImageStore(configuration: try await front.configuration(), region: "us-east")

        let error = await #expect(throws: ImagesKitError.self) { _ = try await store.records() }

        #expect(error?.code == .storeFailure)
        #expect(error?.message.contains("certificate is not trusted") == true, "\(error?.message ?? "")")
        #expect(error?.message.contains("in 1 attempt ") == true, "\(error?.message ?? "")")
        #expect(error?.message.contains("certificateAuthorities") == true)
        #expect(error?.message.contains("AWS_CA_BUNDLE") == true)
    }

    @Test("a certificate authorities file that can't be read is a configuration problem")
    func unreadableAuthorityFile() throws {
        var configuration = S3Configuration(
            endpoint: URL(string: "https://localhost:9")!, bucket: "images",
            credentials: S3Credentials(accessKeyID: "id", secretAccessKey: "secret"))
        configuration.certificateAuthorities = URL(fileURLWithPath: "/nonexistent/authority.pem")

        #expect(configuration.problem?.contains("/nonexistent/authority.pem") == true)
    }
}

/// A TLS server on 127.0.0.1 that hands each connection's bytes to the shared object store and
/// back: a Python process, stopped by its PID when the value goes away. Its certificate, for
/// `localhost`, is signed by an authority made for it alone.
final class TLSFront {
    /// The PEM file of the authority that signed the front's certificate.
    let authority: URL
    /// Its address, `https://localhost:PORT`.
    let endpoint: URL
    private let folder: URL
    private let process: Process
    private let log: URL

    private init(folder: URL, process: Process, port: Int) {
        self.folder = folder
        self.process = process
        self.authority = folder.appendingPathComponent("authority.pem")
        self.log = folder.appendingPathComponent("connections.log")
        self.endpoint = URL(string: "https://localhost:\(port)")!
    }

    deinit {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        try? FileManager.default.removeItem(at: folder)
    }

    /// Makes the authority and the certificate, then starts the front before the shared object
    /// store.
    static func start() async throws -> TLSFront {
        let server = try await offThePool { try ObjectStoreServer.shared() }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try await Shell.run(certificates(in: folder.path))
        let (process, port) = try S3TestBucket.startPythonServer(
            program, [folder.path, String(server.endpoint.port ?? 80)])
        return TLSFront(folder: folder, process: process, port: port)
    }

    /// A configuration for a fresh prefix of the shared bucket, through the front.
    func configuration() async throws -> S3Configuration {
        var configuration = try await S3TestBucket.configuration()
        configuration.endpoint = endpoint
        return configuration
    }

    /// How many connections the front has taken.
    var connectionCount: Int {
        ((try? String(contentsOf: log, encoding: .utf8)) ?? "").split(separator: "\n").count
    }

    /// openssl commands that make `authority.pem` and a certificate for localhost signed by it.
    private static func certificates(in folder: String) -> String {
        """
        set -e; cd '\(folder)'
        openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=imageskit-test-authority \
            -keyout authority.key -out authority.pem 2>/dev/null
        openssl req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout front.key -out front.csr 2>/dev/null
        printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > names.ext
        openssl x509 -req -in front.csr -CA authority.pem -CAkey authority.key -CAcreateserial -days 1 \
            -extfile names.ext -out front.pem 2>/dev/null
        """
    }

    private static let program = """
        import os, socket, ssl, sys, threading
        folder, upstream = sys.argv[1], int(sys.argv[2])
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(os.path.join(folder, "front.pem"), os.path.join(folder, "front.key"))
        log = open(os.path.join(folder, "connections.log"), "a")
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        print(listener.getsockname()[1], flush=True)
        def pump(source, sink):
            try:
                while True:
                    data = source.recv(1 << 16)
                    if not data:
                        break
                    sink.sendall(data)
            except OSError:
                pass
            for end in (source, sink):
                try:
                    end.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        def serve(client):
            try:
                secure = context.wrap_socket(client, server_side=True)
            except (OSError, ssl.SSLError):
                client.close()
                return
            log.write("connection\\n")
            log.flush()
            backend = socket.create_connection(("127.0.0.1", upstream))
            threading.Thread(target=pump, args=(backend, secure), daemon=True).start()
            pump(secure, backend)
        while True:
            client, _ = listener.accept()
            threading.Thread(target=serve, args=(client,), daemon=True).start()
        """
}
