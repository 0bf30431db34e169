import FerrySystem
import Foundation
internal import GRDB
import Synchronization

/// The SQLite reference store, `DIR/ferry.db`: tags, write-once digest mappings, runs, observations and drift.
///
/// Every method runs on GRDB's own queues through `async` `read`/`write`, so SQLite never blocks the cooperative
/// pool. Each write method is one IMMEDIATE transaction. Methods throw ``LedgerError``, or `CancellationError`
/// when the calling task is cancelled before the transaction starts.
public struct ReferenceStore: Sendable {
    /// How long a write waits for another connection (another ferry process) to release the lock.
    public static let busyTimeoutSeconds = 10

    /// The schema version this binary writes.
    public static let schemaVersion = Schema.version

    let writer: any DatabaseWriter
    /// The path shown in errors: the file path, or `:memory:`.
    public let path: String
    private let transactions = TransactionCounter()

    /// Write transactions committed through this value (diagnostics and tests: a run commits once per batch).
    public var writeTransactions: Int { transactions.value }

    /// Opens (creating if needed) the store at `path` in WAL mode, and brings its schema up to date.
    ///
    /// The parent directory must exist. A file written by a newer ferry is refused with
    /// ``LedgerError/schemaTooNew(path:found:supported:)`` and left untouched.
    public static func open(at path: String) throws -> ReferenceStore {
        var configuration = Configuration()
        configuration.busyMode = .timeout(TimeInterval(busyTimeoutSeconds))
        configuration.foreignKeysEnabled = true
        configuration.label = "ferry.db"
        return try ReferenceStore(writer: openPool(at: path, configuration), path: path)
    }

    /// Opens an existing store for reading only: nothing is migrated and nothing is written to the file (a
    /// writable open of a WAL database writes to it). Fails when there is no file at `path`.
    public static func openReadOnly(at path: String) throws -> ReferenceStore {
        guard FileManager.default.fileExists(atPath: path) else {
            throw LedgerError.cannotOpen(path: path, reason: "no such file")
        }
        var configuration = Configuration()
        configuration.readonly = true
        configuration.busyMode = .timeout(TimeInterval(busyTimeoutSeconds))
        configuration.foreignKeysEnabled = true
        configuration.label = "ferry.db (read-only)"
        let queue: DatabaseQueue
        do { queue = try DatabaseQueue(path: path, configuration: configuration) } catch {
            throw LedgerError.cannotOpen(path: path, reason: reason(error))
        }
        return try ReferenceStore(writer: queue, path: path, migrating: false)
    }

    /// A fresh store in memory, for tests and `--dry-run` without a store.
    public static func inMemory() throws -> ReferenceStore {
        var configuration = Configuration()
        configuration.foreignKeysEnabled = true
        do {
            return try ReferenceStore(writer: DatabaseQueue(configuration: configuration), path: ":memory:")
        } catch let error as LedgerError {
            throw error
        } catch {
            throw LedgerError.cannotOpen(path: ":memory:", reason: reason(error))
        }
    }

    init(writer: any DatabaseWriter, path: String, migrating: Bool = true) throws {
        self.writer = writer
        self.path = path
        try Self.checkCompatible(writer, path: path)
        if migrating { try Self.migrate(writer, path: path) }
    }

    /// Folds the WAL into `ferry.db` and closes the connections; later calls fail.
    public func close() throws {
        if writer.configuration.readonly {
            do { try writer.close() } catch {
                throw LedgerError.database(path: path, operation: "close", reason: Self.reason(error))
            }
            return
        }
        // GRDB closes its read-only readers last, and they cannot checkpoint, so without this the data would stay
        // in `ferry.db-wal` and a backup that copies `ferry.db` alone would be stale. Another process reading at
        // this moment makes the checkpoint partial (SQLITE_BUSY), which is harmless: it is skipped.
        _ = try? writer.writeWithoutTransaction { db in try db.checkpoint(.truncate) }
        do {
            try writer.close()
        } catch {
            throw LedgerError.database(path: path, operation: "close", reason: Self.reason(error))
        }
    }

    /// The file's schema version, migrations, journal mode and foreign-key setting.
    public func storageInfo() async throws -> StorageInfo {
        try await read("read storage info") { db in
            StorageInfo(
                schemaVersion: try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0,
                migrations: try Schema.migrator.appliedMigrations(db),
                journalMode: try String.fetchOne(db, sql: "PRAGMA journal_mode") ?? "",
                foreignKeys: try Bool.fetchOne(db, sql: "PRAGMA foreign_keys") ?? false)
        }
    }

    /// What SQLite's `PRAGMA integrity_check` finds wrong with the file; empty when it is sound.
    public func integrityProblems() async throws -> [String] {
        try await read("check integrity") { db in
            try String.fetchAll(db, sql: "PRAGMA integrity_check").filter { $0 != "ok" }
        }
    }

    // MARK: Opening

