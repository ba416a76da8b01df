import FuzzSupport
import ImagesKit
import ImagesKitMemory

/// The largest disk the input is laid on: enough for many groups, small enough that a walk over
/// every group of a lying superblock stays well under libFuzzer's timeout.
private let diskLimit: UInt64 = 64 << 20

/// Lays the input at the start of a sparse disk that is as large as the filesystem the input
/// claims (up to ``diskLimit``), so seeds can be cut short after their metadata.
private func disk(holding input: UnsafeRawBufferPointer) -> MemoryDisk {
    var size = UInt64(input.count)
    if case .ext(let filesystem) = DiskProbe.identify(prefix: Array(input.prefix(DiskProbe.prefixByteCount))) {
        size = max(size, min(filesystem.byteCount, diskLimit))
    }
    let disk = MemoryDisk(name: "fuzz", byteCount: size)
    do { try disk.write(input, at: 0) } catch { fatalError("memory disk refused its own size: \(error)") }
    return disk
}

/// Walks the ranges a capture reads and zeroes, checking each walk keeps its promises.
private func walk(_ filesystem: ExtFilesystem, on disk: MemoryDisk) {
    let end = filesystem.byteCount
    _ = try? filesystem.forEachUsedRange(on: disk, RangeOrderCheck(within: end, order: .coalesced).body)
    _ = try? filesystem.forEachUnwrittenRange(on: disk, RangeOrderCheck(within: end, order: .any).body)
    _ = try? filesystem.forEachFreeInodeRange(on: disk, RangeOrderCheck(within: end, order: .increasing).body)
}

@_cdecl("LLVMFuzzerTestOneInput")
func fuzzDiskProbe(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = fuzzInput(data, size)
    _ = DiskProbe.describe(prefix: Array(input.prefix(DiskProbe.prefixByteCount)))
    let disk = disk(holding: input)

    // The capture's own path: the probe validates every descriptor before the walk.
    if let filesystem = try? DiskProbe.capturableFilesystem(on: disk) {
        walk(filesystem, on: disk)
    }
    // The path after the journal is replaced: the walk trusts what identify found.
    if case .ext(let filesystem)? = try? DiskProbe.identify(disk) {
        walk(filesystem, on: disk)
    }
    return 0
}
