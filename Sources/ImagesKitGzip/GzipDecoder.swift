import CImagesKitZlib
import ImagesKit

/// Decompresses and validates gzip data given piece by piece, with zlib.
///
/// Members that follow one another decode as one stream. After the last member, zero bytes are
/// accepted as padding; anything else is trailing data. Every member's CRC-32 and length are
/// checked by zlib, while the output is counted here in 64 bits, so a length that wrapped modulo
/// 2^32 in a trailer never decides the size. The decoder never produces more than its output limit.
public final class GzipDecoder: CompressionDecoder {
    /// Where the decoder is in the compressed stream.
    private enum Position {
        /// Before a member: at the start of input or after a member ended. `magicBytesSeen` counts
        /// the bytes of gzip's two-byte magic already given to zlib.
        case memberStart(magicBytesSeen: Int)
        /// Inside a member whose magic was seen; zlib reads the rest of it.
        case insideMember
        /// In the zero bytes that pad the end of the stream.
        case padding
    }

    private static let magic: [UInt8] = CompressionFormat.gzip.magic
    private static let role = "gzip decoder"
    private static let whatToUpload = "upload a raw disk image compressed with gzip (.img.gz)"

    private let zlib: ZlibStream
    private let outputLimit: UInt64
    private var position = Position.memberStart(magicBytesSeen: 0)
    private var lifecycle = CoderLifecycle.open
    private var consumedByteCount: UInt64 = 0

    /// Compressed bytes consumed so far that belong to members, without padding after the last.
    public private(set) var streamByteCount: UInt64 = 0

    /// Uncompressed bytes handed to the output so far, counted in 64 bits.
    public private(set) var outputByteCount: UInt64 = 0

    /// The number of members decoded to their end and verified so far.
    public private(set) var memberCount = 0

    /// Makes a decoder that refuses to produce more than `outputLimit` bytes.
    ///
    /// - Parameters:
    ///   - outputLimit: The most uncompressed bytes the whole stream may hold.
    ///   - bufferSize: Bytes in the output buffer handed to the output closure, at least 1.
    /// - Throws: ``ImagesKitError`` with `invalid_state` when zlib can't start, with ``ZlibError``
    ///   as the cause.
    public init(outputLimit: UInt64, bufferSize: Int = GzipCompressor.defaultBufferSize) throws {
        self.outputLimit = outputLimit
        zlib = ZlibStream(direction: .inflate, outputCapacity: bufferSize)
        try zlib.start(function: "inflateInit2", role: "gzip decoder") { imageskit_inflate_init($0, 31) }
    }

    /// Decompresses `input`, handing each piece of output to `output` before returning.
    ///
    /// - Parameters:
    ///   - input: The next compressed bytes.
    ///   - output: Receives uncompressed bytes; the buffer is valid only during the call.
    /// - Throws: ``ImagesKitError`` with `corrupt_data`, `trailing_data`, `unsupported_format`
    ///   or `image_too_large`, `invalid_state` after `finish` or an earlier error, or what
    ///   `output` throws. After any error the decoder takes no more calls.
    public func decode(
        _ input: UnsafeRawBufferPointer,
        output: (UnsafeRawBufferPointer) throws -> Void
    ) throws {
        try lifecycle.checkOpen(role: Self.role)
        do {
            var rest = input
            while !rest.isEmpty {
                rest = try consume(rest, output: output)
            }
        } catch {
            stop(by: error)
            throw error
        }
    }

    /// Declares the end of input and checks the stream ended cleanly.
    ///
    /// - Throws: ``ImagesKitError`` with `empty_input` when no byte came, `truncated_data` when
    ///   the input ends inside a member, or `invalid_state` when called again.
    public func finish() throws {
        try lifecycle.checkOpen(role: Self.role)
        do {
            try checkEnding()
            lifecycle = .finished
            zlib.release()
        } catch {
            stop(by: error)
            throw error
        }
    }

