internal import GRDB

/// How one table's rows come from another store into this one in `ferry merge`: table-driven, so that a table a
/// later migration adds is merged by adding one entry to ``all`` (and a column a migration adds to a listed table
/// is carried without any change here: the columns copied are those both files have).
///
/// The merge runs in SQL over the attached source file (`merging`), never row by row in Swift: memory does not
/// follow the size of either history.
struct MergeTable: Sendable {
    /// A map from the source store's IDs to this store's, kept in a temporary table while a merge runs.
    enum IDMap: String, Sendable, CaseIterable {
        /// `run.id` (text): kept, renamed on a collision, or the run of the shard group.
        case run
        /// `repository.id`.
        case repository
        /// `tag.id`.
        case tag
        /// `observation.id`.
        case observation

        /// The temporary table holding the map.
        var table: String { "temp.mergeMap_\(rawValue)" }
    }

    /// What happens when a row with the same key is already here.
    enum OnConflict: Sendable {
        /// This store's row stays (append-only and write-once tables).
        case keep
        /// The source's row replaces this store's when its `column` is greater (seen later).
        case newer(String)
        /// The source's row replaces this store's when its `column` is smaller (seen first).
        case older(String)
    }

    /// The table.
    var name: String
    /// The `INTEGER PRIMARY KEY` column that gets a new value here; nil when the key is the natural one.
    var renumbered: String? = nil
    /// The map that records this table's old → new `renumbered` values, for the tables that refer to it.
    var identity: IDMap? = nil
    /// The columns (after mapping) that say two rows are the same row.
    var key: [String]
    /// Columns that hold another table's ID, and the map they go through.
    var mapped: [String: IDMap] = [:]
    /// What a row already here makes of the source's.
    var onConflict: OnConflict = .keep
    /// Columns that must be equal when the key is: a difference is kept as it is here and reported.
    var mustAgree: [String] = []
    /// How a contradicting row is named in the report, an SQL expression over the row here (`d`).
    var describe: String? = nil

    /// Every merged table, parents before the tables that refer to them (foreign keys are on).
    ///
    /// Add a table from a later migration here: its key, its ID columns and what a conflict means. `run` is not
    /// listed: runs are mapped first, by ``MergeWriter``, because of shard groups.
    static let all: [MergeTable] = [
        MergeTable(
            name: "repository", renumbered: "id", identity: .repository, key: ["name"], mapped: ["firstRunId": .run],
            onConflict: .older("firstSeen")),
        MergeTable(
            name: "tag", renumbered: "id", identity: .tag, key: ["repositoryId", "name"],
            mapped: ["repositoryId": .repository, "lastRunId": .run], onConflict: .newer("lastChecked")),
        MergeTable(
            name: "tagHistory", renumbered: "id", key: ["tagId", "manifestDigest", "firstRunId"],
            mapped: ["tagId": .tag, "firstRunId": .run, "lastRunId": .run], onConflict: .newer("lastSeen")),
        MergeTable(
            name: "digestMapping", renumbered: "id", key: ["repositoryId", "manifestDigest", "platform"],
            mapped: ["repositoryId": .repository, "firstRunId": .run], mustAgree: ["imageId"],
            describe: """
                (SELECT name FROM main.repository WHERE id = d.repositoryId) || '@' || d.manifestDigest
                    || CASE WHEN d.platform = '' THEN '' ELSE ' (' || d.platform || ')' END
                """),
        MergeTable(
            name: "observation", renumbered: "id", identity: .observation, key: ["runId", "reference"],
            mapped: ["runId": .run]),
        MergeTable(
            name: "observationAttempt", key: ["observationId", "position"], mapped: ["observationId": .observation]),
        MergeTable(
            name: "observationPlatform", key: ["observationId", "position"], mapped: ["observationId": .observation]),
        MergeTable(
            name: "driftEvent", renumbered: "id",
            key: ["runId", "kind", "reference", "digest", "platform", "oldValue", "newValue"],
            mapped: ["runId": .run, "observationId": .observation]),
        MergeTable(
            name: "push", renumbered: "id", key: ["runId", "reference", "target", "destination"],
            mapped: ["runId": .run]),
        MergeTable(name: "pushedBlob", key: ["registry", "repository", "digest"], onConflict: .older("firstPushedAt")),
        // Request economy (v5): each shard's requests stay with its run; the latest word of a host on its quota and
        // the latest tag list of a repository win.
        MergeTable(name: "runHost", key: ["runId", "host"], mapped: ["runId": .run]),
        MergeTable(name: "runRequest", key: ["runId", "host", "kind"], mapped: ["runId": .run]),
        MergeTable(name: "rateLimit", key: ["host"], onConflict: .newer("observedAt")),
        MergeTable(name: "tagListing", key: ["repository"], onConflict: .newer("fetchedAt")),
        // Referrers (v6): the current set by (repository, subject, referrer), the later sighting winning (it carries
        // a removal), and what each observation found.
        MergeTable(
            name: "referrer", renumbered: "id", key: ["repository", "subjectDigest", "referrerDigest"],
            mapped: ["firstRunId": .run, "lastRunId": .run, "removedRunId": .run], onConflict: .newer("lastSeen")),
        MergeTable(
            name: "observationReferrer", key: ["observationId", "position"], mapped: ["observationId": .observation]),
    ]

