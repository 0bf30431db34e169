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
