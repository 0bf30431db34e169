import Foundation
import LayoutStore
import Ledger
import OCIModel

/// Compares `index.json` with the reference store, which it is derived from, and brings it back in line.
///
/// A run commits its records to the reference store first and rewrites `index.json` afterwards (at most every few
/// seconds, and at its end), so a crash in between leaves `index.json` behind: a name missing, or still at the
/// digest the tag had before. That is benign — every name it has points at complete content — and the next run that
/// takes the store's lock (sync, pull, import) or `ferry verify --repair` restores the names. A name that points
/// where the reference store never recorded it is a real disagreement and is left alone for a person to look at.
public struct IndexReconciler: Sendable {
    /// The store whose `index.json` is checked.
    public let store: ContentStore
    /// The reference store, the source of truth.
    public let ledger: ReferenceStore

    /// Creates a reconciler.
    public init(store: ContentStore, ledger: ReferenceStore) {
        self.store = store
        self.ledger = ledger
    }

    /// A name whose `index.json` entry is behind the reference store.
    public struct Lagging: Sendable, Hashable {
        /// The reference name.
        public var name: String
        /// The digest the reference store records for it.
        public var recorded: Digest
        /// What `index.json` has: nil when it lacks the name, else a digest the tag had before.
        public var indexed: Digest?
        /// The recorded manifest's media type.
        public var mediaType: MediaType
    }

    /// A name where `index.json` and the reference store disagree in a way no interrupted run explains.
    public struct Conflict: Sendable, Hashable, CustomStringConvertible {
        /// The reference name.
        public var name: String
        /// The digest the reference store records for it.
        public var recorded: Digest
        /// What `index.json` has, nil when it lacks the name (and the store lacks the recorded content).
        public var indexed: Digest?

        /// `NAME: recorded at D but index.json has E` or `… but not in index.json`.
        public var description: String {
            if let indexed { return "\(name): recorded at \(recorded) but index.json has \(indexed)" }
            return "\(name): recorded at \(recorded) but not in index.json"
        }
    }

    /// What a comparison found.
    public struct Findings: Sendable, Hashable {
        /// Names behind the reference store, their content complete in the store.
        public var lagging: [Lagging] = []
        /// Real disagreements.
        public var conflicts: [Conflict] = []
    }

    /// Compares without changing anything, streaming the reference store's names against the loaded index.
    public func check() async throws -> Findings {
        var differing: [(RecordedName, Digest?)] = []
        try ledger.forEachRecordedName { recorded in
            let indexed = try store.digest(named: recorded.name)
            if indexed != recorded.digest { differing.append((recorded, indexed)) }
        }
        var findings = Findings()
        for (recorded, indexed) in differing.sorted(by: { $0.0.name < $1.0.name }) {
            var explained = indexed == nil
            if let indexed, recorded.isTag { explained = try await ledger.digestsEver(tag: recorded.name).contains(indexed) }
            if explained, isComplete(recorded) {
                findings.lagging.append(
                    Lagging(name: recorded.name, recorded: recorded.digest, indexed: indexed, mediaType: recorded.mediaType))
            } else {
                findings.conflicts.append(Conflict(name: recorded.name, recorded: recorded.digest, indexed: indexed))
            }
        }
        return findings
    }

    /// Points every lagging name at what the reference store records (one write of `index.json`) and returns what
    /// was found, including the conflicts it left alone.
    @discardableResult
    public func reconcile() async throws -> Findings {
        let findings = try await check()
        guard !findings.lagging.isEmpty else { return findings }
        var entries: [(name: String, descriptor: Descriptor)] = []
        for lagging in findings.lagging {
            guard let size = store.blobSize(lagging.recorded) else { continue }
            entries.append(
                (lagging.name, Descriptor(mediaType: lagging.mediaType, digest: lagging.recorded, size: size)))
        }
        try store.setReferences(entries)
        try store.flushIndex()
        return findings
    }

    /// True when the store holds the recorded manifest and everything it needs.
    private func isComplete(_ name: RecordedName) -> Bool {
        guard store.hasBlob(name.digest) else { return false }
        let tree = StoreWalk.tree(
            name: name.name, top: Descriptor(mediaType: name.mediaType, digest: name.digest, size: 0), store: store)
        return tree.unreadable.isEmpty && tree.needed.allSatisfy { store.hasBlob($0.digest) }
    }
}
