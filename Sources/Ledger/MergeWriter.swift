import Foundation
internal import GRDB

/// One ``ReferenceStore/merge(from:mergedAt:)`` call's work, inside its transaction, with the source attached as
/// `merging`.
///
/// Runs first: a run merged before maps to the run it became; a shard run with a group maps to the group's run
/// here (made from the first of its shards to arrive, under that shard's ID when it is free); any other run keeps
/// its ID unless this store has a run by that ID already (two stores can draw the same ID: the start second and
/// four random hex digits), which gets it a new one. Then the tables of ``MergeTable/all``, then the group runs'
/// start, end, status, exit status and counts are derived again from everything merged into them.
struct MergeWriter {
    let db: Database
    let path: String
    let sourcePath: String
    let mergedAt: Date

    private struct SourceRun {
        var id: RunID
        var shard: RunShard?
    }

    func write() throws -> LedgerMergeResult {
        let here = try String.fetchOne(db, sql: "SELECT value FROM main.storeInfo WHERE key = 'id'")
        guard let source = try String.fetchOne(db, sql: "SELECT value FROM merging.storeInfo WHERE key = 'id'") else {
            throw LedgerError.cannotOpen(path: sourcePath, reason: "not a ferry reference store (no store ID)")
        }
        guard source != here else { throw LedgerError.mergeOfItself(path: path, source: sourcePath) }
        try MergeTable.prepareMaps(db)

        var runs: [LedgerMergeResult.MergedRun] = []
        var groupRuns = Set<RunID>()
        for run in try sourceRuns() {
            let (target, isNew) = try mapRun(run, sourceStore: source)
            try db.execute(
                sql: "INSERT INTO \(MergeTable.IDMap.run.table) (source, target) VALUES (?, ?)",
                arguments: [run.id.rawValue, target.rawValue])
            try recordMergedRun(run, into: target, sourceStore: source)
            if run.shard?.group != nil { groupRuns.insert(target) }
            runs.append(.init(sourceRun: run.id, run: target, shard: run.shard, isNew: isNew))
        }

        var added: [String: Int] = [:]
        var contradictions: [LedgerMergeResult.Contradiction] = []
        for table in MergeTable.all {
            let (count, found) = try table.merge(db)
            added[table.name] = count
            contradictions += found.map {
                .init(table: $0.table, column: $0.column, row: $0.row, kept: $0.kept, offered: $0.offered)
            }
        }
        for run in groupRuns.sorted() { try summarize(run) }
        return LedgerMergeResult(sourceStore: source, runs: runs, rowsAdded: added, contradictions: contradictions)
    }

    private func sourceRuns() throws -> [SourceRun] {
        try Row.fetchAll(
            db, sql: "SELECT id, shardIndex, shardCount, shardGroup FROM merging.run ORDER BY startedAt, seq"
        ).map { row in
            let stored = StoredRow(row: row, table: "run")
            var shard: RunShard?
            if let index = row["shardIndex"] as Int?, let count = row["shardCount"] as Int? {
                shard = RunShard(index: index, count: count, group: row["shardGroup"])
            }
            return SourceRun(id: try stored.runID("id"), shard: shard)
        }
    }

    /// The run here that `run` becomes, inserting it when it is new here.
    private func mapRun(_ run: SourceRun, sourceStore: String) throws -> (RunID, isNew: Bool) {
        if let known = try String.fetchOne(
            db, sql: "SELECT runId FROM main.mergedRun WHERE sourceStore = ? AND sourceRunId = ?",
            arguments: [sourceStore, run.id.rawValue]), let id = RunID(rawValue: known)
        {
            return (id, false)
        }
        if let group = run.shard?.group,
            let existing = try String.fetchOne(
                db, sql: "SELECT id FROM main.run WHERE shardGroup = ? AND shardIndex IS NULL ORDER BY seq LIMIT 1",
                arguments: [group]), let id = RunID(rawValue: existing)
        {
            return (id, true)
        }
        let target = try freeID(for: run.id)
        // The run row as the source has it, every column both files know; a group's run covers every shard, so it
        // names none.
        let columns = try MergeTable.sharedColumns(db, "run").filter { $0 != "seq" }
        let values = columns.map { column -> String in
            switch column {
            case "id": "?"
            case "shardIndex" where run.shard?.group != nil: "NULL"
            default: "s.\(column)"
            }
        }
        try db.execute(
            sql: """
                INSERT INTO main.run (\(columns.joined(separator: ", ")))
                SELECT \(values.joined(separator: ", ")) FROM merging.run AS s WHERE s.id = ?
                """, arguments: [target.rawValue, run.id.rawValue])
        return (target, true)
    }

