import Foundation

/// A real S3-compatible object store for tests: OpenStack Swift with its S3 layer (s3api) and tempauth, which
/// `scripts/objectstore.sh` runs on 127.0.0.1 in a state folder of its own.
///
/// ``shared()`` starts one server per test process, the first time a test asks for it, and stops it when the process
/// exits. Tests that stop the server on purpose take one of their own from ``dedicated()`` instead, since other tests
/// use the shared one at the same time.
///
/// When `IMAGESKIT_S3_ENDPOINT` is set, ``shared()`` uses that server and starts nothing. It must listen on this
/// machine's loopback; `IMAGESKIT_S3_REGION` (default `us-east-1`), `IMAGESKIT_S3_ACCESS_KEY_ID` and
/// `IMAGESKIT_S3_SECRET_ACCESS_KEY` (or `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`) tell the rest.
///
/// Requests go path-style: `endpoint/bucket/key`.
public final class ObjectStoreServer: Sendable {
    /// The S3 endpoint, such as `http://127.0.0.1:21080`.
    public let endpoint: URL
    /// The region that requests are signed for.
    public let region: String
    /// The access key ID. tempauth's keys are `account:user`, so it holds a colon.
    public let accessKeyID: String
    /// The secret access key.
    public let secretAccessKey: String
    /// The folder of the server's configuration, objects, logs and `env` file.
    public let stateFolder: URL
    /// Whether this process started the server, and so can stop and start it: false for a server named by
    /// `IMAGESKIT_S3_ENDPOINT`.
    public let isManaged: Bool
    /// The first of the server's six ports, kept so that a restart listens where the server listened before.
    private let basePort: Int

    private init(settings: [String: String], stateFolder: URL, isManaged: Bool, basePort: Int) throws {
        func value(_ key: String) throws -> String {
            guard let value = settings[key], !value.isEmpty else {
                throw ObjectStoreServerError.badSettings("\(key) is missing from \(stateFolder.path)/env")
            }
            return value
        }
        let endpointText = try value("S3_ENDPOINT")
        guard let endpoint = URL(string: endpointText), let host = endpoint.host,
            Self.loopbackHosts.contains(host), endpoint.scheme == "http"
        else {
            throw ObjectStoreServerError.badSettings(
                "S3 endpoint \(endpointText) is not an http:// address on 127.0.0.1 or localhost")
        }
        self.endpoint = endpoint
        self.region = try value("S3_REGION")
        self.accessKeyID = try value("AWS_ACCESS_KEY_ID")
        self.secretAccessKey = try value("AWS_SECRET_ACCESS_KEY")
        self.stateFolder = stateFolder
        self.isManaged = isManaged
        self.basePort = basePort
    }

    // MARK: - Getting a server

    /// The server of this test process: started on first use (once, whichever thread asks first) on ports unlikely to
    /// be taken, and stopped and removed with its state folder when the process exits.
    ///
    /// Do not stop it: other tests use it at the same time. Throws ``ObjectStoreServerError/packagesMissing(_:)``
    /// when the object store's Debian packages are not installed.
    public static func shared() throws -> ObjectStoreServer {
        try sharedServer.get()
    }

    /// A new server for this caller alone, with a state folder and ports of its own, for tests that stop and start
    /// it. It is removed when the process exits, or earlier by ``remove()``. It always runs here, even when
    /// `IMAGESKIT_S3_ENDPOINT` names another server.
    public static func dedicated() throws -> ObjectStoreServer {
        try checkNoProxyInTheWay()
        return try startNew()
    }

    private static let sharedServer = Result<ObjectStoreServer, any Error> {
        try checkNoProxyInTheWay()
        if let external = ProcessInfo.processInfo.environment["IMAGESKIT_S3_ENDPOINT"], !external.isEmpty {
            return try useExternal(endpoint: external)
        }
        return try startNew()
    }

    // MARK: - Using a server

    /// Creates the bucket `name`; a bucket of that name that is already this user's is fine.
    public func makeBucket(_ name: String) throws {
        try Self.runScript(["bucket", stateFolder.path, name])
    }

    /// Stops the server's processes, as a crash would, keeping its objects for ``start()``.
    public func stop() throws {
        try requireManaged("stop")
        try Self.runScript(["stop", stateFolder.path])
    }

    /// Starts the server again after ``stop()``, on the same ports, over the same objects; returns once it answers.
    /// Does nothing but check its health when it runs.
    public func start() throws {
        try requireManaged("start")
        try Self.runScript(["start", stateFolder.path], environment: Self.startEnvironment(basePort: basePort))
    }

    /// Stops the server and removes its state folder, objects included. Nothing works on it afterwards.
    public func remove() throws {
        try requireManaged("remove")
        try Self.runScript(["stop", stateFolder.path, "--purge"])
        Registry.shared.forget(stateFolder)
    }

    private func requireManaged(_ what: String) throws {
        guard isManaged else {
            throw ObjectStoreServerError.notManaged(
                "cannot \(what) the server at \(endpoint.absoluteString): this process did not start it")
        }
    }

    // MARK: - Starting

