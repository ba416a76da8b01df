import Foundation
import ImagesKit
import ImagesKitFileSystem
import ImagesKitMemory
import ImagesKitTestSupport
import Testing

/// Sixty-four operations run at once against one service and folder store end where the same
/// operations run one after another would: nothing lost, nothing twice, every image intact.
@Suite("Concurrent operations")
struct ConcurrentOperationsTests {
    @Test func sixtyFourOperationsAtOnceEndAsTheSerialModelSays() async throws {
        let fixture = try ConcurrencyFixture()
        defer { fixture.tearDown() }
        let setup = try await Setup.make(fixture)
        let operations = Self.operations(setup)
        #expect(operations.count == 64)

        let outcomes = await Self.runAtOnce(operations, fixture)

        let model = SerialModel(setup: setup, operations: operations)
        try await model.check(outcomes, fixture)
    }

    /// Captures, uploads, deploys, deletes (each target twice for some), lists and sweeps,
    /// shuffled with a fixed seed.
    static func operations(_ setup: Setup) -> [Operation] {
        var operations: [Operation] = []
        operations += (0..<10).map { .capture($0) }
        operations += (0..<12).map { .upload(seed: 1000 + UInt64($0)) }
        operations += (0..<10).map { .deploy(setup.deployTargets[$0 % setup.deployTargets.count]) }
        operations += setup.deleteTargets.map { .delete($0) } + setup.deleteTargets.prefix(6).map { .delete($0) }
        operations += Array(repeating: .list, count: 10)
        operations += Array(repeating: .sweep, count: 10)
        var generator = SplitMix64(seed: 64)
        operations.shuffle(using: &generator)
        return operations
    }

    /// Starts every operation at once and gathers what each one gave.
    static func runAtOnce(_ operations: [Operation], _ fixture: ConcurrencyFixture) async -> [Outcome] {
        await withTaskGroup(of: Outcome.self) { group in
            for (index, operation) in operations.enumerated() {
                group.addTask { await operation.run(index, fixture) }
            }
            return await group.reduce(into: [Outcome]()) { $0.append($1) }
        }
    }
}

/// The images made before the operations start.
struct Setup: Sendable {
    /// Available images that deploys read and nothing removes.
    var deployTargets: [ImageID]
    /// Available images that deletes remove.
    var deleteTargets: [ImageID]
    /// Pending uploads whose window has closed, which sweeps remove.
    var staleUploads: [ImageID]
    /// Each setup image's SHA-256.
    var sha256: [ImageID: String]

    static func make(_ fixture: ConcurrencyFixture) async throws -> Setup {
        let stale = try await (0..<5).asyncMap { index in
            try await fixture.service.createUpload(UploadRequest(label: "stale-\(index)", region: "local")).image.id
        }
        fixture.clock.advance(by: 25 * 3600)
        var sha256: [ImageID: String] = [:]
        var uploaded: [ImageID] = []
        for seed in UInt64(1)...12 {
            let payload = ConcurrencyFixture.payload(seed: seed)
            let image = try await fixture.upload(payload, label: "setup-\(seed)")
            sha256[image.id] = try ConcurrencyFixture.sha256(payload, in: fixture.folder)
            uploaded.append(image.id)
        }
        let reference = try await fixture.service.capture(
            CaptureRequest(label: "reference"), from: try fixture.sourceDisk(-1))
        sha256[reference.id] = try await fixture.content(of: reference.id).sha256
        return Setup(
            deployTargets: Array(uploaded.prefix(6)) + [reference.id], deleteTargets: Array(uploaded.suffix(6)),
            staleUploads: stale, sha256: sha256)
    }
}

/// One of the operations run at once.
enum Operation: Sendable {
    case capture(Int)
    case upload(seed: UInt64)
    case deploy(ImageID)
    case delete(ImageID)
    case list
    case sweep

    func run(_ index: Int, _ fixture: ConcurrencyFixture) async -> Outcome {
        do {
            return try await perform(index, fixture)
        } catch {
            return .failed(self, error)
        }
    }

    private func perform(_ index: Int, _ fixture: ConcurrencyFixture) async throws -> Outcome {
        let service = fixture.service
        switch self {
        case .capture(let number):
            let disk = try fixture.sourceDisk(number)
            return .captured(try await service.capture(CaptureRequest(label: "capture-\(number)"), from: disk).id)
        case .upload(let seed):
            let image = try await fixture.upload(ConcurrencyFixture.payload(seed: seed), label: "upload-\(seed)")
            return .uploaded(image.id, seed: seed)
        case .deploy(let id):
            let content = try await fixture.content(of: id)
            let target = MemoryDisk(name: "target-\(index)", byteCount: content.uncompressedByteCount)
            try target.fill(with: 0xA5)
            try await service.deploy(id, to: target)
            return .deployed(id, try fixture.sha256(of: target))
        case .delete(let id):
            try await service.delete(id)
            return .deleted(id)
        case .list:
            return .listed(try await service.images(ImageQuery(pageSize: 500)).data)
        case .sweep:
            return .swept(try await service.expire().removed.map(\.id))
        }
    }
}

/// What one operation gave.
enum Outcome: Sendable {
    case captured(ImageID)
    case uploaded(ImageID, seed: UInt64)
    case deployed(ImageID, String)
    case deleted(ImageID)
    case listed([Image])
    case swept([ImageID])
    case failed(Operation, any Error)
}

extension Sequence where Element: Sendable {
    /// Maps each element in turn with an asynchronous transform.
    func asyncMap<Result>(_ transform: (Element) async throws -> Result) async rethrows -> [Result] {
        var results: [Result] = []
        for element in self { results.append(try await transform(element)) }
        return results
    }
}