    /// Tables deliberately not merged, and why; a test checks that every table of the schema is in one list.
    static let notMerged: [String: String] = [
        "run": "mapped first by MergeWriter (shard groups, renamed IDs)",
        "mergedRun": "written by the merge itself: what this store brought in",
        "storeInfo": "this store's own identity and index.json stamp",
        "bundleExport": "a store's own exports: --since chains are per store",
        "bundleExportReference": "part of bundleExport",
        "bundleExportBlob": "part of bundleExport",
        "bundleExportPart": "part of bundleExport",
        "bundleImport": "a store's own imports; the history they brought is merged with the other tables",
        "grdb_migrations": "the schema's own record",
    ]

    /// A contradiction found while merging: the same key, another value in a column that must agree.
    struct Contradiction: Sendable, Hashable {
        var table: String
        var column: String
        var row: String
        var kept: String
        var offered: String
    }

    /// Copies the source's rows this store lacks, replaces those the conflict rule prefers, fills the table's ID
    /// map, and returns how many rows were added and what contradicted.
    func merge(_ db: Database) throws -> (added: Int, contradictions: [Contradiction]) {
        let columns = try Self.sharedColumns(db, name).filter { $0 != renumbered }
        guard !columns.isEmpty else { return (0, []) }
        let values = columns.map(expression).joined(separator: ", ")
        let list = columns.joined(separator: ", ")
        let same = key.map { "d.\($0) IS \(expression($0))" }.joined(separator: " AND ")

        var contradictions: [Contradiction] = []
        for column in mustAgree where columns.contains(column) {
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT \(describe ?? "'row'") AS row, d.\(column) AS kept, s.\(column) AS offered
                    FROM merging.\(name) AS s JOIN main.\(name) AS d ON \(same)
                    WHERE d.\(column) IS NOT s.\(column)
                    """)
            for row in rows {
                contradictions.append(
                    Contradiction(
                        table: name, column: column, row: Self.text(row["row"]),
                        kept: Self.text(row["kept"]), offered: Self.text(row["offered"])))
            }
        }

        let order = renumbered.map { " ORDER BY s.\($0)" } ?? ""
        try db.execute(
            sql: """
                INSERT INTO main.\(name) (\(list))
                SELECT \(values) FROM merging.\(name) AS s
                WHERE NOT EXISTS (SELECT 1 FROM main.\(name) AS d WHERE \(same))\(order)
                """)
        let added = db.changesCount

        switch onConflict {
        case .keep:
            break
        case .newer(let column), .older(let column):
            let comparison = if case .newer = onConflict { ">" } else { "<" }
            try db.execute(
                sql: """
                    UPDATE main.\(name) AS d SET (\(list)) = (SELECT \(values) FROM merging.\(name) AS s WHERE \(same))
                    WHERE EXISTS (
                        SELECT 1 FROM merging.\(name) AS s WHERE \(same) AND s.\(column) \(comparison) d.\(column))
                    """)
        }

        if let identity, let renumbered {
            try db.execute(
                sql: """
                    INSERT OR REPLACE INTO \(identity.table) (source, target)
                    SELECT s.\(renumbered), (SELECT d.\(renumbered) FROM main.\(name) AS d WHERE \(same) LIMIT 1)
                    FROM merging.\(name) AS s
                    """)
        }
        return (added, contradictions)
    }

    /// The source row's value of `column` as this store must hold it: through its ID map when it has one.
    private func expression(_ column: String) -> String {
        guard let map = mapped[column] else { return "s.\(column)" }
        return "(SELECT target FROM \(map.table) WHERE source = s.\(column))"
    }

    /// The columns of `table` that both this store and the source have, in this store's order.
    static func sharedColumns(_ db: Database, _ table: String) throws -> [String] {
        let here = try Row.fetchAll(db, sql: "PRAGMA main.table_info(\(table))").map { $0["name"] as String }
        let there = Set(try Row.fetchAll(db, sql: "PRAGMA merging.table_info(\(table))").map { $0["name"] as String })
        return here.filter(there.contains)
    }

    private static func text(_ value: DatabaseValue) -> String {
        switch value.storage {
        case .null: "(none)"
        case .string(let text): text
        default: value.description
        }
    }

    /// Creates (or empties) the ID maps of a merge.
    static func prepareMaps(_ db: Database) throws {
        for map in IDMap.allCases {
            let type = map == .run ? "TEXT" : "INTEGER"
            try db.execute(
                sql: "CREATE TEMP TABLE IF NOT EXISTS mergeMap_\(map.rawValue) "
                    + "(source \(type) PRIMARY KEY, target \(type) NOT NULL)")
            try db.execute(sql: "DELETE FROM \(map.table)")
        }
    }

    /// Drops the ID maps.
    static func dropMaps(_ db: Database) throws {
        for map in IDMap.allCases { try db.execute(sql: "DROP TABLE IF EXISTS \(map.table)") }
    }
}
