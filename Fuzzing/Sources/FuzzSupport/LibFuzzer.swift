import CImagesKitFuzzDriver
import Foundation

/// What libFuzzer calls with each input: the bytes and their count; returns 0 to keep the input.
public typealias FuzzCallback = @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt

/// Hands the process to libFuzzer, which reads its options from the command line and calls
/// `callback` with every input until it stops, then exits with libFuzzer's status.
///
/// SwiftPM gives every executable its own `main`, so the targets start libFuzzer through
/// `LLVMFuzzerRunDriver` instead of using the `main` libFuzzer brings.
///
/// - Parameter callback: The target's `LLVMFuzzerTestOneInput`.
public func runLibFuzzer(_ callback: FuzzCallback) -> Never {
    var argc = CommandLine.argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
    exit(LLVMFuzzerRunDriver(&argc, &argv, callback))
}

/// The input as a raw buffer; empty when libFuzzer passes no pointer.
///
/// - Parameters:
///   - data: The input's first byte, or nil.
///   - size: The input's length.
/// - Returns: A buffer valid for the duration of the call.
public func fuzzInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> UnsafeRawBufferPointer {
    guard let data, size > 0 else { return UnsafeRawBufferPointer(start: nil, count: 0) }
    return UnsafeRawBufferPointer(start: data, count: size)
}
