import Foundation
import OCIModel

/// How a run ended.
public enum RunStatus: String, Sendable, Hashable, Codable, CaseIterable {
    /// Begun and not finished yet, or killed before it could finish.
    case running
    /// Every reference was attempted; individual failures are in the counts.
    case completed
    /// Stopped by SIGINT or SIGTERM after a clean stop.
    case interrupted
    /// Aborted by a store or I/O error.
    case failed
    /// A `--dry-run`: nothing in tags or digests was changed.
    case dryRun = "dry-run"
}

/// What the caller knows when a run begins.
public struct RunStart: Sendable, Hashable {
    /// Start time; also the timestamp part of the run ID.
    public var startedAt: Date
    /// The subcommand, e.g. `sync`, `pull`, `import`.
    public var command: String
    /// A digest of the merged mirror list, so reports can tell whether the configuration changed between runs.
    public var configFingerprint: String?
    /// The ferry version that ran.
    public var toolVersion: String?
    /// True for `--dry-run`.
    public var dryRun: Bool
    /// The shard this run is of a split mirror list (`ferry sync --shard K/N`); nil for a whole list.
    public var shard: RunShard?

    /// Creates a run start.
    public init(
        startedAt: Date = Date(), command: String, configFingerprint: String? = nil, toolVersion: String? = nil,
        dryRun: Bool = false, shard: RunShard? = nil
    ) {
        self.startedAt = startedAt
        self.command = command
        self.configFingerprint = configFingerprint
        self.toolVersion = toolVersion
        self.dryRun = dryRun
        self.shard = shard
    }
}

/// Which part of a split mirror list a run covered, and the group of runs it belongs with.
public struct RunShard: Sendable, Hashable {
    /// Zero-based shard index.
    public var index: Int
    /// How many shards the list was split into.
    public var count: Int
    /// The runs of one sharded sync share it (`--shard-group`, a Kubernetes Job's name); `ferry merge` makes them
    /// one run. Nil: the run stays a run of its own when merged.
    public var group: String?

    /// Creates a shard description.
    public init(index: Int, count: Int, group: String? = nil) {
        self.index = index
        self.count = count
        self.group = group
    }
}

/// What the caller knows when a run ends; the counts are computed by the store from the run's observations.
public struct RunFinish: Sendable, Hashable {
    /// End time.
    public var finishedAt: Date
    /// How the run ended; must not be `running`.
    public var status: RunStatus
    /// The process exit status the CLI is about to return.
    public var exitStatus: Int32
    /// The run's requests per host, stored with the finish.
    public var hosts: [RunHostRecord]
    /// What the hosts said about their quotas, kept for the next run.
    public var rateLimits: [RateLimitRecord]

    /// Creates a run finish.
    public init(
        finishedAt: Date = Date(), status: RunStatus, exitStatus: Int32, hosts: [RunHostRecord] = [],
        rateLimits: [RateLimitRecord] = []
    ) {
        self.hosts = hosts
        self.rateLimits = rateLimits
        self.finishedAt = finishedAt
        self.status = status
        self.exitStatus = exitStatus
    }
}

/// Per-run totals over the run's observations.
public struct RunCounts: Sendable, Hashable, Codable {
    /// Observations recorded (one per reference attempted).
    public var references: Int
    /// References stored for the first time.
    public var pulled: Int
    /// References that were already current.
    public var upToDate: Int
    /// Tags that moved.
    public var updated: Int
    /// References that failed.
    public var failed: Int
    /// References whose observation raised at least one drift event.
    public var drift: Int
    /// Drift events raised (a reference can raise several).
    public var driftEvents: Int
    /// Bytes transferred over the network.
    public var bytesTransferred: Int64
    /// References a rate limit deferred to a later run.
    public var deferred: Int
    /// Up-to-date references that were not asked for (`immutable-tags`); included in ``upToDate``.
    public var notAsked: Int

    /// Creates counts.
    public init(
        references: Int = 0, pulled: Int = 0, upToDate: Int = 0, updated: Int = 0, failed: Int = 0, drift: Int = 0,
        driftEvents: Int = 0, bytesTransferred: Int64 = 0, deferred: Int = 0, notAsked: Int = 0
    ) {
        self.deferred = deferred
        self.notAsked = notAsked
        self.references = references
        self.pulled = pulled
        self.upToDate = upToDate
        self.updated = updated
        self.failed = failed
        self.drift = drift
        self.driftEvents = driftEvents
        self.bytesTransferred = bytesTransferred
    }
}

/// A stored run.
public struct RunRecord: Sendable, Hashable, Codable {
    /// The run's ID.
    public var id: RunID
    /// The subcommand that ran.
    public var command: String
    /// Start time.
    public var startedAt: Date
    /// End time; nil while running.
    public var finishedAt: Date?
    /// How the run ended, or `running`.
    public var status: RunStatus
    /// The exit status; nil while running.
    public var exitStatus: Int32?
    /// The mirror list digest given at start.
    public var configFingerprint: String?
    /// The ferry version given at start.
    public var toolVersion: String?
    /// True for `--dry-run`.
    public var dryRun: Bool
    /// Totals: frozen at finish, live while running.
    public var counts: RunCounts
    /// The bundle this run's record arrived in (a run of the exporting store); nil for a run of this store.
    public var bundleID: Digest? = nil
}

/// Totals over the runs of a store that outlive any one run (``ReferenceStore/runTotals(excluding:successCommand:)``).
public struct RunTotals: Sendable, Hashable {
    /// Bytes transferred by the runs counted.
    public var bytesTransferred: Int64
    /// When the last successful run finished; nil when there was none.
    public var lastSuccess: Date?

    /// Creates totals.
    public init(bytesTransferred: Int64 = 0, lastSuccess: Date? = nil) {
        self.bytesTransferred = bytesTransferred
        self.lastSuccess = lastSuccess
    }
}
