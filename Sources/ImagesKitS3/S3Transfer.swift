import CImagesKitCurl
import Foundation
import ImagesKit

/// A signed request as it goes on the wire.
struct S3WireRequest: Sendable {
    /// The HTTP method.
    let method: String
    /// The whole address, encoded.
    let url: String
    /// Every header, signed ones included; libcurl adds `Content-Length` from the body.
    let headers: [(name: String, value: String)]
    /// The body, empty for none.
    let body: Data
}

/// An answer as it came off the wire.
struct S3WireAnswer: Sendable {
    /// The HTTP status of the final answer.
    let status: Int
    /// Its headers, by lowercase name.
    let headers: [String: String]
    /// Its body.
    let body: Data
}

/// Why a request got no answer.
struct S3WireFailure: Error, Sendable {
    /// The reason, for messages: `connection refused`, `timed out`, ...
    let reason: String
    /// Whether the same request may go through later: not when the certificate is untrusted.
    var isPassing = true
}

/// libcurl, started once per process after libcrypto (which libcurl's TLS shares).
enum S3Curl {
    private static let started: Bool = {
        LibCrypto.start()
        return curl_global_init(Int(CURL_GLOBAL_DEFAULT)) == CURLE_OK
    }()

    /// Starts libcurl the first time it is called.
    static func start() {
        precondition(started, "libcurl could not be started")
    }
}

/// One libcurl easy handle. It keeps its connection between requests, so handles go back to
/// their ``S3CurlPool`` after a request that ended well; one request uses it at a time.
final class S3CurlHandle: @unchecked Sendable {
    let pointer: UnsafeMutableRawPointer

    init() {
        S3Curl.start()
        guard let pointer = curl_easy_init() else { fatalError("libcurl: no memory for a handle") }
        self.pointer = pointer
    }

    deinit {
        curl_easy_cleanup(pointer)
    }
}

/// The idle handles of one client, with their open connections.
final class S3CurlPool: Sendable {
    private let idle = S3Locked<[S3CurlHandle]>([])
    private let capacity: Int

    /// A pool that keeps at most `capacity` idle handles.
    init(capacity: Int) {
        self.capacity = capacity
    }

    /// An idle handle, or a new one.
    func take() -> S3CurlHandle {
        idle.withLock { $0.popLast() } ?? S3CurlHandle()
    }

    /// Keeps `handle` for the next request, unless the pool is full.
    func give(_ handle: S3CurlHandle) {
        idle.withLock { handles in
            if handles.count < capacity { handles.append(handle) }
        }
    }
}

/// One request through libcurl, performed on a thread of its own so that waiting on the network
/// never holds one of Swift's few cooperative threads. Bodies go out and come in through large
/// buffers (1 MiB up, 512 KiB down), and an answer whose length is announced is gathered in a
/// buffer of that size, so its bytes are copied once.
final class S3Transfer: @unchecked Sendable {
    private let request: S3WireRequest
    private let handle: S3CurlHandle
    private let stopped = S3Locked(false)
    // Used only by the thread that runs `perform`, one after the other.
    private var sent = 0
    private var status = 0
    private var headers: [String: String] = [:]
    private var body = Data()

    init(_ request: S3WireRequest, on handle: S3CurlHandle) {
        self.request = request
        self.handle = handle
    }