    /// `id` when no run here has it, else a new ID from the same start second.
    private func freeID(for id: RunID) throws -> RunID {
        func taken(_ candidate: RunID) throws -> Bool {
            try Int.fetchOne(db, sql: "SELECT 1 FROM main.run WHERE id = ?", arguments: [candidate.rawValue]) != nil
        }
        if try !taken(id) { return id }
        let startedAt =
            try Date.fetchOne(db, sql: "SELECT startedAt FROM merging.run WHERE id = ?", arguments: [id.rawValue])
            ?? mergedAt
        for _ in 0..<64 {
            let candidate = RunID.make(startingAt: startedAt)
            if try !taken(candidate) { return candidate }
        }
        throw LedgerError.database(
            path: path, operation: "merge \(sourcePath)", reason: "no free run ID for \(RunID.stamp(startedAt))")
    }

    private func recordMergedRun(_ run: SourceRun, into target: RunID, sourceStore: String) throws {
        try db.execute(
            sql: """
                INSERT OR REPLACE INTO main.mergedRun
                    (sourceStore, sourceRunId, runId, sourcePath, shardIndex, shardCount, startedAt, finishedAt,
                     status, exitStatus, dryRun, mergedAt)
                SELECT ?, s.id, ?, ?, s.shardIndex, s.shardCount, s.startedAt, s.finishedAt, s.status, s.exitStatus,
                    s.dryRun, ?
                FROM merging.run AS s WHERE s.id = ?
                """,
            arguments: [
                sourceStore, target.rawValue, sourcePath, StoredDate.text(mergedAt), run.id.rawValue,
            ])
    }

    /// Derives a group run from its shards' runs: first start, last end (none while a shard has none), the
    /// status that matters most, the combined exit status, and counts over every observation merged into it.
    private func summarize(_ run: RunID) throws {
        let shards = try Row.fetchAll(
            db, sql: "SELECT status, exitStatus, dryRun FROM main.mergedRun WHERE runId = ?", arguments: [run.rawValue])
        let statuses = try shards.map { try StoredRow(row: $0, table: "mergedRun").value(RunStatus.self, "status") }
        let exits = shards.map { ($0["exitStatus"] as Int64?).map { Int32(truncatingIfNeeded: $0) } }
        let status = Self.combined(statuses)
        let exitStatus = Self.combined(exits)
        let counts = try ReferenceStore.liveCounts(db, run)
        try db.execute(
            sql: """
                UPDATE main.run SET
                    startedAt = (SELECT min(startedAt) FROM main.mergedRun WHERE runId = ?1),
                    finishedAt = CASE WHEN EXISTS (
                            SELECT 1 FROM main.mergedRun WHERE runId = ?1 AND finishedAt IS NULL) THEN NULL
                        ELSE (SELECT max(finishedAt) FROM main.mergedRun WHERE runId = ?1) END,
                    dryRun = (SELECT min(dryRun) FROM main.mergedRun WHERE runId = ?1),
                    status = ?2, exitStatus = ?3, referenceCount = ?4, pulledCount = ?5, upToDateCount = ?6,
                    updatedCount = ?7, failedCount = ?8, driftCount = ?9, driftEventCount = ?10, bytesTransferred = ?11
                WHERE id = ?1
                """,
            arguments: [
                run.rawValue, status.rawValue, exitStatus, counts.references, counts.pulled, counts.upToDate,
                counts.updated, counts.failed, counts.drift, counts.driftEvents, counts.bytesTransferred,
            ])
    }

    /// The status of a run made of runs that ended so: a failure of one is a failure of all, then a stop, then a
    /// shard still running (or killed); completed when any shard completed, else a dry run.
    static func combined(_ statuses: [RunStatus]) -> RunStatus {
        for status in [RunStatus.failed, .interrupted, .running, .completed] where statuses.contains(status) {
            return status
        }
        return statuses.isEmpty ? .running : .dryRun
    }

    /// The exit status of a run made of runs that exited so: failures and drift add up (1 | 2 = 3, as one run of
    /// the whole list would have exited); any other status (74, 130, 143) wins, the highest first; none while a
    /// shard has none.
    static func combined(_ exits: [Int32?]) -> Int32? {
        var batch: Int32 = 0
        var other: Int32?
        for exit in exits {
            guard let exit else { return nil }
            if (0...3).contains(exit) { batch |= exit } else { other = max(other ?? exit, exit) }
        }
        return other ?? batch
    }
}
