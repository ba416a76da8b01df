import ImagesKit

/// Feeds one fuzz input to a decoder the way an upload does, and stops the process when the
/// decoder breaks a promise of ``CompressionDecoder``.
///
/// The input's length picks how it is cut into pieces (whole, one byte at a time, or odd
/// sizes), so the same bytes also exercise the decoder's state across calls.
public struct DecoderHarness: Sendable {
    /// The most uncompressed bytes a decoder may produce; small so that bombs stop fast.
    public let outputLimit: UInt64

    /// Makes a harness.
    ///
    /// - Parameter outputLimit: The limit handed to every decoder.
    public init(outputLimit: UInt64) {
        self.outputLimit = outputLimit
    }

    /// Decodes `input` with `decoder`, then finishes it, checking the counters after each step.
    ///
    /// - Parameters:
    ///   - input: The compressed bytes.
    ///   - decoder: A new decoder made with ``outputLimit``.
    public func run(_ input: UnsafeRawBufferPointer, with decoder: any CompressionDecoder) {
        var delivered: UInt64 = 0
        var consumed: UInt64 = 0
        let pieceSize = Self.pieceSize(forInputOf: input.count)

        do {
            var rest = input
            while !rest.isEmpty {
                let piece = UnsafeRawBufferPointer(rebasing: rest.prefix(pieceSize))
                rest = UnsafeRawBufferPointer(rebasing: rest.dropFirst(piece.count))
                consumed += UInt64(piece.count)
                try decoder.decode(piece) { delivered += UInt64($0.count) }
                check(decoder, delivered: delivered, consumed: consumed)
            }
            try decoder.finish()
        } catch {
            Self.checkDocumented(error)
        }
        check(decoder, delivered: delivered, consumed: consumed)
        Self.checkClosed(decoder)
    }

    private static func pieceSize(forInputOf count: Int) -> Int {
        switch count % 4 {
        case 1: 1
        case 2: 7
        case 3: 509
        default: max(count, 1)
        }
    }

    private func check(_ decoder: any CompressionDecoder, delivered: UInt64, consumed: UInt64) {
        guard decoder.outputByteCount == delivered else {
            fatalError("decoder counts \(decoder.outputByteCount) output bytes but handed out \(delivered)")
        }
        guard delivered <= outputLimit else {
            fatalError("decoder handed out \(delivered) bytes past its limit of \(outputLimit)")
        }
        guard decoder.streamByteCount <= consumed else {
            fatalError("decoder claims \(decoder.streamByteCount) stream bytes of \(consumed) given")
        }
    }

    /// Every failure a decoder reports must be a typed ``ImagesKitError``.
    private static func checkDocumented(_ error: any Error) {
        guard error is ImagesKitError else { fatalError("decoder threw an undocumented error: \(error)") }
    }

    /// After finishing or failing, a decoder must refuse more work with an error, not crash.
    private static func checkClosed(_ decoder: any CompressionDecoder) {
        let byte: [UInt8] = [0]
        let accepted = byte.withUnsafeBytes { bytes in (try? decoder.decode(bytes) { _ in }) != nil }
        guard !accepted else { fatalError("decoder took more input after it finished or failed") }
        guard (try? decoder.finish()) == nil else { fatalError("decoder finished twice") }
    }
}
