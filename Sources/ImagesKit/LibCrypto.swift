import CImagesKitCrypto

/// Starts libcrypto once per process, without the clean-up it would otherwise run at exit.
///
/// Left to itself, libcrypto frees its locks and algorithm tables in an `atexit` handler. A
/// thread still hashing while the process exits (a background upload, a claim being released,
/// a service that calls `exit` from a signal handler) then runs into freed state and the process
/// ends on a segmentation fault instead of its exit status. Starting libcrypto first with
/// `OPENSSL_INIT_NO_ATEXIT` keeps that state until the process is gone. Every use of libcrypto
/// in the package calls ``start()`` first.
package enum LibCrypto {
    private static let started = OPENSSL_init_crypto(UInt64(OPENSSL_INIT_NO_ATEXIT), nil) == 1

    /// Starts libcrypto the first time it is called, and does nothing afterwards.
    package static func start() {
        precondition(started, "libcrypto could not be started")
    }
}