    private func stop(by error: any Error) {
        lifecycle = .stopped(by: error)
        zlib.release()
    }

    private func checkEnding() throws(ImagesKitError) {
        switch position {
        case .padding:
            return
        case .memberStart(magicBytesSeen: 0) where memberCount > 0:
            return
        case .memberStart(magicBytesSeen: 0) where consumedByteCount == 0:
            throw ImagesKitError(.emptyInput, "the upload holds no data; \(Self.whatToUpload)")
        default:
            throw truncatedError()
        }
    }
}

// MARK: - Reading the stream

extension GzipDecoder {
    private func consume(
        _ input: UnsafeRawBufferPointer,
        output: (UnsafeRawBufferPointer) throws -> Void
    ) throws -> UnsafeRawBufferPointer {
        switch position {
        case .memberStart(let magicBytesSeen):
            return try startMember(input, magicBytesSeen: magicBytesSeen, output: output)
        case .insideMember:
            return try inflateMember(input, output: output)
        case .padding:
            return try skipPadding(input)
        }
    }

    /// Checks the magic of a member byte by byte, so bytes after the last member that are not
    /// another member are reported as trailing data and never reach zlib.
    private func startMember(
        _ input: UnsafeRawBufferPointer,
        magicBytesSeen: Int,
        output: (UnsafeRawBufferPointer) throws -> Void
    ) throws -> UnsafeRawBufferPointer {
        let byte = input[0]
        if magicBytesSeen == 0 && byte == 0 && memberCount > 0 {
            position = .padding
            return input
        }
        guard byte == Self.magic[magicBytesSeen] else {
            throw notAMemberError(input, magicBytesSeen: magicBytesSeen)
        }
        if magicBytesSeen == 0 {
            position = .memberStart(magicBytesSeen: 1)
            _ = try inflateMember(UnsafeRawBufferPointer(rebasing: input[..<1]), output: output)
            return UnsafeRawBufferPointer(rebasing: input[1...])
        }
        position = .insideMember
        return input
    }

    /// Inflates until the input is used up and zlib holds no pending output, or the member ends.
    private func inflateMember(
        _ input: UnsafeRawBufferPointer,
        output: (UnsafeRawBufferPointer) throws -> Void
    ) throws -> UnsafeRawBufferPointer {
        var rest = input
        var outputFilled = false
        repeat {
            let room = outputRoom()
            let progress = zlib.advance(input: rest, outputCount: room, flush: Z_NO_FLUSH)
            rest = UnsafeRawBufferPointer(rebasing: rest[progress.consumed...])
            consumedByteCount += UInt64(progress.consumed)
            streamByteCount += UInt64(progress.consumed)
            try deliver(progress.produced, output: output)

            if try memberEnded(progress) { return rest }
            guard progress.consumed > 0 || progress.produced > 0 || rest.isEmpty else {
                throw zlibFailure(zlib.error(function: "inflate", code: progress.code))
            }
            outputFilled = progress.produced == room
        } while !rest.isEmpty || outputFilled
        return rest
    }

    /// The output room for the next zlib call: the buffer, or one byte past the limit.
    private func outputRoom() -> Int {
        let remaining = outputLimit - outputByteCount
        return remaining >= UInt64(zlib.outputCapacity) ? zlib.outputCapacity : Int(remaining) + 1
    }

    /// Hands produced bytes to `output`, stopping at the limit before the byte that exceeds it.
    private func deliver(_ produced: Int, output: (UnsafeRawBufferPointer) throws -> Void) throws {
        guard produced > 0 else { return }
        let remaining = outputLimit - outputByteCount
        let allowed = UInt64(produced) > remaining ? Int(remaining) : produced
        if allowed > 0 {
            try zlib.withOutput(count: allowed, output)
            outputByteCount += UInt64(allowed)
        }
        guard allowed == produced else { throw tooLargeError() }
    }

