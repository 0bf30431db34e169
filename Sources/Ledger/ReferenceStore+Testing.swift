internal import GRDB

// Raw SQL access for LedgerTests (`@testable import`), which must inspect and tamper with the file the way an
// auditor or a newer ferry would, without the test target importing GRDB itself.
extension ReferenceStore {
    /// Runs statements outside the public API.
    func rawExecute(_ sql: String) async throws {
        try await write("raw execute") { db in try db.execute(sql: sql) }
    }

    /// Every value of every column of every row the query returns, as text (NULL as nil).
    func rawStrings(_ sql: String) async throws -> [[String?]] {
        try await read("raw query") { db in
            try Row.fetchAll(db, sql: sql).map { row in
                row.databaseValues.map { value in
                    value.isNull ? nil : String.fromDatabaseValue(value) ?? value.description
                }
            }
        }
    }
}

extension ReferenceStore {
    /// Creates `path` with the migrations up to and including `lastMigration` only and runs `sql` on it, the way an
    /// older ferry left it; LedgerTests uses it to check that a newer open upgrades such a file.
    static func openAsOlderVersion(at path: String, through lastMigration: String, then sql: String = "") throws {
        var configuration = Configuration()
        configuration.foreignKeysEnabled = true
        let pool = try DatabasePool(path: path, configuration: configuration)
        try Schema.migrator.migrate(pool, upTo: lastMigration)
        if !sql.isEmpty { try pool.write { db in try db.execute(sql: sql) } }
        _ = try? pool.writeWithoutTransaction { db in try db.checkpoint(.truncate) }
        try pool.close()
    }
}
