/// Checks an upload as it streams: format, limits, every member or stream, padding; counts and
/// digests, and hands back the bytes to store.
///
/// The format is told by the first bytes among the codecs accepted. The bytes to store are the
/// upload's own compressed bytes without padding when it is kept in its own format, or the
/// decoded data compressed again by `keptCodec` when it is kept in another one.
final class UploadValidator {
    private let accepted: [any Compressor]
    private let keptCodec: (any Compressor)?
    private let keptLevel: Int
    private let limits: ImageLimits
    private let quotaBytes: UInt64
    private var decoder: (any CompressionDecoder)?
    private var encoder: (any CompressionEncoder)?
    private let digest = SHA256Digest()
    private var head: [UInt8] = []
    private var contentPrefix: [UInt8] = []
    private var transcoded: [UInt8] = []
    /// Upload bytes handed back to store so far, from the start.
    private var storedBytes: UInt64 = 0
    /// Received bytes after `storedBytes` whose place is not known yet: padding, or the start
    /// of a member or stream the decoder has not counted yet.
    private var held: [UInt8] = []
    /// Whether held bytes were let go as padding because there were too many to keep.
    private var droppedPadding = false
    /// The most undecided bytes kept; more than that after a stream can only be padding.
    private static let mostHeldBytes = 1 << 20
    private(set) var receivedBytes: UInt64 = 0
    /// The codec of the upload, once its first bytes told it.
    private(set) var codec: (any Compressor)?

    /// Enough of the stream for the probe to name what it holds, up to the btrfs superblock.
    private static let prefixLength = DiskProbe.prefixByteCount

    /// Makes a validator.
    ///
    /// - Parameters:
    ///   - accepted: The codecs an upload may be in.
    ///   - keptCodec: The codec to keep the image in; `nil` keeps the upload's own bytes.
    ///   - keptLevel: The compression level when the image is compressed again.
    ///   - limits: The per-image and per-upload limits.
    ///   - quotaBytes: What the account's storage quota leaves room for.
    init(
        accepted: [any Compressor], keptCodec: (any Compressor)? = nil, keptLevel: Int = 6, limits: ImageLimits,
        quotaBytes: UInt64 = .max
    ) {
        self.accepted = accepted
        self.keptCodec = keptCodec
        self.keptLevel = keptLevel
        self.limits = limits
        self.quotaBytes = quotaBytes
    }

    /// Validates the next piece and returns the bytes to store for it (possibly none yet).
    func take(_ chunk: [UInt8]) throws -> [UInt8] {
        receivedBytes += UInt64(chunk.count)
        try checkUploadLimit()
        guard decoder == nil else { return try process(chunk) }

        head.append(contentsOf: chunk)
        guard try startDecoding() else { return [] }
        let input = head
        head = []
        return try process(input)
    }

    /// Ends the upload; returns the facts of the content and the last bytes to store.
    ///
    /// The facts' `compressedByteCount` is the upload's stream bytes; the caller counts what it
    /// stored when the image was compressed again.
    func finish() throws -> (facts: ImageContent, tail: [UInt8]) {
        guard let decoder, let codec else { throw head.isEmpty ? emptyUpload() : unfinishedHead() }
        try decoder.finish()
        guard decoder.outputByteCount > 0 else { throw emptyUpload() }
        try encoder?.finish { transcoded.append(contentsOf: $0) }
        if encoder == nil {
            // Bytes the decoder counted only once it knew the input had ended.
            transcoded = try ownBytes(of: [], startingAt: receivedBytes, streamEnd: decoder.streamByteCount)
        }

        let content = DiskProbe.identify(prefix: contentPrefix)
        let facts = ImageContent(
            format: (keptCodec ?? codec).format.name, sha256: digest.finalize(),
            uncompressedByteCount: decoder.outputByteCount, compressedByteCount: decoder.streamByteCount,
            filesystem: content.summary, isExtFilesystem: content.isCapturableExt)
        defer { transcoded = [] }
        return (facts, transcoded)
    }

    private func checkUploadLimit() throws {
        guard receivedBytes > limits.uploadBytes else { return }
        throw ImagesKitError(
            .uploadTooLarge,
            "the upload is over the \(limits.uploadBytes)-byte limit for one compressed file; "
                + "upload a smaller image or ask for a higher limit",
            context: ["limit": String(limits.uploadBytes)])
    }

