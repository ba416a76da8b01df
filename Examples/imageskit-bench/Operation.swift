import Foundation
import ImagesKit

/// One timed operation: only the service call is inside the measured span.
struct Operation {
    let service: ImageService
    let arguments: [String]

    func capture() async throws -> (Double, ImageID) {
        guard arguments.count == 2,
            let format = [CompressionFormat.gzip, .xz].first(where: { $0.name == arguments[1] })
        else { throw BenchmarkUsageError() }
        let disk = try FileDisk(path: arguments[0])
        let request = CaptureRequest(label: "bench", format: format)
        let (seconds, image) = try await Self.timed { try await service.capture(request, from: disk) }
        return (seconds, image.id)
    }

    func upload() async throws -> (Double, ImageID) {
        guard arguments.count == 1 else { throw BenchmarkUsageError() }
        let request = UploadRequest(label: "bench", region: service.store.defaultRegion)
        let id = try await service.createUpload(request).image.id
        let (seconds, _) = try await Self.timed { try await service.upload(id, fileAt: arguments[0]) }
        return (seconds, id)
    }

    func deploy() async throws -> (Double, ImageID) {
        let id = try imageAndPath()
        let (seconds, _) = try await Self.timed { try await service.deploy(id, toNewDiskAt: arguments[1]) }
        return (seconds, id)
    }

    func export() async throws -> (Double, ImageID) {
        let id = try imageAndPath()
        let (seconds, _) = try await Self.timed { try await service.export(id, to: arguments[1], format: .gzip) }
        return (seconds, id)
    }

    private func imageAndPath() throws -> ImageID {
        guard arguments.count == 2, let id = ImageID(arguments[0]) else { throw BenchmarkUsageError() }
        return id
    }

    /// Runs `body` and returns the wall-clock seconds it took with its result.
    static func timed<Result>(_ body: () async throws -> Result) async throws -> (Double, Result) {
        let clock = ContinuousClock()
        let start = clock.now
        let result = try await body()
        let elapsed = start.duration(to: clock.now)
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return (seconds, result)
    }
}
