import Foundation
import ImagesKit
import ImagesKitTestSupport
import Testing

/// A process that exits while another thread is hashing ends with its own exit status.
///
/// libcrypto's own clean-up at exit frees state that a hashing thread still uses; ImagesKit
/// starts libcrypto without it. The test runs itself again in a child process, where it hashes
/// on a thread of its own and calls `exit(0)` with a slow exit handler behind libcrypto's.
@Suite("libcrypto at exit")
struct LibCryptoExitTests {
    private static let probeVariable = "IMAGESKIT_EXIT_PROBE"
    private static let probeMarker = "hashing while the process exits"

    @Test("a process that exits while hashing ends with status 0, not a segmentation fault")
    func hashingAtExit() async throws {
        if ProcessInfo.processInfo.environment[Self.probeVariable] == "1" {
            Self.hashUntilExit()
        }

        let testBinary = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        let line =
            "SWIFT_BACKTRACE=enable=no \(Self.probeVariable)=1 '\(testBinary)' "
            + "--testing-library swift-testing --filter 'LibCryptoExitTests' 2>&1"
        for _ in 0..<3 {
            let child = try await Shell.status(line)
            #expect(child.output.contains(Self.probeMarker), "the child did not run the probe: \(child.output)")
            #expect(child.status == 0, "the child ended with status \(child.status): \(child.output.suffix(2000))")
        }
    }

    /// Hashes on a thread of its own and exits from this one, with an exit handler registered
    /// before libcrypto starts, so that it runs after libcrypto's would and leaves the hashing
    /// thread time to touch whatever was freed.
    private static func hashUntilExit() -> Never {
        atexit { usleep(300_000) }
        let hashing = Thread {
            while true {
                _ = SHA256Digest.hex(of: Array("abc".utf8))
            }
        }
        hashing.start()
        usleep(50_000)
        FileHandle.standardOutput.write(Data((probeMarker + "\n").utf8))
        exit(0)
    }
}
