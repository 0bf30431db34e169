import FerrySystem
import Foundation
import LayoutStore
import Ledger
import OCIModel

/// What `ferry prune` removed (or would remove).
public struct PruneReport: Sendable {
    /// A removed blob and its size.
    public struct Removed: Sendable, Hashable {
        /// The blob.
        public var digest: Digest
        /// Its size in bytes.
        public var size: Int64
    }

    /// Blobs removed, or that would be with `--dry-run`.
    public var removed: [Removed] = []
    /// Blobs kept because a reference needs them.
    public var kept = 0
    /// Bytes freed (or that would be).
    public var bytesFreed: Int64 { removed.reduce(0) { $0 + $1.size } }
    /// True when nothing was deleted on purpose.
    public var dryRun: Bool
}

/// Removes blobs and manifests no reference needs.
///
/// Needed: everything reachable from `index.json` (every stored reference, digest-pinned ones included), plus, for
/// every tag the reference store knows, the content of its last `keep` digests (the current one counts), so a
/// rollback to a recent version stays possible offline. The reference store's history is never pruned.
/// Callers must hold the store's run lock so no sync adds content meanwhile.
public struct StorePruner: Sendable {
    /// The store.
    public let store: ContentStore
    /// The reference store (tag history); nil keeps only what `index.json` needs.
    public let ledger: ReferenceStore?
    /// Digests kept per tag, newest first (at least 1).
    public let keep: Int

    /// Creates a pruner.
    public init(store: ContentStore, ledger: ReferenceStore?, keep: Int) {
        self.store = store
        self.ledger = ledger
        self.keep = max(keep, 1)
    }

    /// Prunes, or with `dryRun` only reports.
    public func prune(dryRun: Bool) async throws -> PruneReport {
        var roots: [(String, Descriptor)] = try StoreWalk.roots(store)
        if let inventory = try await ledger?.inventory() {
            for entry in inventory.repositories {
                let byTag = Dictionary(grouping: entry.tagHistory, by: \.tag)
                for (tag, history) in byTag {
                    let recent = history.sorted { $0.lastSeen > $1.lastSeen }
                    var seen: Set<Digest> = []
                    for stretch in recent where seen.count < keep && seen.insert(stretch.manifestDigest).inserted {
                        let mediaType = entry.tags.first { $0.manifestDigest == stretch.manifestDigest }?.mediaType
                        roots.append(("\(entry.repository):\(tag)@\(stretch.manifestDigest)",
                                      Descriptor(mediaType: mediaType ?? MediaType(rawValue: ""), digest: stretch.manifestDigest, size: 0)))
                    }
                }
            }
        }
        var needed: Set<Digest> = []
        for (name, top) in roots {
            let tree = StoreWalk.tree(name: name, top: top, store: store)
            for (digest, _) in tree.needed { needed.insert(digest) }
        }
        var report = PruneReport(dryRun: dryRun)
        for digest in try store.allBlobs().sorted() {
            if needed.contains(digest) {
                report.kept += 1
                continue
            }
            let size = store.blobSize(digest) ?? 0
            if !dryRun { try store.removeBlob(digest) }
            report.removed.append(.init(digest: digest, size: size))
        }
        return report
    }
}