    /// Reads zlib's return code: whether the member ended, or why the data is rejected.
    private func memberEnded(_ progress: ZlibProgress) throws -> Bool {
        switch progress.code {
        case Z_STREAM_END:
            memberCount += 1
            position = .memberStart(magicBytesSeen: 0)
            do {
                try zlib.resetInflate()
            } catch {
                throw zlibFailure(error)
            }
            return true
        case Z_OK, Z_BUF_ERROR:
            return false
        case Z_DATA_ERROR:
            throw corruptError(zlib.error(function: "inflate", code: progress.code))
        default:
            throw zlibFailure(zlib.error(function: "inflate", code: progress.code))
        }
    }

    private func skipPadding(_ input: UnsafeRawBufferPointer) throws -> UnsafeRawBufferPointer {
        let zeros = input.prefix { $0 == 0 }.count
        consumedByteCount += UInt64(zeros)
        guard zeros == input.count else { throw paddingInterruptedError() }
        return UnsafeRawBufferPointer(rebasing: input[zeros...])
    }
}

// MARK: - Errors

extension GzipDecoder {
    private var currentMember: Int { memberCount + 1 }

    private func location(_ offset: UInt64, member: Int? = nil) -> [String: String] {
        ["offset": String(offset), "member": String(member ?? currentMember)]
    }

    /// The error for bytes where a member should start: not gzip at all when no member came
    /// before, trailing data after the last member otherwise.
    private func notAMemberError(_ input: UnsafeRawBufferPointer, magicBytesSeen: Int) -> ImagesKitError {
        let offset = consumedByteCount - UInt64(magicBytesSeen)
        guard memberCount > 0 else {
            let prefix = Array(Self.magic.prefix(magicBytesSeen) + input.prefix(DiskProbe.prefixByteCount))
            return ImagesKitError(
                .unsupportedFormat,
                "the upload is not gzip: it looks like \(DiskProbe.describe(prefix: prefix)); \(Self.whatToUpload)",
                context: ["offset": String(offset)])
        }
        return ImagesKitError(
            .trailingData,
            "bytes that are not another gzip member follow member \(memberCount) at compressed byte "
                + "\(offset); remove them or recompress the image with gzip",
            context: location(offset, member: memberCount))
    }

    private func paddingInterruptedError() -> ImagesKitError {
        ImagesKitError(
            .trailingData,
            "a non-zero byte follows the zero padding after member \(memberCount), at compressed "
                + "byte \(consumedByteCount); remove the trailing bytes or recompress the image with gzip",
            context: location(consumedByteCount, member: memberCount))
    }

    private func corruptError(_ cause: ZlibError) -> ImagesKitError {
        ImagesKitError(
            .corruptData,
            "the gzip data is corrupt in member \(currentMember) at compressed byte "
                + "\(consumedByteCount) (zlib: \(cause.message)); upload the file again or recompress "
                + "it with gzip",
            cause: cause,
            context: location(consumedByteCount))
    }

    private func truncatedError() -> ImagesKitError {
        ImagesKitError(
            .truncatedData,
            "the gzip data ends inside member \(currentMember) at compressed byte "
                + "\(consumedByteCount); the file is truncated: upload the whole file again",
            context: location(consumedByteCount))
    }

    private func tooLargeError() -> ImagesKitError {
        var context = location(consumedByteCount)
        context["limit"] = String(outputLimit)
        return ImagesKitError(
            .imageTooLarge,
            "the image inflates to more than \(outputLimit) bytes, the most it may hold; "
                + "upload a smaller image",
            context: context)
    }

    private func zlibFailure(_ cause: ZlibError) -> ImagesKitError {
        ImagesKitError(
            .invalidState,
            "zlib stopped decoding at compressed byte \(consumedByteCount) (\(cause.message)); "
                + "try again, and report it if it happens again",
            cause: cause,
            context: location(consumedByteCount))
    }
}
