import Foundation
import ImagesKit
import Testing

/// A small upload that inflates far past the image limit stops at the limit, with bounded
/// memory and time, and leaves nothing in the store.
@Suite("Uploads that inflate past the limit")
struct InflationBombTests {
    @Test("a 16 GiB gzip bomb of 16 MB stops at a 500 MB limit quickly, in bounded memory")
    func bombStopsAtTheLimit() async throws {
        let fixture = try StoreFixture(limits: ImageLimits(imageBytes: 500_000_000))
        let bomb = try Self.makeBomb(gibibytes: 16, at: fixture.path("bomb.img.gz"))
        let pending = try await fixture.service.createUpload(UploadRequest(label: "bomb", region: "local"))
        let memory = ResidentMemory()

        let started = ContinuousClock.now
        let error = await #expect(throws: ImagesKitError.self) {
            _ = try await fixture.service.upload(pending.image.id, fileAt: bomb) { _ in memory.sample() }
        }
        let elapsed = ContinuousClock.now - started

        #expect(error?.code == .imageTooLarge)
        #expect(error?.message.contains("500000000") == true, "\(error?.message ?? "")")
        #expect(elapsed < .seconds(30), "took \(elapsed)")
        #expect(memory.growth < 250 << 20, "resident memory grew by \(memory.growth) bytes")
        #expect(try fixture.snapshot().isEmpty)
        #expect(try await fixture.service.images().data.isEmpty)
    }

    /// Writes a gzip member holding `gibibytes` GiB of zeros, built with python3's zlib from
    /// one compressed MiB repeated (full flushes make the pieces joinable). Its trailer is never
    /// reached, so its CRC is left zero.
    static func makeBomb(gibibytes: Int, at path: String) throws -> String {
        let script = """
            import struct, sys, zlib
            mib = bytes(1 << 20)
            z = zlib.compressobj(9, zlib.DEFLATED, -15)
            piece = z.compress(mib) + z.flush(zlib.Z_FULL_FLUSH)
            count = \(gibibytes) << 10
            crc = 0
            with open(sys.argv[1], 'wb') as out:
                out.write(bytes([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]))
                for _ in range(count): out.write(piece)
                out.write(b'\\x03\\x00' + struct.pack('<II', crc, (count << 20) & 0xffffffff))
            """
        try Tool.run("python3", "-c", script, path)
        return path
    }
}

/// The most this process's resident memory grew over what it was when made, sampled.
final class ResidentMemory: @unchecked Sendable {
    private let start = ResidentMemory.current()
    private let highest = NSLock()
    private var peak: UInt64 = 0

    /// How far above the start the highest sample was.
    var growth: UInt64 {
        highest.withLock { peak > start ? peak - start : 0 }
    }

    /// Takes a sample now.
    func sample() {
        let now = Self.current()
        highest.withLock { peak = max(peak, now) }
    }

    /// The resident bytes, from `/proc/self/statm`.
    static func current() -> UInt64 {
        let text = (try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8)) ?? ""
        let pages = text.split(separator: " ").dropFirst().first.flatMap { UInt64($0) } ?? 0
        return pages * UInt64(sysconf(Int32(_SC_PAGESIZE)))
    }
}
