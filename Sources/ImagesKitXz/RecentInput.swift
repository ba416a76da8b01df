import CImagesKitLzma
import ImagesKit

/// The header of the current stream and the newest bytes handed to the multi-threaded decoder,
/// kept so that a block header it refused for memory can be read again to learn what it needs.
///
/// liblzma refuses a block right after reading its header, so the header is the last bytes
/// consumed; a block header is at most 1024 bytes long.
struct RecentInput {
    private static let streamHeaderSize = 12
    private static let tailCapacity = 1024

    private var streamHeader: [UInt8] = []
    private var tail: [UInt8] = []

    /// Starts over at a stream whose six magic bytes were handed to liblzma.
    mutating func startStream() {
        streamHeader = CompressionFormat.xz.magic
        tail = []
    }

    /// Keeps what of `bytes`, just consumed by liblzma, may be needed later.
    mutating func record(_ bytes: UnsafeRawBufferPointer) {
        if streamHeader.count < Self.streamHeaderSize {
            streamHeader.append(contentsOf: bytes.prefix(Self.streamHeaderSize - streamHeader.count))
        }
        guard bytes.count < Self.tailCapacity else {
            tail = Array(bytes.suffix(Self.tailCapacity))
            return
        }
        let overflow = tail.count + bytes.count - Self.tailCapacity
        if overflow > 0 {
            tail.removeFirst(overflow)
        }
        tail.append(contentsOf: bytes)
    }

    /// The memory a single-threaded decoder with `limit` says the last block header needs.
    ///
    /// Each suffix of the kept bytes whose first byte gives its own length is tried as the block
    /// header; liblzma's CRC-32 of the header rules out the wrong ones.
    ///
    /// - Parameter limit: The decoder's memory limit, which the block exceeds.
    /// - Returns: The figure, or `nil` when no suffix is a block header liblzma refuses for memory.
    func memoryNeededByLastBlockHeader(limit: UInt64) -> UInt64? {
        guard streamHeader.count == Self.streamHeaderSize else { return nil }
        for size in stride(from: 8, through: tail.count, by: 4) {
            let header = tail.suffix(size)
            guard Int(header.first!) == size / 4 - 1 else { continue }
            if let needed = Self.memoryRefused(streamHeader + header, limit: limit) {
                return needed
            }
        }
        return nil
    }

    private static func memoryRefused(_ headers: [UInt8], limit: UInt64) -> UInt64? {
        let probe = LzmaStream(outputCapacity: 1)
        defer { probe.release() }
        do {
            try probe.start(function: "lzma_stream_decoder", role: "xz memory probe") {
                lzma_stream_decoder($0, limit, 0)
            }
        } catch {
            return nil
        }
        let progress = headers.withUnsafeBytes { probe.advance(input: $0, outputCount: 0, action: LZMA_RUN) }
        return progress.code == LZMA_MEMLIMIT_ERROR ? probe.memoryUsage : nil
    }
}
