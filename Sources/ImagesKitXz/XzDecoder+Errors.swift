import CImagesKitLzma
import ImagesKit

// MARK: - Errors

extension XzDecoder {
    private var currentStream: Int { streamCount + 1 }

    private func location(_ offset: UInt64, stream: Int? = nil) -> [String: String] {
        ["offset": String(offset), "stream": String(stream ?? currentStream)]
    }

    /// The error for a return code that rejects the data.
    ///
    /// - Parameter code: What `lzma_code` returned: neither `LZMA_OK`, `LZMA_BUF_ERROR` nor
    ///   `LZMA_STREAM_END`.
    /// - Returns: `corrupt_data` for `LZMA_DATA_ERROR`; `unsupported_format` for
    ///   `LZMA_OPTIONS_ERROR`, `LZMA_UNSUPPORTED_CHECK` and `LZMA_FORMAT_ERROR`;
    ///   `memory_limit_exceeded` for `LZMA_MEMLIMIT_ERROR`; `invalid_state` for the rest.
    func rejection(_ code: lzma_ret) -> ImagesKitError {
        let cause = LzmaError(function: "lzma_code", ret: code)
        switch code {
        case LZMA_DATA_ERROR:
            return corruptError(cause)
        case LZMA_OPTIONS_ERROR:
            return unsupportedError(
                cause,
                "uses a filter or header option that liblzma does not support; recompress it with "
                    + "plain xz (no --filters, no BCJ filters a newer xz added)")
        case LZMA_UNSUPPORTED_CHECK:
            return unsupportedError(
                cause,
                "uses an integrity check type that liblzma can't verify; recompress it with xz "
                    + "--check=crc64 (the default)")
        case LZMA_FORMAT_ERROR:
            return unsupportedError(cause, "does not start with an xz stream header; \(Self.whatToUpload)")
        case LZMA_MEMLIMIT_ERROR:
            return memoryLimitError(cause)
        default:
            return liblzmaFailure(cause)
        }
    }

    /// The error for bytes where a stream should start: not xz at all when no stream came before,
    /// trailing data after the last stream otherwise.
    func notAStreamError(_ input: UnsafeRawBufferPointer, magicBytesSeen: Int) -> ImagesKitError {
        let offset = consumedByteCount - UInt64(magicBytesSeen)
        guard streamCount > 0 else {
            let prefix = Array(Self.magic.prefix(magicBytesSeen) + input.prefix(DiskProbe.prefixByteCount))
            return ImagesKitError(
                .unsupportedFormat,
                "the upload is not xz: it looks like \(Self.describe(prefix: prefix)); \(Self.whatToUpload)",
                context: ["offset": String(offset)])
        }
        trailingDataOffset = offset
        return ImagesKitError(
            .trailingData,
            "bytes that are neither stream padding nor another xz stream follow stream \(streamCount) at "
                + "compressed byte \(offset); remove them or recompress the image with xz",
            context: location(offset, stream: streamCount))
    }

    /// The error for zero bytes after a stream whose count is not a multiple of four: the .xz format
    /// only allows padding in groups of four, so the bytes after the last whole group are trailing.
    func paddingError(zeroCount: UInt64, atEnd: Bool) -> ImagesKitError {
        let offset = consumedByteCount - zeroCount % 4
        trailingDataOffset = offset
        let what = atEnd ? "the file ends with" : "more data follows"
        var context = location(offset, stream: streamCount)
        context["padding"] = String(zeroCount)
        return ImagesKitError(
            .trailingData,
            "\(zeroCount) zero bytes follow stream \(streamCount) and \(what) them, but xz stream padding "
                + "must be a multiple of four bytes; remove the bytes from compressed byte \(offset) on, or "
                + "recompress the image with xz",
            context: context)
    }

    private func corruptError(_ cause: LzmaError) -> ImagesKitError {
        ImagesKitError(
            .corruptData,
            "the xz data is corrupt in stream \(currentStream) near compressed byte \(consumedByteCount) "
                + "(liblzma: \(cause.message)); upload the file again or recompress it with xz",
            cause: cause,
            context: location(consumedByteCount))
    }

