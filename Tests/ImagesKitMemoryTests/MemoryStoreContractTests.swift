import Foundation
import ImagesKit
import ImagesKitMemory
import ImagesKitStoreContract
import Testing

@Suite("Memory store contract")
struct MemoryStoreContractTests {
    static let factory = ImageStoreContract.Factory(makeStore: { MemoryImageStore(region: "us-east") })

    @Test("passes the store contract", arguments: ImageStoreContract.checks)
    func contract(_ check: ImageStoreContract.Check) async throws {
        try await check.run(Self.factory)
    }

    @Test("a memory disk reads zeros where nothing was written and keeps writes across pieces")
    func memoryDiskSparse() throws {
        let disk = MemoryDisk(byteCount: 300_000)
        let pattern = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try pattern.withUnsafeBytes { try disk.write($0, at: 60_000) }
        let back = try disk.readBytes(count: 100_000, at: 60_000)
        #expect(back == pattern)
        #expect(try disk.readBytes(count: 1000, at: 0) == Array(repeating: 0, count: 1000))
        try disk.eraseAll()
        #expect(try disk.readBytes(count: 100, at: 60_000) == Array(repeating: 0, count: 100))
        #expect(throws: ImagesKitError.self) { try pattern.withUnsafeBytes { try disk.write($0, at: 250_000) } }
    }

    @Test("the settable clock reads what was set and advances")
    func settableClock() {
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        let clock = SettableClock(start)
        #expect(clock.now() == start)
        clock.advance(by: 3600)
        #expect(clock.now() == start.addingTimeInterval(3600))
    }
}