    /// Picks the codec once the first bytes match one; returns false while they can't tell yet.
    private func startDecoding() throws -> Bool {
        if let match = accepted.first(where: { $0.format.matches(head) }) {
            codec = match
            decoder = try match.makeDecoder(outputLimit: min(limits.imageBytes, quotaBytes))
            if let keptCodec, keptCodec.format != match.format {
                encoder = try keptCodec.makeEncoder(level: keptLevel)
            }
            return true
        }
        let couldStillMatch = accepted.contains { codec in
            head.count < codec.format.magic.count && codec.format.magic.starts(with: head)
        }
        guard !couldStillMatch, head.count >= Self.prefixLength else { return false }
        throw notInAcceptedFormat()
    }

    private func process(_ input: [UInt8]) throws -> [UInt8] {
        guard let decoder else { return [] }
        let startOfInput = receivedBytes - UInt64(input.count)
        do {
            try input.withUnsafeBytes { bytes in
                try decoder.decode(bytes) { output in
                    digest.update(output)
                    keepContentPrefix(output)
                    try encoder?.encode(output) { transcoded.append(contentsOf: $0) }
                }
            }
        } catch let error as ImagesKitError where error.code == .imageTooLarge && quotaBytes < limits.imageBytes {
            throw quotaError(cause: error)
        }
        guard encoder == nil else {
            defer { transcoded.removeAll(keepingCapacity: true) }
            return transcoded
        }
        return try ownBytes(of: input, startingAt: startOfInput, streamEnd: decoder.streamByteCount)
    }

    /// The bytes now known to belong to the stream, leaving padding out. Bytes the decoder has
    /// not counted yet are held until it does, so a member split across pieces is kept whole.
    private func ownBytes(of input: [UInt8], startingAt start: UInt64, streamEnd end: UInt64) throws -> [UInt8] {
        if held.isEmpty, start == storedBytes, end >= receivedBytes {
            storedBytes = receivedBytes
            return input
        }
        held.append(contentsOf: input)
        if end > storedBytes {
            guard !droppedPadding else { throw Self.lostBytes(at: storedBytes) }
            let count = Int(min(end, receivedBytes) - storedBytes)
            let own = Array(held[..<count])
            held.removeFirst(count)
            storedBytes += UInt64(count)
            return own
        }
        if held.count > Self.mostHeldBytes {
            held.removeAll()
            droppedPadding = true
        }
        return []
    }

    /// A decoder counted bytes as its stream's that were already let go as padding: the codec
    /// broke its promise, and storing the upload would lose data.
    private static func lostBytes(at offset: UInt64) -> ImagesKitError {
        ImagesKitError(
            .storeFailure,
            "the codec counted bytes at offset \(offset) as data after calling them padding; nothing was stored. "
                + "Report this with the file",
            context: ["offset": String(offset)])
    }

    private func keepContentPrefix(_ output: UnsafeRawBufferPointer) {
        guard contentPrefix.count < Self.prefixLength else { return }
        contentPrefix.append(contentsOf: output.prefix(Self.prefixLength - contentPrefix.count))
    }

    /// The error for an upload in none of the accepted formats, naming what it holds.
    private func notInAcceptedFormat() -> ImagesKitError {
        let found = DiskProbe.describe(prefix: head)
        let names = accepted.map(\.format.name).joined(separator: " or ")
        let extensions = accepted.map(\.format.fileExtension).joined(separator: " or ")
        return ImagesKitError(
            .unsupportedFormat,
            "the upload holds \(found), not \(names) data; upload a raw disk image compressed with \(names) "
                + "(\(extensions))")
    }

    private func emptyUpload() -> ImagesKitError {
        let names = accepted.map(\.format.name).joined(separator: " or ")
        return ImagesKitError(
            .emptyInput, "the upload decompresses to no data at all; send a raw disk image compressed with \(names)")
    }

    /// The error for an upload that ended in its first bytes: cut inside a format's magic, or
    /// too short to be in any accepted format.
    private func unfinishedHead() -> ImagesKitError {
        guard let format = accepted.map(\.format).first(where: { $0.magic.starts(with: head) }) else {
            return notInAcceptedFormat()
        }
        return ImagesKitError(
            .truncatedData,
            "the upload ends after \(head.count) bytes, inside the \(format.name) header; send the whole file",
            context: ["offset": String(head.count)])
    }

    /// The error for an upload that outgrew what the account's storage quota leaves.
    private func quotaError(cause: ImagesKitError) -> ImagesKitError {
        ImagesKitError(
            .quotaExceeded,
            "the upload decompresses to more than the \(quotaBytes) bytes the account's storage quota "
                + "leaves free; delete images or ask for a higher quota",
            cause: cause, context: ["limit": String(quotaBytes)])
    }
}
