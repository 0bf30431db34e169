import Foundation
import Ledger
import OCIModel

/// What changed in the store since a run (`ferry report --since RUN`): tags first seen after it, tags whose digest
/// moved after it (with every digest in between and where each came from), drift events raised after it, and the
/// runs that did it. An auditor's monthly question, answered from the reference store alone.
///
/// "After the run" is by start time: runs never overlap in one store (the run lock), and the runs an import
/// brings in keep their original times.
public struct ChangesReport: Codable, Sendable, Hashable {
    /// The schema version this build writes.
    public static let currentSchemaVersion = 1
    /// The `$schema` identifier of ``currentSchemaVersion``.
    public static let schemaID = "https://ferry.dev/schemas/changes-report/v1.json"

    /// The schema identifier, ``schemaID``.
    public var schema: String
    /// The schema version, ``currentSchemaVersion``.
    public var schemaVersion: Int
    /// When the store was read.
    public var generatedAt: Date
    /// The run the changes are counted from; its own changes are not included.
    public var since: RunRef
    /// The runs after it, oldest first.
    public var runs: [RunRef]
    /// Totals.
    public var counts: Counts
    /// Tags first seen after `since`, by reference.
    public var added: [AddedTag]
    /// Tags that pointed to another digest after `since`, by reference.
    public var moved: [MovedTag]
    /// Drift events raised after `since` (dry runs left out), oldest first.
    public var driftEvents: [DriftEntry]

    private enum CodingKeys: String, CodingKey {
        case schema = "$schema"
        case schemaVersion, generatedAt, since, runs, counts, added, moved, driftEvents
    }

    /// Compares the inventory with the state at the end of `since`; `runs` is every run the store recorded.
    public init(_ inventory: Inventory, runs: [RunRecord], since: RunRecord, generatedAt: Date) {
        var builder = Builder(runs: runs, since: since)
        for repository in inventory.repositories { builder.add(repository) }
        self = builder.report(driftHistory: inventory.driftHistory, generatedAt: generatedAt)
    }

    private init(
        generatedAt: Date, since: RunRef, runs: [RunRef], counts: Counts, added: [AddedTag], moved: [MovedTag],
        driftEvents: [DriftEntry]
    ) {
        schema = Self.schemaID
        schemaVersion = Self.currentSchemaVersion
        self.generatedAt = generatedAt
        self.since = since
        self.runs = runs
        self.counts = counts
        self.added = added
        self.moved = moved
        self.driftEvents = driftEvents
    }

    /// Reads the store now, one repository at a time (only what changed is kept); nil when it has no run `since`.
    public static func load(since id: RunID, from store: ReferenceStore, now: Date = Date()) async throws
        -> ChangesReport?
    {
        guard let since = try await store.run(id) else { return nil }
        // Every run: the history may point at any of them. One row per run, not per reference.
        let runs = try await store.runs(limit: Int(Int32.max))
        let summary = try await store.inventorySummary()
        var builder = Builder(runs: runs, since: since)
        try store.forEachInventoryEntry { builder.add($0) }
        return builder.report(driftHistory: summary.driftHistory, generatedAt: now)
    }

    /// Gathers the changes repository by repository.
    struct Builder {
        let since: RunRecord
        let runs: [RunRecord]
        private let started: [RunID: Date]
        private var added: [AddedTag] = []
        private var moved: [MovedTag] = []
        private var unchanged = 0

        init(runs: [RunRecord], since: RunRecord) {
            self.runs = runs
            self.since = since
            started = Dictionary(runs.map { ($0.id, $0.startedAt) }, uniquingKeysWith: { first, _ in first })
        }

        // A history stretch or event belongs after `since` when the run that made it started later. A run the
        // store no longer knows falls back to the time of the observation itself.
        func isAfter(_ run: RunID, at time: Date) -> Bool {
            run != since.id && (started[run] ?? time) > since.startedAt
        }

