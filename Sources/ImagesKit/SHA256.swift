import CImagesKitCrypto

/// A running SHA-256 digest computed by OpenSSL's libcrypto.
///
/// One instance owns one digest context; it is used by one task at a time.
public final class SHA256Digest {
    private var context: OpaquePointer?

    /// Starts an empty digest.
    public init() {
        LibCrypto.start()
        context = EVP_MD_CTX_new()
        precondition(context != nil && EVP_DigestInit_ex(context, EVP_sha256(), nil) == 1, "libcrypto: no SHA-256")
    }

    deinit {
        release()
    }

    /// Adds bytes to the digest.
    ///
    /// - Parameter bytes: The next bytes of the data.
    public func update(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        precondition(context != nil, "SHA256Digest used after finalize()")
        EVP_DigestUpdate(context, bytes.baseAddress, bytes.count)
    }

    /// Ends the digest and returns it as 64 lowercase hexadecimal digits.
    ///
    /// - Returns: The SHA-256 in hexadecimal.
    public func finalize() -> String {
        precondition(context != nil, "SHA256Digest finalized twice")
        var digest = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        EVP_DigestFinal_ex(context, &digest, &length)
        release()
        return digest.map { String(format: "%02x", $0) }.joined()
    }

    /// The SHA-256 of `bytes` in hexadecimal.
    ///
    /// - Parameter bytes: The data.
    /// - Returns: 64 lowercase hexadecimal digits.
    public static func hex(of bytes: [UInt8]) -> String {
        let digest = SHA256Digest()
        bytes.withUnsafeBytes { digest.update($0) }
        return digest.finalize()
    }

    private func release() {
        if let context {
            EVP_MD_CTX_free(context)
        }
        context = nil
    }
}
