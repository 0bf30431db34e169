import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Named moments where a test can make the process die as a crash would, to prove what a crash there leaves.
///
/// `FERRY_FAILPOINT=NAME` in the environment sends SIGKILL to the process itself when `NAME` is reached; without it
/// (always, outside tests) ``hit(_:)`` is a comparison against nil. Random kill points cover the rest
/// (`scripts/crash-test.sh`); these name the windows a random kill rarely lands in.
public enum FailPoint {
    /// After a batch of records was committed to the reference store, before `index.json` was written.
    public static let afterRecordCommit = "after-record-commit"
    /// After an import's record was committed, before its names were written to `index.json`.
    public static let afterImportRecord = "after-import-record"

    private static let armed = ProcessInfo.processInfo.environment["FERRY_FAILPOINT"].flatMap { $0.isEmpty ? nil : $0 }

    /// Dies here, uncleanly, when the environment names `name`.
    public static func hit(_ name: String) {
        guard let armed, armed == name else { return }
        kill(getpid(), SIGKILL)
    }
}
