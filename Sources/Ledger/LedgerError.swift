import FerrySystem
import OCIModel

/// Why the reference store refused or failed an operation; every case names the database file.
public enum LedgerError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file could not be opened as a ferry reference store.
    case cannotOpen(path: String, reason: String)
    /// The file was written by a newer ferry whose schema this binary does not know.
    case schemaTooNew(path: String, found: Int, supported: Int)
    /// Bringing the schema up to date failed; the file is left at its previous version.
    case migrationFailed(path: String, reason: String)
    /// Another connection held the write lock for longer than the busy timeout.
    case busy(path: String, operation: String)
    /// SQLite reported an error (I/O, constraint) during `operation`.
    case database(path: String, operation: String, reason: String)
    /// The disk (or quota) was full during `operation`; the transaction was rolled back.
    case diskFull(path: String, operation: String)
    /// No run has this ID.
    case unknownRun(path: String, run: RunID)
    /// The run was already finished, so it takes no more observations and no second finish.
    case runFinished(path: String, run: RunID)
    /// The caller handed over an observation that contradicts itself.
    case invalidObservation(path: String, reference: String, reason: String)
    /// A stored value could not be read back (edited by hand, or written by a buggy build).
    case corruptRow(path: String, table: String, reason: String)
    /// The bundle was imported before; importing it again would change nothing.
    case bundleAlreadyImported(path: String, bundle: Digest)
    /// A bundle's history contradicts itself or the bundle (a run it names is missing, a bad repository name).
    case invalidBundleHistory(path: String, bundle: Digest, reason: String)
    /// `ferry merge` was given a store with this store's own ID (the store itself, or a copy of it).
    case mergeOfItself(path: String, source: String)

    /// One line, starting with the database path, as the CLI prints it.
    public var description: String {
        switch self {
        case .cannotOpen(let path, let reason):
            "\(path): cannot open: \(reason)"
        case .schemaTooNew(let path, let found, let supported):
            "\(path): schema version \(found) was written by a newer ferry (this one knows up to \(supported)); "
                + "upgrade ferry or use another store"
        case .migrationFailed(let path, let reason):
            "\(path): cannot upgrade the schema: \(reason)"
        case .busy(let path, let operation):
            "\(path): \(operation): database is locked by another process "
                + "(waited \(ReferenceStore.busyTimeoutSeconds) s)"
        case .database(let path, let operation, let reason):
            "\(path): \(operation): \(reason)"
        case .diskFull(let path, let operation):
            "\(path): \(operation): no space left on device"
        case .unknownRun(let path, let run):
            "\(path): no run \(run)"
        case .runFinished(let path, let run):
            "\(path): run \(run) is already finished"
        case .invalidObservation(let path, let reference, let reason):
            "\(path): refusing to record \(reference): \(reason)"
        case .corruptRow(let path, let table, let reason):
            "\(path): unreadable \(table) row: \(reason)"
        case .bundleAlreadyImported(let path, let bundle):
            "\(path): bundle \(bundle) was already imported"
        case .invalidBundleHistory(let path, let bundle, let reason):
            "\(path): refusing the history of bundle \(bundle): \(reason)"
        case .mergeOfItself(let path, let source):
            "\(path): \(source) is this store, or a copy of it (same store ID)"
        }
    }
}

extension LedgerError: DiskFullReporting {
    /// The database file, when a full disk stopped the operation.
    public var diskFullPath: String? {
        if case .diskFull(let path, _) = self { return path }
        return nil
    }
}
