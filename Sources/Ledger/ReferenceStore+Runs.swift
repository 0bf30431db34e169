import Foundation
internal import GRDB

extension ReferenceStore {
    /// Stores a new `running` run and returns its ID.
    public func beginRun(_ start: RunStart) async throws -> RunID {
        let path = path
        return try await write("begin run") { db in
            // Four hex digits collide within one second rarely; retrying is cheaper than a longer ID.
            for _ in 0..<32 {
                let id = RunID.make(startingAt: start.startedAt)
                guard try Int.fetchOne(db, sql: "SELECT 1 FROM run WHERE id = ?", arguments: [id.rawValue]) == nil
                else { continue }
                try db.execute(
                    literal: """
                        INSERT INTO run
                            (id, command, configFingerprint, toolVersion, dryRun, startedAt, status, shardIndex,
                             shardCount, shardGroup)
                        VALUES (\(id.rawValue), \(start.command), \(start.configFingerprint), \(start.toolVersion),
                                \(start.dryRun), \(start.startedAt), \(RunStatus.running.rawValue),
                                \(start.shard?.index), \(start.shard?.count), \(start.shard?.group))
                        """)
                return id
            }
            throw LedgerError.database(
                path: path, operation: "begin run", reason: "no free run ID for \(RunID.stamp(start.startedAt))")
        }
    }

    /// Ends a running run: freezes its counts (computed from its observations), status and exit status.
    @discardableResult
    public func finishRun(_ id: RunID, _ finish: RunFinish) async throws -> RunRecord {
        let path = path
        let operation = "finish run \(id)"
        return try await write(operation) { db in
            guard finish.status != .running else {
                throw LedgerError.database(path: path, operation: operation, reason: "a run cannot finish as running")
            }
            guard
                let status = try String.fetchOne(
                    db, sql: "SELECT status FROM run WHERE id = ?", arguments: [id.rawValue])
            else { throw LedgerError.unknownRun(path: path, run: id) }
            guard status == RunStatus.running.rawValue else { throw LedgerError.runFinished(path: path, run: id) }
            let counts = try Self.liveCounts(db, id)
            try Self.insertRequests(db, run: id, hosts: finish.hosts, rateLimits: finish.rateLimits)
            try db.execute(
                literal: """
                    UPDATE run SET finishedAt = \(finish.finishedAt), status = \(finish.status.rawValue),
                        exitStatus = \(finish.exitStatus), referenceCount = \(counts.references),
                        pulledCount = \(counts.pulled), upToDateCount = \(counts.upToDate),
                        updatedCount = \(counts.updated), failedCount = \(counts.failed),
                        driftCount = \(counts.drift), driftEventCount = \(counts.driftEvents),
                        bytesTransferred = \(counts.bytesTransferred), deferredCount = \(counts.deferred),
                        notAskedCount = \(counts.notAsked)
                    WHERE id = \(id.rawValue)
                    """)
            guard let record = try Self.fetchRuns(db, where: "WHERE id = ?", [id.rawValue]).first else {
                throw LedgerError.unknownRun(path: path, run: id)
            }
            return record
        }
    }

    /// The run with this ID, or nil.
    public func run(_ id: RunID) async throws -> RunRecord? {
        try await read("read run \(id)") { db in try Self.fetchRuns(db, where: "WHERE id = ?", [id.rawValue]).first }
    }

    /// The most recent runs, newest first.
    public func runs(limit: Int = 50) async throws -> [RunRecord] {
        try await read("list runs") { db in
            try Self.fetchRuns(db, where: "ORDER BY startedAt DESC, seq DESC LIMIT ?", [max(0, limit)])
        }
    }

