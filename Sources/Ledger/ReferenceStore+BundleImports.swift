import Foundation
internal import GRDB
import OCIModel

// `ferry import` as the reference store sees it: what was imported, the read-only look for an earlier import,
// and the one transaction that records a bundle (BundleImportWriter).

extension ReferenceStore {
    /// The import record of bundle `id`, or nil when it was never imported here.
    public func bundleImport(_ id: Digest) async throws -> BundleImportRecord? {
        try await read("read import of \(id)") { db in
            try BundleQueries.imports(db, where: "WHERE id = ?", [id.description]).first
        }
    }

    /// Every bundle imported here, oldest first.
    public func bundleImports() async throws -> [BundleImportRecord] {
        try await read("list imports") { db in try BundleQueries.imports(db, where: "ORDER BY seq", []) }
    }

    /// Records an imported bundle in one transaction: an `import` run with one observation per reference, the
    /// exporting store's runs, observations, drift events, tag history and digest mappings (original times,
    /// servedBy and run IDs, marked with the bundle ID), the tags moved to the bundle's digests, and the import
    /// itself, which makes a second import of the bundle fail with ``LedgerError/bundleAlreadyImported(path:bundle:)``.
    ///
    /// The rules of ``record(_:)`` hold: digest mappings are written once, and a bundle that maps a known digest to
    /// another image ID raises an `image-id-drift` event instead of overwriting. A tag this store observed after
    /// the bundle did (``ImportedReference/keepsLocalTag``) is left as it is.
    ///
    /// The history is read in three passes over ``BundleImportRequest/history`` and never held whole; errors of
    /// the history source pass through.
    public func recordImport(_ request: BundleImportRequest) async throws -> BundleImportResult {
        let path = path
        return try await write("record import of \(request.bundleID)") { db in
            try ImportWriter(db: db, path: path, request: request).write()
        }
    }
}

// MARK: Read-only peek

extension ReferenceStore {
    /// The import record of bundle `id` in the file at `path`, read through a read-only connection: nothing is
    /// created, migrated or written (a writable open of a WAL database always writes to it). Nil when the file
    /// does not exist, predates bundles, or never imported the bundle.
    public static func peekImport(of id: Digest, at path: String) throws -> BundleImportRecord? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        var configuration = Configuration()
        configuration.readonly = true
        configuration.busyMode = .timeout(TimeInterval(busyTimeoutSeconds))
        configuration.label = "ferry.db (read-only)"
        do {
            let queue = try DatabaseQueue(path: path, configuration: configuration)
            defer { try? queue.close() }
            return try queue.read { db in
                guard try db.tableExists("bundleImport") else { return nil }
                return try BundleQueries.imports(db, where: "WHERE id = ?", [id.description]).first
            }
        } catch let error as LedgerError {
            throw error
        } catch let error as StoredValueError {
            throw LedgerError.corruptRow(path: path, table: error.table, reason: error.reason)
        } catch {
            throw LedgerError.cannotOpen(path: path, reason: reason(error))
        }
    }
}

extension BundleQueries {
    static func imports(
        _ db: Database, where clause: String, _ arguments: StatementArguments
    ) throws
        -> [BundleImportRecord]
    {
        try Row.fetchAll(db, sql: "SELECT * FROM bundleImport \(clause)", arguments: arguments).stored("bundleImport")
            .map { row in
                let filesText = try row.string("files")
                let files = (try? JSONDecoder().decode([String].self, from: Data(filesText.utf8))) ?? [filesText]
                return BundleImportRecord(
                    id: try row.digest("id"), importedAt: try row.date("importedAt"), runID: try row.runID("runId"),
                    createdAt: try row.date("createdAt"), sourceStore: try row.string("sourceStore"),
                    sinceBundle: try row.optionalDigest("sinceBundleId"),
                    sinceRun: try row.optionalString("sinceRunId").flatMap(RunID.init(rawValue:)),
                    toolVersion: try row.string("toolVersion"), files: files,
                    referenceCount: try row.int("referenceCount"), blobCount: try row.int("blobCount"),
                    blobsAdded: try row.int("blobsAdded"), bytesAdded: try row.int64("bytesAdded"))
            }
    }
}
