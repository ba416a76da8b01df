import Foundation

/// An HTTP server on 127.0.0.1 that gives scripted answers in turn, the last one for every
/// request after, and counts the requests: to see what the S3 client retries and how it words
/// each failure. It is a Python process, stopped by its PID when the value goes away.
final class ScriptedHTTPServer {
    /// One scripted answer.
    struct Answer: Encodable {
        var status: Int
        var body = ""
        /// Seconds to wait before answering.
        var delay = 0.0
    }

    /// The address requests go to.
    let endpoint: URL
    private let process: Process
    private let log: URL

    /// Starts the server with its answers.
    init(_ answers: [Answer]) throws {
        log = FileManager.default.temporaryDirectory.appendingPathComponent("scripted-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let script = String(decoding: try JSONEncoder().encode(answers), as: UTF8.self)
        let (process, port) = try S3TestBucket.startPythonServer(Self.program, [script, log.path])
        self.process = process
        endpoint = URL(string: "http://127.0.0.1:\(port)")!
    }

    deinit {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        try? FileManager.default.removeItem(at: log)
    }

    /// The requests answered so far, as `METHOD PATH` lines.
    var requests: [String] {
        (try? String(contentsOf: log, encoding: .utf8))?.split(separator: "\n").map(String.init) ?? []
    }

    /// An S3 error document.
    static func error(_ code: String, requestID: String = "req-1") -> String {
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>\(code)</Code><Message>scripted \(code)</Message>"
            + "<RequestId>\(requestID)</RequestId></Error>"
    }

    /// An empty listing of a bucket.
    static let emptyListing =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListBucketResult><Name>b</Name><KeyCount>0</KeyCount>"
        + "<IsTruncated>false</IsTruncated></ListBucketResult>"

    private static let program = """
        import http.server, json, sys, threading, time
        answers = json.loads(sys.argv[1])
        log = open(sys.argv[2], "a")
        lock = threading.Lock()
        count = [0]
        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            def answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                with lock:
                    index = count[0]
                    count[0] += 1
                    log.write(self.command + " " + self.path + "\\n")
                    log.flush()
                answer = answers[min(index, len(answers) - 1)]
                time.sleep(answer["delay"])
                body = answer["body"].encode()
                self.send_response(answer["status"])
                self.send_header("Content-Length", str(len(body)))
                self.send_header("x-amz-request-id", "header-request-id")
                self.end_headers()
                self.wfile.write(body)
            do_GET = do_PUT = do_POST = do_DELETE = answer
            def log_message(self, *arguments):
                pass
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        print(server.server_address[1], flush=True)
        server.serve_forever()
        """
}
