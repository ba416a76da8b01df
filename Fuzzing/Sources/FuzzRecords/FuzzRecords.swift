import Foundation
import FuzzSupport
import ImagesKit
import ImagesKitFileSystem

/// A folder store of its own, in `$IMAGESKIT_FUZZ_STORE` or a new temporary folder.
private let store: FileSystemImageStore = {
    let environment = ProcessInfo.processInfo.environment
    let folder =
        environment["IMAGESKIT_FUZZ_STORE"].map { URL(fileURLWithPath: $0) }
        ?? FileManager.default.temporaryDirectory.appendingPathComponent("imageskit-fuzz-store-\(getpid())")
    do { return try FileSystemImageStore(folder: folder) } catch { fatalError("can't open the store: \(error)") }
}()

private let recordFile = store.root.appendingPathComponent("records/1.json")

/// Puts `bytes` where the store keeps image 1's record and loads it as the store does.
private func load(_ bytes: Data) -> StoredImage? {
    do { try bytes.write(to: recordFile) } catch { fatalError("can't write the record file: \(error)") }
    do {
        return try blocking { try await store.record(.private(1)) }
    } catch {
        guard let error = error as? ImagesKitError, error.code == .storeFailure else {
            fatalError("loading a record threw an undocumented error: \(error)")
        }
        return nil
    }
}

/// What the service and the command line do with a loaded record: show it, count it, save it.
private func use(_ record: StoredImage) {
    _ = record.image.totalSize
    do {
        let saved = try blocking {
            try await store.save(record)
            return try await store.record(.private(1))
        }
        guard saved == record else { fatalError("a saved record reads back as another: \(String(describing: saved))") }
        _ = try APIJSON.encoder(pretty: true).encode(record.image)
    } catch {
        fatalError("a record the store loaded could not be saved and read back: \(error)")
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
func fuzzRecords(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = Data(fuzzInput(data, size))
    guard let record = load(bytes) else { return 0 }
    use(record)
    return 0
}
