import Foundation
import ImagesKit
import Testing

/// Several imagesctl processes opening one store folder at once, before it even exists, share it
/// without harm: each image gets its own id and whole content.
@Suite("Processes sharing a store")
struct SharedStoreTests {
    @Test func processesStartedAtOnceOnANewStoreEachKeepTheirImage() async throws {
        let sandbox = try Sandbox()
        let disk = try await sandbox.makeExt4Disk()
        var uploads: [String: [UInt8]] = [:]
        for index in 0..<6 {
            let raw = sandbox.path("raw-\(index).img")
            uploads[raw] = SeededBytes.make(count: 200_000, seed: UInt64(40 + index))
            try Data(uploads[raw] ?? []).write(to: URL(fileURLWithPath: raw))
            _ = try await sandbox.gzip(raw)
        }

        let results = try await withThrowingTaskGroup(of: (String, ProcessResult).self) { group in
            for raw in uploads.keys {
                group.addTask {
                    (
                        raw,
                        try await sandbox.imagesctl(
                            "--json", "upload", raw + ".gz", "--label", "u", "--region", "local")
                    )
                }
            }
            for index in 0..<2 {
                group.addTask {
                    ("capture", try await sandbox.imagesctl("--json", "capture", disk, "--label", "c\(index)"))
                }
                group.addTask { ("list", try await sandbox.imagesctl("list")) }
            }
            return try await group.reduce(into: [(String, ProcessResult)]()) { $0.append($1) }
        }

        #expect(results.allSatisfy { $0.1.status == 0 }, "\(results.map { ($0.0, $0.1.standardError) })")
        let made = try results.filter { $0.0 != "list" }.map {
            ($0.0, try APIJSON.decoder().decode(Image.self, from: Data($0.1.standardOutput.utf8)))
        }
        #expect(Set(made.map(\.1.id)).count == 8)
        let listed = try await sandbox.imagesctlJSON(ImagePage.self, "list").data
        #expect(Set(listed.map(\.id)) == Set(made.map(\.1.id)))
        #expect(listed.allSatisfy { $0.status == .available })
        try await expectUploadsReadBack(made, uploads, sandbox)
        #expect(try FileManager.default.contentsOfDirectory(atPath: sandbox.path("store/staging")).isEmpty)
    }

    /// Every uploaded image deploys back to the exact bytes that were sent.
    private func expectUploadsReadBack(
        _ made: [(String, Image)], _ uploads: [String: [UInt8]], _ sandbox: Sandbox
    ) async throws {
        for (raw, image) in made {
            guard let sent = uploads[raw] else { continue }
            let deployed = sandbox.path("deployed-\(image.id.number ?? 0).img")
            #expect(try await sandbox.imagesctl("deploy", image.id.description, deployed).status == 0)
            let bytes = try Data(contentsOf: URL(fileURLWithPath: deployed))
            #expect(Array(bytes.prefix(sent.count)) == sent)
        }
    }
}
