import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Named moments where a test can make the process die as a crash would, to prove what a crash there leaves.
///
/// Three switches, all read once from the environment; without them (always, outside tests) ``hit(_:)`` is one
/// comparison against nil:
/// * `FERRY_FAILPOINT=NAME` sends SIGKILL to the process itself when the point `NAME` is reached;
/// * `FERRY_CRASH_AFTER=N` sends SIGKILL at the N-th point reached, whichever it is: with a seeded N this is a
///   reproducible kill at "a random moment" among every durable step of a run (`scripts/crash-test.sh`);
/// * `FERRY_FAILPOINT_TRACE=FILE` appends the name of every point reached to FILE, so a test can count them.
public enum FailPoint {
    /// After a batch of records was committed to the reference store, before `index.json` was written.
    public static let afterRecordCommit = "after-record-commit"
    /// After an import's record was committed, before its names were written to `index.json`.
    public static let afterImportRecord = "after-import-record"
    /// A file about to be renamed into place (a blob, a manifest, `index.json`, a report, a bundle part).
    public static let beforeRename = "before-rename"
    /// A file renamed into place, its directory not yet flushed.
    public static let afterRename = "after-rename"
    /// A reference-store transaction committed.
    public static let afterTransaction = "after-transaction"

    private struct Settings: Sendable {
        var named: String?
        var crashAfter: Int?
        var trace: String?

        var isArmed: Bool { named != nil || crashAfter != nil || trace != nil }
    }

    private static let settings: Settings = {
        let environment = ProcessInfo.processInfo.environment
        func value(_ name: String) -> String? { environment[name].flatMap { $0.isEmpty ? nil : $0 } }
        return Settings(
            named: value("FERRY_FAILPOINT"), crashAfter: value("FERRY_CRASH_AFTER").flatMap { Int($0) },
            trace: value("FERRY_FAILPOINT_TRACE"))
    }()

    private static let reached = Atomic<Int>(0)

    /// Dies here, uncleanly, when the environment says so.
    public static func hit(_ name: String) {
        let settings = Self.settings
        guard settings.isArmed else { return }
        let count = reached.add(1, ordering: .relaxed).newValue
        if let trace = settings.trace { append(name, to: trace) }
        if settings.named == name || settings.crashAfter == count { kill(getpid(), SIGKILL) }
    }

    private static func append(_ name: String, to path: String) {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { return }
        defer { close(descriptor) }
        let line = Array((name + "\n").utf8)
        _ = line.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
    }
}
