import Foundation
internal import GRDB

/// What merging one store's reference store into this one did.
public struct LedgerMergeResult: Sendable, Hashable {
    /// One run of the source store and the run here it became part of.
    public struct MergedRun: Sendable, Hashable {
        /// The run's ID in the source store.
        public var sourceRun: RunID
        /// The run here: the same ID, a new one when that was taken, or the run of its shard group.
        public var run: RunID
        /// The shard the run covered, when it was one.
        public var shard: RunShard?
        /// False when an earlier merge brought it in already.
        public var isNew: Bool
    }

    /// A row both stores have under the same key, with another value in a column that must agree; this store's
    /// value is kept.
    public struct Contradiction: Sendable, Hashable, CustomStringConvertible {
        /// The table.
        public var table: String
        /// The column that differs (`imageId` of a digest mapping: image-ID drift between the stores).
        public var column: String
        /// The row, named for a person (`repository@digest (platform)`).
        public var row: String
        /// The value kept here.
        public var kept: String
        /// The source's value, not taken.
        public var offered: String

        /// `digestMapping REPO@DIGEST: imageId X kept, the merged store has Y`.
        public var description: String { "\(table) \(row): \(column) \(kept) kept, the merged store has \(offered)" }
    }

    /// The source store's `storeInfo.id`.
    public var sourceStore: String
    /// Every run of the source, in start order.
    public var runs: [MergedRun]
    /// Rows added per table.
    public var rowsAdded: [String: Int]
    /// Rows that contradicted this store's.
    public var contradictions: [Contradiction]
}

extension ReferenceStore {
    /// Merges the reference store at `sourcePath` into this one, in one transaction: its runs (runs of one shard
    /// group become one run here), then every table of ``MergeTable/all`` by natural key, so that merging the same
    /// store again adds nothing and no ID collides. The source file is attached read-only in effect: nothing is
    /// written to it (it must already have this binary's schema version; ``prepareMergeSource(at:)``).
    public func merge(from sourcePath: String, mergedAt: Date = Date()) async throws -> LedgerMergeResult {
        let path = path
        let operation = "merge \(sourcePath)"
        do {
            return try await writer.writeWithoutTransaction { db in
                // ATTACH cannot run inside a transaction; the merge itself is one.
                try db.execute(sql: "ATTACH DATABASE ? AS merging", arguments: [sourcePath])
                defer { try? db.execute(sql: "DETACH DATABASE merging") }
                var result: LedgerMergeResult?
                try db.inTransaction(.immediate) {
                    result = try MergeWriter(db: db, path: path, sourcePath: sourcePath, mergedAt: mergedAt).write()
                    return .commit
                }
                try MergeTable.dropMaps(db)
                guard let result else {
                    throw LedgerError.database(path: path, operation: operation, reason: "the merge did not finish")
                }
                return result
            }
        } catch let error as LedgerError {
            throw error
        } catch let error as DatabaseError where error.resultCode == .SQLITE_FULL {
            throw LedgerError.diskFull(path: path, operation: operation)
        } catch {
            throw LedgerError.database(path: path, operation: operation, reason: Self.reason(error))
        }
    }

    /// Makes the reference store at `path` mergeable by this binary: an older schema is brought up to date (the
    /// only write a merge makes to a source), a newer one is refused with
    /// ``LedgerError/schemaTooNew(path:found:supported:)``.
    public static func prepareMergeSource(at path: String) throws {
        let reader = try openReadOnly(at: path)
        let version = try reader.readNow("read schema version") { db in
            try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0
        }
        try reader.close()
        guard version < Schema.version else { return }
        try open(at: path).close()
    }

    /// The shard a run of this store covered, or nil for a run of a whole list (and for a merged group's run).
    public func shard(ofRun id: RunID) async throws -> RunShard? {
        try await read("read shard of run \(id)") { db in
            guard
                let row = try Row.fetchOne(
                    db, sql: "SELECT shardIndex, shardCount, shardGroup FROM run WHERE id = ?",
                    arguments: [id.rawValue]),
                let index = row["shardIndex"] as Int?, let count = row["shardCount"] as Int?
            else { return nil }
            return RunShard(index: index, count: count, group: row["shardGroup"])
        }
    }

    /// The runs of other stores merged into `run` (a shard group's run has one per shard), by shard index.
    public func mergedSources(of run: RunID) async throws -> [MergedSource] {
        try await read("read merged runs of \(run)") { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT sourceStore, sourceRunId, sourcePath, shardIndex, shardCount, status, exitStatus
                    FROM mergedRun WHERE runId = ? ORDER BY shardIndex, startedAt
                    """, arguments: [run.rawValue]
            ).map { row in
                let stored = StoredRow(row: row, table: "mergedRun")
                return MergedSource(
                    store: try stored.string("sourceStore"), run: try stored.runID("sourceRunId"),
                    path: try stored.string("sourcePath"), shardIndex: row["shardIndex"], shardCount: row["shardCount"],
                    status: try stored.value(RunStatus.self, "status"),
                    exitStatus: (row["exitStatus"] as Int64?).map { Int32(truncatingIfNeeded: $0) })
            }
        }
    }
}

/// A run of another store that a merge brought into a run of this one.
public struct MergedSource: Sendable, Hashable {
    /// The other store's `storeInfo.id`.
    public var store: String
    /// The run's ID there.
    public var run: RunID
    /// The other store's database path, as the merge was given it.
    public var path: String
    /// The shard it covered.
    public var shardIndex: Int?
    /// Of how many.
    public var shardCount: Int?
    /// How it ended there.
    public var status: RunStatus
    /// Its exit status there.
    public var exitStatus: Int32?
}