    private func unsupportedError(_ cause: LzmaError, _ problem: String) -> ImagesKitError {
        ImagesKitError(
            .unsupportedFormat,
            "stream \(currentStream) of the xz data \(problem)",
            cause: cause,
            context: location(consumedByteCount))
    }

    /// The error for a block that needs more memory than the limit: liblzma refuses it after
    /// reading its header, before allocating the dictionary.
    private func memoryLimitError(_ cause: LzmaError) -> ImagesKitError {
        let needed = memoryNeeded()
        var context = location(consumedByteCount)
        context["limit"] = String(memoryLimit)
        context["needed"] = needed.map { String($0) }
        let neededText = needed.map { "\(Self.mebibytes($0)) of memory" } ?? "more memory"
        return ImagesKitError(
            .memoryLimitExceeded,
            "stream \(currentStream) of the xz data needs \(neededText) to decode, more than the "
                + "\(Self.mebibytes(memoryLimit)) (\(memoryLimit) bytes) the decoder may use; recompress it "
                + "with a smaller dictionary (xz -6 or lower, or --lzma2=dict=...) or raise the decoder's "
                + "memory limit",
            cause: cause,
            context: context)
    }

    /// The memory the refused block needs, as liblzma counts it against the limit.
    ///
    /// The single-threaded decoder reports it itself. The multi-threaded one does not, so its
    /// stream header and the block header it refused are handed to a single-threaded decoder with
    /// the same limit, which refuses them the same way and reports the figure.
    private func memoryNeeded() -> UInt64? {
        guard let recentInput else { return lzma.memoryUsage }
        return recentInput.memoryNeededByLastBlockHeader(limit: memoryLimit)
    }

    func truncatedError(cause: LzmaError?) -> ImagesKitError {
        ImagesKitError(
            .truncatedData,
            "the xz data ends inside stream \(currentStream) at compressed byte \(consumedByteCount); "
                + "the file is truncated: upload the whole file again",
            cause: cause,
            context: location(consumedByteCount))
    }

    func tooLargeError() -> ImagesKitError {
        var context = location(consumedByteCount)
        context["limit"] = String(outputLimit)
        return ImagesKitError(
            .imageTooLarge,
            "the image decompresses to more than \(outputLimit) bytes, the most it may hold; upload a "
                + "smaller image",
            context: context)
    }

    func liblzmaFailure(_ cause: LzmaError) -> ImagesKitError {
        ImagesKitError(
            .invalidState,
            "liblzma stopped decoding near compressed byte \(consumedByteCount) (\(cause.message)); check "
                + "that the process has memory left, and report it if it happens again",
            cause: cause,
            context: location(consumedByteCount))
    }

    /// Names what a stream's first bytes hold, knowing the two formats liblzma also reads.
    static func describe(prefix: [UInt8]) -> String {
        if prefix.starts(with: Array("LZIP".utf8)) {
            return "lzip-compressed data (.lz), which is not xz"
        }
        if looksLikeLegacyLzma(prefix) {
            return "legacy .lzma (LZMA_Alone) data, which is not xz"
        }
        return DiskProbe.describe(prefix: prefix)
    }

    /// Whether `prefix` starts with the 13-byte header of a legacy .lzma file, as its format
    /// defines it: a properties byte below 225, a dictionary of 2^n or 2^n + 2^(n-1) bytes, and an
    /// uncompressed size that is unknown (all ones) or below 256 GiB.
    static func looksLikeLegacyLzma(_ prefix: [UInt8]) -> Bool {
        guard prefix.count >= 13, prefix[0] < 225 else { return false }
        let dictionary = prefix[1..<5].reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        let size = prefix[5..<13].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        let leading = dictionary >> dictionary.trailingZeroBitCount
        return dictionary != 0 && (leading == 1 || leading == 3) && (size == .max || size < 1 << 38)
    }

    static func mebibytes(_ bytes: UInt64) -> String {
        let tenths = (bytes * 10 + (1 << 20) / 2) >> 20
        return "\(tenths / 10).\(tenths % 10) MiB"
    }
}
