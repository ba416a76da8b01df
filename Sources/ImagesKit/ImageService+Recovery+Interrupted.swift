import Foundation

extension ImageService {
    /// Removes what work interrupted by a crash left: `creating` images whose capture no
    /// longer runs in any process sharing the store, each with a failed `disk_imagize` event;
    /// the scratch folders of processes that have ended, with the partial disks and exports
    /// they list; and regions a cut-off replication left `pending replication`, `replicating`
    /// or `pending deletion`: unfinished copies go, and the regions being dropped come
    /// back (while copies were still being made) or go (once every new copy was made); and
    /// images a delete or expiry had begun removing, whose removal it finishes.
    ///
    /// An application calls this when it starts; ``expire()`` calls it too. Images another
    /// operation holds are left alone, so it is safe while other processes work. Uploads cut off
    /// by a crash need nothing: their image stays `pending_upload` without the partial bytes,
    /// and the file can be sent again until the window closes.
    /// - Returns: The interrupted captures' images removed.
    /// - Throws: ``ImagesKitError`` with `store_failure`.
    @discardableResult
    public func recoverInterruptedWork() async throws -> [Image] {
        ScratchFolder.removeAbandoned(inside: configuration.scratchDirectory)
        var removed: [Image] = []
        for record in try await store.records() {
            if record.image.status == .creating, let image = try await removeIfAbandoned(record.image.id) {
                removed.append(image)
            } else if record.isBeingRemoved {
                try await finishInterruptedRemoval(record.image.id)
            } else if Self.isMidReplication(record) {
                try await repairInterruptedReplication(record.image.id)
            }
        }
        return removed
    }

    /// Finishes removing an image whose delete or expiry a crash cut off, unless an operation
    /// holds it: every copy goes, billing is told the copies ended, and an `image_delete`
    /// event says so.
    private func finishInterruptedRemoval(_ id: ImageID) async throws {
        do {
            try await exclusively(id) {
                guard let record = try await store.record(id), record.isBeingRemoved else { return }
                try await removeEverywhere(record)
                await recordEvent(.imageDelete, id, .finished, "an interrupted removal was finished")
                logger.warning("finished an interrupted removal", ["image": "\(id)"])
            }
        } catch let error as ImagesKitError where error.code == .conflict {
            return
        }
    }

    private func removeIfAbandoned(_ id: ImageID) async throws -> Image? {
        do {
            return try await exclusively(id) {
                guard let record = try await store.record(id), record.image.status == .creating else { return nil }
                try await store.remove(id)
                await recordEvent(
                    .diskImagize, id, .failed, "the capture was interrupted before it finished; capture the disk again")
                logger.warning("removed an interrupted capture", ["image": "\(id)"])
                return record.image
            }
        } catch let error as ImagesKitError where error.code == .conflict {
            return nil
        }
    }
}
