import Foundation
internal import GRDB
import OCIModel

/// What a run report needs besides its rows, read in one go; small whatever the size of the run.
public struct RunReportBasis: Sendable, Hashable {
    /// The run.
    public var run: RunRecord
    /// Its drift events, in the order they were stored.
    public var driftEvents: [DriftEventRecord]
    /// Its pushes of references it did not observe (a `ferry push` run), in order.
    public var unobservedPushes: [PushRecord]
    /// Its pushes by outcome, all of them.
    public var pushCounts: [PushOutcome: Int]
    /// True when some push of the run belongs to a reference it observed (the rows carry targets).
    public var rowsHavePushes: Bool
    /// Its requests per host.
    public var hosts: [RunHostRecord] = []
}

extension ReferenceStore {
    /// The report basis of `run`, or nil when there is no such run.
    public func reportBasis(run id: RunID) async throws -> RunReportBasis? {
        let path = self.path
        return try await read("read report of run \(id)") { db in
            guard let run = try ReferenceStore.fetchRuns(db, where: "WHERE id = ?", [id.rawValue]).first else {
                return nil
            }
            let unobserved = try Row.fetchAll(
                db,
                sql: """
                    SELECT * FROM push p WHERE p.runId = ?1
                        AND NOT EXISTS (SELECT 1 FROM observation o WHERE o.runId = ?1 AND o.reference = p.reference)
                    ORDER BY p.id
                    """, arguments: [id.rawValue]
            ).map { try ReferenceStore.pushRecord($0, path: path) }
            var counts: [PushOutcome: Int] = [:]
            for row in try Row.fetchAll(
                db, sql: "SELECT outcome, count(*) AS n FROM push WHERE runId = ? GROUP BY outcome",
                arguments: [id.rawValue]
            ) {
                let stored = StoredRow(row: row, table: "push")
                counts[try stored.value(PushOutcome.self, "outcome"), default: 0] += try stored.int("n")
            }
            let observed = try Bool.fetchOne(
                db,
                sql: """
                    SELECT EXISTS (SELECT 1 FROM push p WHERE p.runId = ?1
                        AND EXISTS (SELECT 1 FROM observation o WHERE o.runId = ?1 AND o.reference = p.reference))
                    """, arguments: [id.rawValue]) ?? false
            return RunReportBasis(
                run: run,
                driftEvents: try Queries.driftEvents(db, where: "WHERE runId = ? ORDER BY id", [id.rawValue]),
                unobservedPushes: unobserved, pushCounts: counts, rowsHavePushes: observed,
                hosts: try ReferenceStore.runHosts(db, id))
        }
    }

    /// Calls `body` with every observation of `run` in report order — drift, failed, updated, pulled, up to date;
    /// then by reference and recording order — and the run's pushes of its reference when it is that reference's
    /// last observation in the run. One read transaction, one row in memory at a time; `body`'s errors pass
    /// through unchanged. Synchronous: it runs while the caller writes the report files.
    public func forEachReportRow(run id: RunID, _ body: (ObservationRecord, [PushRecord]) throws -> Void) throws {
        let path = self.path
        try readNow("read report of run \(id)") { db in
            let hasPushes =
                try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM push WHERE runId = ?)", arguments: [id.rawValue])
                ?? false
            let attempts = try db.cachedStatement(
                sql: "SELECT endpoint, error, fellBack FROM observationAttempt WHERE observationId = ? ORDER BY position")
            let platforms = try db.cachedStatement(
                sql: """
                    SELECT platform, manifestDigest, mediaType, imageId FROM observationPlatform
                    WHERE observationId = ? ORDER BY position
                    """)
            let last = try db.cachedStatement(
                sql: "SELECT max(id) FROM observation WHERE runId = ? AND reference = ?")
            let pushes = try db.cachedStatement(
                sql: "SELECT * FROM push WHERE runId = ? AND reference = ? ORDER BY id")
            let rows = try Row.fetchCursor(
                db,
                sql: """
                    SELECT * FROM observation WHERE runId = ?
                    ORDER BY CASE outcome WHEN 'drift' THEN 0 WHEN 'failed' THEN 1 WHEN 'updated' THEN 2
                        WHEN 'pulled' THEN 3 ELSE 4 END, reference, id
                    """, arguments: [id.rawValue])
            while let fetched = try rows.next() {
                let row = StoredRow(row: fetched, table: "observation")
                let observation = try row.int64("id")
                var tried: [EndpointAttempt] = []
                for attempt in try Row.fetchAll(attempts, arguments: [observation]).stored("observationAttempt") {
                    tried.append(
                        EndpointAttempt(
                            endpoint: try attempt.string("endpoint"), error: try attempt.string("error"),
                            fellBack: try attempt.bool("fellBack")))
                }
                var children: [PlatformManifest] = []
                for child in try Row.fetchAll(platforms, arguments: [observation]).stored("observationPlatform") {
                    guard let platform = try child.platform("platform") else {
                        throw StoredValueError(table: "observationPlatform", reason: "platform is empty")
                    }
                    children.append(
                        PlatformManifest(
                            platform: platform, digest: try child.digest("manifestDigest"),
                            mediaType: try child.mediaType("mediaType"), imageID: try child.digest("imageId")))
                }
                let record = try Queries.observationRecord(row, platforms: children, attempts: tried)
                var pushed: [PushRecord] = []
                if hasPushes,
                    try Int64.fetchOne(last, arguments: [id.rawValue, record.reference]) == observation
                {
                    pushed = try Row.fetchAll(pushes, arguments: [id.rawValue, record.reference]).map {
                        try ReferenceStore.pushRecord($0, path: path)
                    }
                }
                try body(record, pushed)
            }
        }
    }
}
