import CImagesKitZlib

/// What zlib reported when one of its calls failed: the call, its return code and its message.
///
/// ImagesKit puts this value in ``ImagesKit/ImagesKitError/cause`` so the C library's own words
/// are kept next to the message meant for people.
public struct ZlibError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The zlib function that failed, such as `inflate` or `deflateInit2`.
    public let function: String

    /// The return code, such as `Z_DATA_ERROR` (-3).
    public let code: Int32

    /// The text zlib left in the stream's `msg` field, or the code's meaning when it left none.
    public let message: String

    /// Creates the error for one failed zlib call.
    ///
    /// - Parameters:
    ///   - function: The zlib function that failed.
    ///   - code: Its return code.
    ///   - message: zlib's message for the failure.
    public init(function: String, code: Int32, message: String) {
        self.function = function
        self.code = code
        self.message = message
    }

    /// The symbolic name of ``code``, such as `Z_DATA_ERROR`.
    public var codeName: String {
        switch code {
        case Z_OK: "Z_OK"
        case Z_STREAM_END: "Z_STREAM_END"
        case Z_NEED_DICT: "Z_NEED_DICT"
        case Z_ERRNO: "Z_ERRNO"
        case Z_STREAM_ERROR: "Z_STREAM_ERROR"
        case Z_DATA_ERROR: "Z_DATA_ERROR"
        case Z_MEM_ERROR: "Z_MEM_ERROR"
        case Z_BUF_ERROR: "Z_BUF_ERROR"
        case Z_VERSION_ERROR: "Z_VERSION_ERROR"
        default: "unknown code"
        }
    }

    /// The function, the code with its name, and zlib's message.
    public var description: String {
        "\(function) returned \(codeName) (\(code)): \(message)"
    }
}
