import CImagesKitLzma

/// What liblzma reported when one of its calls failed: the call and its return code.
///
/// ImagesKit puts this value in ``ImagesKit/ImagesKitError/cause`` so the C library's own verdict
/// is kept next to the message meant for people. liblzma has no message text of its own, so
/// ``message`` gives the meaning its documentation assigns to the code.
public struct LzmaError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The liblzma function that failed, such as `lzma_code` or `lzma_stream_decoder_mt`.
    public let function: String

    /// The return code, such as 9 for `LZMA_DATA_ERROR`.
    public let code: UInt32

    /// Creates the error for one failed liblzma call.
    ///
    /// - Parameters:
    ///   - function: The liblzma function that failed.
    ///   - code: Its return code, an `lzma_ret` value.
    public init(function: String, code: UInt32) {
        self.function = function
        self.code = code
    }

    init(function: String, ret: lzma_ret) {
        self.init(function: function, code: ret.rawValue)
    }

    /// The symbolic name of ``code``, such as `LZMA_DATA_ERROR`.
    public var codeName: String {
        Self.names[code]?.name ?? "unknown code"
    }

    /// What the code means, as liblzma's documentation describes it.
    public var message: String {
        Self.names[code]?.meaning ?? "a code this version of ImagesKit does not know"
    }

    /// The function, the code with its name, and its meaning.
    public var description: String {
        "\(function) returned \(codeName) (\(code)): \(message)"
    }

    private static let names: [UInt32: (name: String, meaning: String)] = [
        LZMA_OK.rawValue: ("LZMA_OK", "the call made progress"),
        LZMA_STREAM_END.rawValue: ("LZMA_STREAM_END", "the stream ended"),
        LZMA_NO_CHECK.rawValue: ("LZMA_NO_CHECK", "the stream has no integrity check"),
        LZMA_UNSUPPORTED_CHECK.rawValue: ("LZMA_UNSUPPORTED_CHECK", "the integrity check type is not supported"),
        LZMA_GET_CHECK.rawValue: ("LZMA_GET_CHECK", "the integrity check type is now known"),
        LZMA_MEM_ERROR.rawValue: ("LZMA_MEM_ERROR", "memory could not be allocated"),
        LZMA_MEMLIMIT_ERROR.rawValue: ("LZMA_MEMLIMIT_ERROR", "decoding needs more memory than the limit allows"),
        LZMA_FORMAT_ERROR.rawValue: ("LZMA_FORMAT_ERROR", "the file format is not recognized"),
        LZMA_OPTIONS_ERROR.rawValue: ("LZMA_OPTIONS_ERROR", "invalid or unsupported options, such as a filter"),
        LZMA_DATA_ERROR.rawValue: ("LZMA_DATA_ERROR", "the compressed data is corrupt"),
        LZMA_BUF_ERROR.rawValue: ("LZMA_BUF_ERROR", "no progress is possible; the input ends too early"),
        LZMA_PROG_ERROR.rawValue: ("LZMA_PROG_ERROR", "the library was called wrongly or its state is corrupt"),
    ]
}