        mutating func add(_ repository: InventoryEntry) {
            let histories = Dictionary(grouping: repository.tagHistory, by: \.tag)
            for tag in repository.tags {
                let history = histories[tag.tag] ?? []
                let before = history.filter { !isAfter($0.firstRunID, at: $0.firstSeen) }
                let after = history.filter { isAfter($0.firstRunID, at: $0.firstSeen) }
                let servedBy = EndpointEntry(url: tag.servedBy, repository: tag.repository)
                let reference = tag.repository + ":" + tag.tag
                if let previous = before.last {
                    guard !after.isEmpty else {
                        unchanged += 1
                        continue
                    }
                    moved.append(
                        MovedTag(
                            reference: reference, previousDigest: previous.manifestDigest,
                            previousImageID: previous.imageID, digest: tag.manifestDigest, imageID: tag.imageID,
                            moves: after.map(InventoryReport.HistoryEntry.init), servedBy: servedBy))
                } else {
                    added.append(
                        AddedTag(
                            reference: reference, digest: tag.manifestDigest, imageID: tag.imageID,
                            firstSeen: tag.firstSeen, firstRunID: history.first?.firstRunID ?? tag.lastRunID,
                            moves: max(0, after.count - 1), servedBy: servedBy))
                }
            }
        }

        func report(driftHistory: [DriftEventRecord], generatedAt: Date) -> ChangesReport {
            let runs = self.runs.filter { isAfter($0.id, at: $0.startedAt) }
                .sorted { ($0.startedAt, $0.id.rawValue) < ($1.startedAt, $1.id.rawValue) }
                .map(RunRef.init)
            let drift = driftHistory.filter { isAfter($0.runID, at: $0.occurredAt) }.map(DriftEntry.init)
            return ChangesReport(
                generatedAt: generatedAt, since: RunRef(since), runs: runs,
                counts: Counts(
                    runs: runs.count, added: added.count, moved: moved.count, unchanged: unchanged,
                    driftEvents: drift.count),
                added: added.sorted { $0.reference < $1.reference }, moved: moved.sorted { $0.reference < $1.reference },
                driftEvents: drift)
        }
    }
}

extension ChangesReport {
    /// Totals.
    public struct Counts: Codable, Sendable, Hashable {
        /// Runs after `since`.
        public var runs: Int
        /// Tags first seen after `since`.
        public var added: Int
        /// Tags that moved after `since`.
        public var moved: Int
        /// Tags known at `since` that still point to the same digest and never moved in between.
        public var unchanged: Int
        /// Drift events after `since`.
        public var driftEvents: Int
    }

    /// A run, as the report names it.
    public struct RunRef: Codable, Sendable, Hashable {
        /// The run ID.
        public var id: RunID
        /// sync, pull, import, …
        public var command: String
        /// When it started.
        public var startedAt: Date
        /// How it ended (`running` while it runs, or when it was killed).
        public var status: String
        /// Its exit status, when it finished.
        public var exitStatus: Int32?

        /// Copies a run record.
        public init(_ run: RunRecord) {
            id = run.id
            command = run.command
            startedAt = run.startedAt
            status = run.status.rawValue
            exitStatus = run.exitStatus
        }
    }

    /// A tag the store did not know at the end of `since`.
    public struct AddedTag: Codable, Sendable, Hashable {
        /// `repository:tag`.
        public var reference: String
        /// The digest it points to now.
        public var digest: Digest
        /// The image ID; absent for an index.
        public var imageID: Digest?
        /// When it was first seen.
        public var firstSeen: Date
        /// The run that first saw it.
        public var firstRunID: RunID
        /// How often it moved after it was first seen.
        public var moves: Int
        /// Where its current digest came from.
        public var servedBy: EndpointEntry
    }

    /// A tag that pointed to another digest after `since` (possibly back to the one it had then).
    public struct MovedTag: Codable, Sendable, Hashable {
        /// `repository:tag`.
        public var reference: String
        /// The digest it pointed to at the end of `since`.
        public var previousDigest: Digest
        /// The image ID observed with that digest.
        public var previousImageID: Digest?
        /// The digest it points to now.
        public var digest: Digest
        /// The image ID; absent for an index.
        public var imageID: Digest?
        /// Every stretch after `since`, oldest first: the digests it pointed to, when, and which runs saw them.
        public var moves: [InventoryReport.HistoryEntry]
        /// Where its current digest came from.
        public var servedBy: EndpointEntry
    }
}