    /// What the metrics carry over from the runs before `current`, computed in SQL so that writing a run's metrics
    /// costs the same after a thousand runs as after one: the bytes all other runs transferred (a run that was
    /// killed counts what it recorded), and when the last successful run of `command` finished — completed, not a
    /// dry run, no failed reference, exit status 0 or 2 (drift alone is not a failure).
    public func runTotals(excluding current: RunID, successCommand command: String) async throws -> RunTotals {
        try await read("read run totals") { db in
            let sql = """
                SELECT
                    (SELECT coalesce(sum(coalesce(run.bytesTransferred,
                        (SELECT sum(o.bytesTransferred) FROM observation o WHERE o.runId = run.id), 0)), 0)
                     FROM run WHERE run.id != ?1) AS bytes,
                    (SELECT max(finishedAt) FROM run
                     WHERE id != ?1 AND command = ?2 AND status = 'completed' AND dryRun = 0 AND failedCount = 0
                         AND exitStatus IN (0, 2)) AS lastSuccess
                """
            guard let fetched = try Row.fetchOne(db, sql: sql, arguments: [current.rawValue, command]) else {
                return RunTotals()
            }
            let row = StoredRow(row: fetched, table: "run")
            return RunTotals(
                bytesTransferred: try row.optionalInt64("bytes") ?? 0, lastSuccess: try row.optionalDate("lastSuccess"))
        }
    }

    /// The newest run, or nil when there is none.
    public func latestRun() async throws -> RunRecord? {
        try await runs(limit: 1).first
    }

    // MARK: Helpers

    static func fetchRuns(_ db: Database, where clause: String, _ arguments: StatementArguments) throws -> [RunRecord] {
        let rows = try Row.fetchAll(db, sql: "SELECT * FROM run " + clause, arguments: arguments).stored("run")
        return try rows.map { row in
            let id = try row.runID("id")
            let counts: RunCounts
            if let references = try row.optionalInt64("referenceCount") {
                counts = RunCounts(
                    references: Int(references), pulled: try row.int("pulledCount"),
                    upToDate: try row.int("upToDateCount"), updated: try row.int("updatedCount"),
                    failed: try row.int("failedCount"), drift: try row.int("driftCount"),
                    driftEvents: try row.int("driftEventCount"), bytesTransferred: try row.int64("bytesTransferred"),
                    deferred: Int(try row.optionalInt64("deferredCount") ?? 0),
                    notAsked: Int(try row.optionalInt64("notAskedCount") ?? 0))
            } else {
                counts = try liveCounts(db, id)
            }
            return RunRecord(
                id: id, command: try row.string("command"), startedAt: try row.date("startedAt"),
                finishedAt: try row.optionalDate("finishedAt"), status: try row.value(RunStatus.self, "status"),
                exitStatus: try row.optionalInt64("exitStatus").map { Int32(truncatingIfNeeded: $0) },
                configFingerprint: try row.optionalString("configFingerprint"),
                toolVersion: try row.optionalString("toolVersion"), dryRun: try row.bool("dryRun"), counts: counts,
                bundleID: try row.optionalDigest("bundleId"))
        }
    }

    static func liveCounts(_ db: Database, _ id: RunID) throws -> RunCounts {
        let sql = """
            SELECT count(*) AS n,
                coalesce(sum(outcome = 'pulled'), 0) AS pulled,
                coalesce(sum(outcome = 'up-to-date'), 0) AS upToDate,
                coalesce(sum(outcome = 'updated'), 0) AS updated,
                coalesce(sum(outcome = 'failed'), 0) AS failed,
                coalesce(sum(outcome = 'drift'), 0) AS drift,
                coalesce(sum(outcome = 'deferred'), 0) AS deferred,
                coalesce(sum(checked = 0), 0) AS notAsked,
                coalesce(sum(bytesTransferred), 0) AS bytes,
                (SELECT count(*) FROM driftEvent WHERE runId = ?1) AS events
            FROM observation WHERE runId = ?1
            """
        guard let fetched = try Row.fetchOne(db, sql: sql, arguments: [id.rawValue]) else { return RunCounts() }
        let row = StoredRow(row: fetched, table: "observation")
        return RunCounts(
            references: try row.int("n"), pulled: try row.int("pulled"), upToDate: try row.int("upToDate"),
            updated: try row.int("updated"), failed: try row.int("failed"), drift: try row.int("drift"),
            driftEvents: try row.int("events"), bytesTransferred: try row.int64("bytes"),
            deferred: try row.int("deferred"), notAsked: try row.int("notAsked"))
    }
}