    private static let loopbackHosts: Set<String> = ["127.0.0.1", "localhost"]

    /// Starts a server in a fresh temporary state folder, moving to other ports while the chosen ones are taken.
    private static func startNew() throws -> ObjectStoreServer {
        let folder = FileManager.default.temporaryDirectory
            .appendingPathComponent("imageskit-objectstore-\(UUID().uuidString.prefix(8).lowercased())")
        // Six ports in a row from 20000 to 32000: below Linux's ephemeral ports (32768 and up), spread by process ID
        // so that test processes running side by side seldom pick the same ones, and by a count of the servers this
        // process started so that its own servers never do.
        let slots = 1500
        var slot = (Int(getpid()) + Registry.shared.nextServer() * 211) % slots
        for _ in 0..<8 {
            let basePort = 20000 + slot * 8
            let result = try runScript(
                ["start", folder.path], environment: startEnvironment(basePort: basePort), allowFailure: true)
            switch result.status {
            case 0:
                Registry.shared.remember(folder, managed: true)
                return try ObjectStoreServer(
                    settings: try readSettings(folder.appendingPathComponent("env")), stateFolder: folder,
                    isManaged: true, basePort: basePort)
            case Script.portsTaken:
                slot = (slot + 97) % slots
            case Script.packagesMissing:
                try? FileManager.default.removeItem(at: folder)
                throw ObjectStoreServerError.packagesMissing(
                    "The object store's Debian packages are missing. Install them with `scripts/install-packages.sh`"
                        + " as root (it never installs python3-swiftclient, whose `swift` command would hide the"
                        + " Swift toolchain).")
            default:
                _ = try? runScript(["stop", folder.path, "--purge"], allowFailure: true)
                throw ObjectStoreServerError.scriptFailed(result.description)
            }
        }
        _ = try? runScript(["stop", folder.path, "--purge"], allowFailure: true)
        throw ObjectStoreServerError.scriptFailed("no free set of ports found after 8 tries")
    }

    /// The environment of `objectstore.sh start`: the ports, this process as the owner (so that the server stops
    /// even when the process dies without running its exit handlers), and no package installs from a test run.
    private static func startEnvironment(basePort: Int) -> [String: String] {
        var environment = ["OBJECTSTORE_BASE_PORT": String(basePort), "OBJECTSTORE_OWNER_PID": String(getpid())]
        if ProcessInfo.processInfo.environment["OBJECTSTORE_INSTALL"] == nil {
            environment["OBJECTSTORE_INSTALL"] = "0"
        }
        return environment
    }