    /// Creates the pool, waiting out another process that is switching a brand-new file to WAL at the same moment.
    ///
    /// `PRAGMA journal_mode = WAL` needs an exclusive lock and SQLite answers SQLITE_BUSY at once instead of calling
    /// the busy handler, so the busy timeout does not cover it. Once the file is in WAL mode the pragma is a no-op.
    private static func openPool(at path: String, _ configuration: Configuration) throws -> DatabasePool {
        let deadline = ContinuousClock.now + .seconds(busyTimeoutSeconds)
        while true {
            do {
                return try DatabasePool(path: path, configuration: configuration)
            } catch let error as DatabaseError where error.resultCode == .SQLITE_BUSY && ContinuousClock.now < deadline
            {
                Thread.sleep(forTimeInterval: Double.random(in: 0.005...0.05))
            } catch let error as DatabaseError where error.resultCode == .SQLITE_FULL {
                throw LedgerError.diskFull(path: path, operation: "open")
            } catch {
                throw LedgerError.cannotOpen(path: path, reason: reason(error))
            }
        }
    }

    private static func checkCompatible(_ writer: any DatabaseWriter, path: String) throws {
        let state: (version: Int, superseded: Bool, foreign: Bool)
        do {
            state = try writer.read { db in
                let version = try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0
                let superseded = try Schema.migrator.hasBeenSuperseded(db)
                let hasMigrations = try db.tableExists("grdb_migrations")
                let tableCount = try Int.fetchOne(db, sql: "SELECT count(*) FROM sqlite_master") ?? 0
                return (version, superseded, !hasMigrations && tableCount > 0)
            }
        } catch let error as DatabaseError where error.resultCode == .SQLITE_FULL {
            throw LedgerError.diskFull(path: path, operation: "open")
        } catch {
            throw LedgerError.cannotOpen(path: path, reason: reason(error))
        }
        if state.version > Schema.version || state.superseded {
            throw LedgerError.schemaTooNew(path: path, found: state.version, supported: Schema.version)
        }
        if state.foreign {
            throw LedgerError.cannotOpen(
                path: path, reason: "not a ferry reference store (it has tables but no ferry schema)")
        }
    }

    /// Runs pending migrations, tolerating another process migrating the same file at the same moment.
    ///
    /// GRDB reads the applied list outside the migration's transaction, so a second process can try to apply a
    /// migration the first one just committed. That attempt fails; if the applied list grew meanwhile, the other
    /// process made progress and we simply look again.
    private static func migrate(_ writer: any DatabaseWriter, path: String) throws {
        let migrator = Schema.migrator
        var attempts = 0
        while true {
            let before = (try? writer.read { db in try migrator.appliedIdentifiers(db) }) ?? []
            do {
                try migrator.migrate(writer)
                return
            } catch {
                attempts += 1
                let after = (try? writer.read { db in try migrator.appliedIdentifiers(db) }) ?? []
                if after.count > before.count, attempts <= migrator.migrations.count {
                    continue
                }
                if let error = error as? DatabaseError, error.resultCode == .SQLITE_FULL {
                    throw LedgerError.diskFull(path: path, operation: "upgrade the schema")
                }
                throw LedgerError.migrationFailed(path: path, reason: reason(error))
            }
        }
    }

    // MARK: Transactions

    func write<T: Sendable>(_ operation: String, _ body: @Sendable (Database) throws -> T) async throws -> T {
        do {
            let result = try await writer.write(body)
            transactions.increment()
            FailPoint.hit(FailPoint.afterTransaction)
            return result
        } catch {
            throw mapped(error, operation)
        }
    }

    func read<T: Sendable>(_ operation: String, _ body: @Sendable (Database) throws -> T) async throws -> T {
        do {
            return try await writer.read(body)
        } catch {
            throw mapped(error, operation)
        }
    }

    /// A synchronous read for callers that stream rows into files: database failures are mapped like every other
    /// read's, while errors thrown by `body` itself (a report that cannot be written) pass through unchanged.
    func readNow<T>(_ operation: String, _ body: (Database) throws -> T) throws -> T {
        do {
            return try writer.read(body)
        } catch let error as DatabaseError {
            throw mapped(error, operation)
        } catch let error as StoredValueError {
            throw mapped(error, operation)
        }
    }

    private func mapped(_ error: any Error, _ operation: String) -> any Error {
        switch error {
        case let error as LedgerError: return error
        case let error as CancellationError: return error
        case let error as HistorySourceFailure: return error.underlying
        case let error as StoredValueError:
            return LedgerError.corruptRow(path: path, table: error.table, reason: error.reason)
        case let error as DatabaseError where error.resultCode == .SQLITE_BUSY:
            return LedgerError.busy(path: path, operation: operation)
        case let error as DatabaseError where error.resultCode == .SQLITE_FULL:
            return LedgerError.diskFull(path: path, operation: operation)
        default: return LedgerError.database(path: path, operation: operation, reason: Self.reason(error))
        }
    }

    /// SQLite's message without the SQL text, which GRDB appends and which adds nothing for a user.
    static func reason(_ error: any Error) -> String {
        if let error = error as? DatabaseError {
            return Redaction.freeText(error.message ?? "SQLite error \(error.extendedResultCode.rawValue)")
        }
        return Redaction.freeText(String(describing: error))
    }
}

/// Counts committed write transactions.
final class TransactionCounter: Sendable {
    private let count = Atomic<Int>(0)

    func increment() { count.add(1, ordering: .relaxed) }
    var value: Int { count.load(ordering: .relaxed) }
}
