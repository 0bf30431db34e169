import ArgumentParser
import FerrySystem

/// ferry's exit statuses (sysexits where one fits).
public enum ExitStatus: Int32, Sendable, CaseIterable {
    /// Everything is in the store (and targets) and nothing drifted.
    case ok = 0
    /// Some references failed; the others were synced and the report was written.
    case someFailed = 1
    /// Drift was flagged and nothing failed.
    case drift = 2
    /// Both failures and drift.
    case failedAndDrift = 3
    /// Bad command line (EX_USAGE).
    case usage = 64
    /// Invalid mirror list or reference (EX_DATAERR).
    case invalidInput = 65
    /// Store, report or I/O error (EX_IOERR).
    case ioError = 74
    /// Another run holds the store's lock (EX_TEMPFAIL).
    case locked = 75
    /// Interrupted by SIGINT after a clean stop.
    case interrupted = 130
    /// Interrupted by SIGTERM after a clean stop.
    case terminated = 143

    /// The status for a batch that had `failures` failed references and `drifts` drift events.
    public static func batch(failures: Int, drifts: Int) -> ExitStatus {
        switch (failures > 0, drifts > 0) {
        case (false, false): .ok
        case (true, false): .someFailed
        case (false, true): .drift
        case (true, true): .failedAndDrift
        }
    }

    /// ArgumentParser's exit code for this status; `ExitCode(0)` exits silently.
    public var exitCode: ExitCode { ExitCode(rawValue) }
}

/// An error a command reports on stderr before exiting with a specific status.
public struct CommandFailure: Error, Sendable, CustomStringConvertible {
    /// The message, already naming the object at fault.
    public var message: String
    /// The exit status.
    public var status: ExitStatus

    /// Creates a failure.
    public init(_ message: String, status: ExitStatus) {
        self.message = message
        self.status = status
    }

    /// The message.
    public var description: String { message }
}

extension CommandFailure {
    /// A store, report or I/O failure (exit 74). A full disk, whichever layer hit it, is said plainly in one line
    /// naming the path; anything else keeps `message` (default: the error's own text).
    init(ioError error: any Error, _ message: String? = nil) {
        if let path = (error as? any DiskFullReporting)?.diskFullPath {
            self.init(
                "\(path): no space left on device; nothing partial is left in the store: free some space and run "
                    + "ferry again (it resumes where it stopped)", status: .ioError)
        } else {
            self.init(message ?? "\(error)", status: .ioError)
        }
    }
}
