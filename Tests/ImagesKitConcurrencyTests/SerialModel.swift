import Foundation
import ImagesKit
import ImagesKitMemory
import Testing

/// What the operations leave when run one after another, and the checks that the concurrent
/// run left the same.
struct SerialModel {
    let setup: Setup
    let operations: [Operation]

    /// The images a serial run ends with: the deploy targets and one new image per capture and
    /// per upload; the delete targets and the stale uploads are gone.
    var survivingSetupImages: Set<ImageID> { Set(setup.deployTargets) }

    func check(_ outcomes: [Outcome], _ fixture: ConcurrencyFixture) async throws {
        let failures = outcomes.compactMap(Self.unexpectedFailure)
        #expect(failures.isEmpty, "operations failed: \(failures)")

        let created = try checkCreations(outcomes, in: fixture.folder)
        checkDeletes(outcomes)
        checkSweeps(outcomes)
        try checkDeploys(outcomes)
        checkLists(outcomes, created: Set(created.keys))
        try await checkFinalState(fixture, created: created)
    }

    /// A failure the serial model does not allow: only a second delete of one image may fail,
    /// as not found (it ran after the first) or as a conflict (it ran during it).
    static func unexpectedFailure(_ outcome: Outcome) -> String? {
        guard case .failed(let operation, let error) = outcome else { return nil }
        if case .delete = operation, let error = error as? ImagesKitError,
            error.code == .imageNotFound || error.code == .conflict
        {
            return nil
        }
        return "\(operation): \(error)"
    }

    /// Every capture and upload made its own new image, with a number no setup image had.
    ///
    /// An upload's SHA-256 is its payload's; a capture's is known only from its record, since
    /// the check run on the captured copy stamps the filesystem with the time.
    private func checkCreations(_ outcomes: [Outcome], in folder: URL) throws -> [ImageID: String?] {
        var created: [ImageID: String?] = [:]
        var newIDs: [ImageID] = []
        for outcome in outcomes {
            switch outcome {
            case .captured(let id):
                newIDs.append(id)
                created[id] = .some(nil)
            case .uploaded(let id, let seed):
                newIDs.append(id)
                created[id] = try ConcurrencyFixture.sha256(ConcurrencyFixture.payload(seed: seed), in: folder)
            default:
                continue
            }
        }
        #expect(newIDs.count == 22)
        #expect(Set(newIDs).count == newIDs.count, "an id was handed out twice: \(newIDs)")
        let highestSetup = setup.sha256.keys.compactMap(\.number).max() ?? 0
        #expect(newIDs.allSatisfy { ($0.number ?? 0) > highestSetup })
        return created
    }

    /// Each delete target was removed exactly once.
    private func checkDeletes(_ outcomes: [Outcome]) {
        let deleted = outcomes.compactMap { outcome -> ImageID? in
            guard case .deleted(let id) = outcome else { return nil }
            return id
        }
        #expect(deleted.sorted() == setup.deleteTargets.sorted())
    }

    /// The sweeps together removed each stale upload once, and nothing else.
    private func checkSweeps(_ outcomes: [Outcome]) {
        let removed = outcomes.flatMap { outcome -> [ImageID] in
            guard case .swept(let ids) = outcome else { return [] }
            return ids
        }
        #expect(removed.sorted() == setup.staleUploads.sorted())
    }

    /// Every deploy wrote its image's exact bytes over the whole disk.
    private func checkDeploys(_ outcomes: [Outcome]) throws {
        var count = 0
        for case .deployed(let id, let sha256) in outcomes {
            count += 1
            #expect(sha256 == setup.sha256[id], "deploy of \(id) wrote other bytes")
        }
        #expect(count == 10)
    }

    /// A list never shows an id twice or an image that no serial order could show.
    private func checkLists(_ outcomes: [Outcome], created: Set<ImageID>) {
        let possible = Set(setup.sha256.keys).union(setup.staleUploads).union(created)
        for case .listed(let images) in outcomes {
            let ids = images.map(\.id)
            #expect(Set(ids).count == ids.count, "a list showed an id twice")
            #expect(Set(ids).isSubset(of: possible), "a list showed an unknown image")
            #expect(Set(setup.deployTargets).isSubset(of: Set(ids)), "a list lost an image")
        }
    }

    /// The store ends with exactly the serial model's images, each available and whole.
    private func checkFinalState(_ fixture: ConcurrencyFixture, created: [ImageID: String?]) async throws {
        let records = try await fixture.store.records()
        let expected = survivingSetupImages.union(created.keys)
        #expect(Set(records.map(\.image.id)) == expected)
        #expect(records.allSatisfy { $0.image.status == .available })

        for record in records {
            if let sha256 = created[record.image.id] ?? setup.sha256[record.image.id] {
                #expect(record.content?.sha256 == sha256, "\(record.image.id) has another SHA-256")
            }
            #expect(record.content?.uncompressedByteCount ?? 0 > 0)
            try await checkReadsBack(record, fixture)
        }
        let leftovers = try FileManager.default.contentsOfDirectory(
            atPath: fixture.store.root.appendingPathComponent("staging").path)
        #expect(leftovers.isEmpty, "staging holds \(leftovers)")
    }

    /// The image deploys whole onto a fresh disk, its SHA-256 checked on the way.
    private func checkReadsBack(_ record: StoredImage, _ fixture: ConcurrencyFixture) async throws {
        let content = try #require(record.content)
        let disk = MemoryDisk(byteCount: content.uncompressedByteCount)
        try await fixture.service.deploy(record.image.id, to: disk)
        #expect(try fixture.sha256(of: disk) == content.sha256)
    }
}