    /// A server started by someone else, described by `IMAGESKIT_S3_*`. Its state folder holds only an `env` file in
    /// the script's format, so that ``makeBucket(_:)`` works on it too.
    private static func useExternal(endpoint: String) throws -> ObjectStoreServer {
        let environment = ProcessInfo.processInfo.environment
        func setting(_ names: String...) throws -> String {
            for name in names {
                if let value = environment[name], !value.isEmpty { return value }
            }
            throw ObjectStoreServerError.badSettings(
                "IMAGESKIT_S3_ENDPOINT is set but \(names.joined(separator: " or ")) is not")
        }
        let settings = [
            "S3_ENDPOINT": endpoint,
            "S3_REGION": environment["IMAGESKIT_S3_REGION"].flatMap { $0.isEmpty ? nil : $0 } ?? "us-east-1",
            "AWS_ACCESS_KEY_ID": try setting("IMAGESKIT_S3_ACCESS_KEY_ID", "AWS_ACCESS_KEY_ID"),
            "AWS_SECRET_ACCESS_KEY": try setting("IMAGESKIT_S3_SECRET_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY"),
        ]
        let folder = FileManager.default.temporaryDirectory
            .appendingPathComponent("imageskit-objectstore-external-\(UUID().uuidString.prefix(8).lowercased())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let lines = settings.keys.sorted().map { "\($0)=\(settings[$0]!)\n" }.joined()
        try Data(lines.utf8).write(to: folder.appendingPathComponent("env"))
        Registry.shared.remember(folder, managed: false)
        return try ObjectStoreServer(settings: settings, stateFolder: folder, isManaged: false, basePort: 0)
    }

    /// Reads the `KEY=VALUE` lines of an `env` file.
    private static func readSettings(_ file: URL) throws -> [String: String] {
        let text = try String(contentsOf: file, encoding: .utf8)
        var settings: [String: String] = [:]
        for line in text.split(separator: "\n") {
            guard let equals = line.firstIndex(of: "=") else { continue }
            settings[String(line[..<equals])] = String(line[line.index(after: equals)...])
        }
        return settings
    }

    /// FoundationNetworking on Linux sends every request through the proxy that `http_proxy` or `all_proxy` names,
    /// those to 127.0.0.1 too, unless `no_proxy` lists the host. Refuse to run rather than send test traffic there.
    private static func checkNoProxyInTheWay() throws {
        let environment = ProcessInfo.processInfo.environment
        let proxy = ["http_proxy", "all_proxy", "ALL_PROXY"].compactMap { environment[$0] }.first { !$0.isEmpty }
        guard let proxy else { return }
        let exceptions = [environment["no_proxy"], environment["NO_PROXY"]].compactMap { $0 }
            .flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces) }
        guard exceptions.contains("*") || exceptions.contains("127.0.0.1") else {
            throw ObjectStoreServerError.badSettings(
                "a proxy is set (\(proxy)) and no_proxy does not list 127.0.0.1: requests to the object store would"
                    + " go to the proxy; run the tests with no_proxy=127.0.0.1")
        }
    }

    // MARK: - Running the script

    /// What `scripts/objectstore.sh` exits with.
    private enum Script {
        static let packagesMissing: Int32 = 3
        static let portsTaken: Int32 = 75
    }

    /// The outcome of one run of the script.
    fileprivate struct Outcome: CustomStringConvertible {
        let arguments: [String]
        let status: Int32
        let output: String
        let errors: String

        var description: String {
            "`scripts/objectstore.sh \(arguments.joined(separator: " "))` exited with \(status): "
                + String((errors.isEmpty ? output : errors).suffix(3000))
        }
    }

    /// `scripts/objectstore.sh`, found from this file's place in the package.
    private static let script = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("scripts/objectstore.sh")

    /// Runs the script with `arguments`, the environment of this process plus `environment`, its output in files
    /// rather than pipes (the servers it starts outlive it), and throws when it fails unless `allowFailure`.
    @discardableResult
    fileprivate static func runScript(
        _ arguments: [String], environment: [String: String] = [:], allowFailure: Bool = false
    ) throws -> Outcome {
        guard FileManager.default.fileExists(atPath: script.path) else {
            throw ObjectStoreServerError.scriptFailed("\(script.path) is missing")
        }
        let scratch = FileManager.default.temporaryDirectory
            .appendingPathComponent("imageskit-objectstore-run-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let outputFile = scratch.appendingPathComponent("out")
        let errorsFile = scratch.appendingPathComponent("err")
        _ = FileManager.default.createFile(atPath: outputFile.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errorsFile.path, contents: nil)
        let outputHandle = try FileHandle(forWritingTo: outputFile)
        let errorsHandle = try FileHandle(forWritingTo: errorsFile)

        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [script.path] + arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = outputHandle
        process.standardError = errorsHandle
        try process.run()
        process.waitUntilExit()
        try outputHandle.close()
        try errorsHandle.close()

        let outcome = Outcome(
            arguments: arguments, status: process.terminationStatus,
            output: String(decoding: (try? Data(contentsOf: outputFile)) ?? Data(), as: UTF8.self),
            errors: String(decoding: (try? Data(contentsOf: errorsFile)) ?? Data(), as: UTF8.self))
        if !allowFailure && outcome.status != 0 {
            throw ObjectStoreServerError.scriptFailed(outcome.description)
        }
        return outcome
    }
}

/// Why an ``ObjectStoreServer`` could not be had or used.
public enum ObjectStoreServerError: Error, CustomStringConvertible {
    /// The Debian packages of the object store are not installed; the text tells how to install them.
    case packagesMissing(String)
    /// `scripts/objectstore.sh` failed; the text holds its command and the end of what it printed.
    case scriptFailed(String)
    /// The environment or the server's `env` file is incomplete or names a server off this machine.
    case badSettings(String)
    /// Stopping or starting a server that this process did not start.
    case notManaged(String)

    /// What went wrong, and what to do about it.
    public var description: String {
        switch self {
        case .packagesMissing(let text): text
        case .scriptFailed(let text): "object store: \(text)"
        case .badSettings(let text): "object store settings: \(text)"
        case .notManaged(let text): "object store: \(text)"
        }
    }
}

/// The servers of this process: how many it started, and the state folders to stop and remove when it exits,
/// whatever tests did not remove themselves.
private final class Registry: @unchecked Sendable {
    static let shared = Registry()

    /// Guards `started`, `folders` and `registered`.
    private let lock = NSLock()
    private var started = 0
    private var folders: [(folder: URL, managed: Bool)] = []
    private var registered = false

    /// Counts one more server started, and tells how many were before.
    func nextServer() -> Int {
        lock.withLock {
            defer { started += 1 }
            return started
        }
    }

    /// Adds `folder`: a managed one is stopped and purged at exit, another only removed.
    func remember(_ folder: URL, managed: Bool) {
        let register: Bool = lock.withLock {
            folders.append((folder, managed))
            defer { registered = true }
            return !registered
        }
        if register {
            atexit { Registry.shared.cleanUp() }
        }
    }

    /// Drops `folder`, which its owner removed already.
    func forget(_ folder: URL) {
        lock.withLock { folders.removeAll { $0.folder == folder } }
    }

    private func cleanUp() {
        let pending = lock.withLock {
            defer { folders.removeAll() }
            return folders
        }
        for (folder, managed) in pending {
            if managed {
                _ = try? ObjectStoreServer.runScript(["stop", folder.path, "--purge"], allowFailure: true)
            } else {
                try? FileManager.default.removeItem(at: folder)
            }
        }
    }
}