    /// Sends the request and waits for the answer: at most `idleTimeout` seconds without a byte
    /// moving, at most `deadline` seconds in all; cancelling the calling task stops it. An
    /// `https` service's certificate must come from `certificateAuthorities` (a PEM file) when
    /// given, else from the system's authorities.
    func run(
        idleTimeout: TimeInterval, deadline: TimeInterval, certificateAuthorities: String? = nil
    ) async throws -> S3WireAnswer {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let thread = Thread {
                    continuation.resume(
                        with: self.perform(
                            idleTimeout: idleTimeout, deadline: deadline, certificateAuthorities: certificateAuthorities
                        ))
                }
                thread.start()
            }
        } onCancel: {
            stopped.withLock { $0 = true }
        }
    }

    private func perform(
        idleTimeout: TimeInterval, deadline: TimeInterval, certificateAuthorities: String?
    ) -> Result<S3WireAnswer, S3WireFailure> {
        if stopped.withLock({ $0 }) { return .failure(S3WireFailure(reason: "cancelled")) }

        let curl = handle.pointer
        curl_easy_reset(curl)
        var list: UnsafeMutablePointer<curl_slist>?
        for header in request.headers { list = curl_slist_append(list, "\(header.name): \(header.value)") }
        // No `Expect: 100-continue` pause before bodies, and no `Accept` nobody asked for.
        list = curl_slist_append(list, "Expect:")
        list = curl_slist_append(list, "Accept:")
        defer { curl_slist_free_all(list) }
        configure(curl, headers: list, idleTimeout: idleTimeout, deadline: deadline)
        if let certificateAuthorities { imageskit_curl_set_string(curl, CURLOPT_CAINFO, certificateAuthorities) }

        let started = Date()
        let code = withExtendedLifetime(self) { curl_easy_perform(curl) }
        guard code == CURLE_OK else {
            return .failure(failure(code, after: Date().timeIntervalSince(started), deadline: deadline))
        }
        return .success(S3WireAnswer(status: imageskit_curl_response_code(curl), headers: headers, body: body))
    }

    private func configure(
        _ curl: UnsafeMutableRawPointer, headers: UnsafeMutablePointer<curl_slist>?, idleTimeout: TimeInterval,
        deadline: TimeInterval
    ) {
        let context = Unmanaged.passUnretained(self).toOpaque()
        imageskit_curl_set_string(curl, CURLOPT_URL, request.url)
        imageskit_curl_set_list(curl, CURLOPT_HTTPHEADER, headers)
        imageskit_curl_set_long(curl, CURLOPT_NOSIGNAL, 1)
        imageskit_curl_set_long(curl, CURLOPT_CONNECTTIMEOUT_MS, Self.milliseconds(idleTimeout))
        imageskit_curl_set_long(curl, CURLOPT_LOW_SPEED_LIMIT, 1)
        imageskit_curl_set_long(curl, CURLOPT_LOW_SPEED_TIME, max(1, Int(idleTimeout.rounded(.up))))
        imageskit_curl_set_long(curl, CURLOPT_TIMEOUT_MS, Self.milliseconds(deadline))
        imageskit_curl_set_long(curl, CURLOPT_BUFFERSIZE, 512 << 10)
        imageskit_curl_set_long(curl, CURLOPT_UPLOAD_BUFFERSIZE, 1 << 20)
        imageskit_curl_set_data_function(curl, CURLOPT_HEADERFUNCTION, Self.takeHeader)
        imageskit_curl_set_pointer(curl, CURLOPT_HEADERDATA, context)
        imageskit_curl_set_data_function(curl, CURLOPT_WRITEFUNCTION, Self.takeBody)
        imageskit_curl_set_pointer(curl, CURLOPT_WRITEDATA, context)
        imageskit_curl_set_long(curl, CURLOPT_NOPROGRESS, 0)
        imageskit_curl_set_progress_function(curl, Self.checkStop)
        imageskit_curl_set_pointer(curl, CURLOPT_XFERINFODATA, context)
        configureMethod(curl, context: context)
    }

    /// GET and HEAD go without a body, DELETE with none; every other method sends the body
    /// (perhaps empty, with `Content-Length: 0`) through the read function.
    private func configureMethod(_ curl: UnsafeMutableRawPointer, context: UnsafeMutableRawPointer) {
        switch request.method {
        case "GET":
            imageskit_curl_set_long(curl, CURLOPT_HTTPGET, 1)
        case "HEAD":
            imageskit_curl_set_long(curl, CURLOPT_NOBODY, 1)
        case "DELETE":
            imageskit_curl_set_string(curl, CURLOPT_CUSTOMREQUEST, "DELETE")
        default:
            imageskit_curl_set_long(curl, CURLOPT_UPLOAD, 1)
            imageskit_curl_set_offset(curl, CURLOPT_INFILESIZE_LARGE, curl_off_t(request.body.count))
            imageskit_curl_set_data_function(curl, CURLOPT_READFUNCTION, Self.giveBody)
            imageskit_curl_set_pointer(curl, CURLOPT_READDATA, context)
            if request.method != "PUT" { imageskit_curl_set_string(curl, CURLOPT_CUSTOMREQUEST, request.method) }
        }
    }

    private func failure(_ code: CURLcode, after elapsed: TimeInterval, deadline: TimeInterval) -> S3WireFailure {
        switch code {
        case CURLE_ABORTED_BY_CALLBACK:
            return S3WireFailure(reason: "cancelled")
        case CURLE_OPERATION_TIMEDOUT:
            if elapsed >= deadline - 0.05 {
                return S3WireFailure(reason: "timed out after \(Int(deadline)) s")
            }
            return S3WireFailure(reason: "timed out")
        case CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CACERT_BADFILE:
            let detail = String(cString: curl_easy_strerror(code))
            return S3WireFailure(reason: "the service's TLS certificate is not trusted: \(detail)", isPassing: false)
        case CURLE_COULDNT_CONNECT:
            return S3WireFailure(reason: "connection refused")
        case CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY:
            return S3WireFailure(reason: "host name not found")
        case CURLE_SEND_ERROR, CURLE_RECV_ERROR, CURLE_GOT_NOTHING, CURLE_PARTIAL_FILE:
            return S3WireFailure(reason: "connection lost")
        default:
            return S3WireFailure(reason: String(cString: curl_easy_strerror(code)))
        }
    }

    private static func milliseconds(_ seconds: TimeInterval) -> Int {
        max(1, Int((seconds * 1000).rounded(.up)))
    }

    // MARK: libcurl's callbacks, on the thread of `perform`

    private static func transfer(_ context: UnsafeMutableRawPointer?) -> S3Transfer {
        Unmanaged<S3Transfer>.fromOpaque(context!).takeUnretainedValue()
    }

    private static let giveBody: imageskit_curl_data_function = { buffer, size, count, context in
        transfer(context).fill(buffer!, capacity: size * count)
    }

    private static let takeBody: imageskit_curl_data_function = { bytes, size, count, context in
        transfer(context).body.append(UnsafeRawPointer(bytes!).assumingMemoryBound(to: UInt8.self), count: size * count)
        return size * count
    }

    private static let takeHeader: imageskit_curl_data_function = { bytes, size, count, context in
        let line = String(decoding: UnsafeRawBufferPointer(start: bytes, count: size * count), as: UTF8.self)
        transfer(context).take(headerLine: line)
        return size * count
    }

    private static let checkStop: imageskit_curl_progress_function = { context, _, _, _, _ in
        transfer(context).stopped.withLock { $0 } ? 1 : 0
    }

    private func fill(_ buffer: UnsafeMutablePointer<CChar>, capacity: Int) -> Int {
        let count = min(capacity, request.body.count - sent)
        guard count > 0 else { return 0 }
        request.body.withUnsafeBytes { bytes in
            UnsafeMutableRawPointer(buffer).copyMemory(from: bytes.baseAddress! + sent, byteCount: count)
        }
        sent += count
        return count
    }

    /// Reads one header line: a status line starts a new answer (after `100 Continue`, or a
    /// retried send), a `Content-Length` of a success that carries a body sizes its buffer.
    private func take(headerLine: String) {
        let line = headerLine.trimmingCharacters(in: .whitespacesAndNewlines)
        if line.hasPrefix("HTTP/") {
            headers = [:]
            body = Data()
            status = line.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
            return
        }
        guard let colon = line.firstIndex(of: ":") else { return }
        let name = line[..<colon].lowercased()
        let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        headers[name] = value
        if name == "content-length", request.method != "HEAD", (200..<300).contains(status), let length = Int(value),
            length > 0
        {
            body.reserveCapacity(min(length, 256 << 20))
        }
    }
}
