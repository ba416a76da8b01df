import Foundation
import FuzzSupport

// `IMAGESKIT_FUZZ_WRITE_SEEDS=folder` writes seed records through a store there instead of fuzzing.
if let folder = ProcessInfo.processInfo.environment["IMAGESKIT_FUZZ_WRITE_SEEDS"] {
    do { try writeRecordSeeds(into: URL(fileURLWithPath: folder)) } catch { fatalError("\(error)") }
    exit(0)
}
runLibFuzzer(fuzzRecords)
