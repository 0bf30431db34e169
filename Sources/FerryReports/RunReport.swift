import Foundation
import Ledger
import OCIModel

// The report types are separate from the ledger's records on purpose: their property names are the JSON schema
// (RunReportSchema), which is versioned and documented, while the ledger's records may change with its migrations.

/// Everything one run did, as written to `reports/<run-id>.json` (schema v2) and rendered to Markdown and HTML.
public struct RunReport: Codable, Sendable, Hashable {
    /// The schema version this build writes; any change to the fields, even an added one, bumps it.
    public static let currentSchemaVersion = 2
    /// The `$schema` identifier of ``currentSchemaVersion``.
    public static let schemaID = "https://ferry.dev/schemas/run-report/v2.json"

    /// The schema identifier, ``schemaID``.
    public var schema: String
    /// The schema version, ``currentSchemaVersion``.
    public var schemaVersion: Int
    /// The run.
    public var run: RunInfo
    /// Totals over the run's observations.
    public var counts: Counts
    /// The drift events the run raised, in the order they were stored.
    public var driftEvents: [DriftEntry]
    /// One row per observation: drift first, then failed, updated, pulled, up-to-date; by reference within a group.
    public var images: [ImageRow]
    /// Pushes of references that have no image row in this run (a `ferry push` run pushes stored references
    /// without resolving them), in the order they were recorded; the others are under their row's `targets`.
    public var pushes: [TargetResult]
    /// The run's requests per host and what each host said about its rate limit, sorted by host.
    public var hosts: [HostEntry]

    private enum CodingKeys: String, CodingKey {
        case schema = "$schema"
        case schemaVersion, run, counts, driftEvents, images, pushes, hosts
    }

    /// Builds the report of `run` from its stored observations, drift events and push results.
    ///
    /// Each push result goes to the row of the observation with the same reference, or to ``pushes`` when the run
    /// did not observe that reference.
    public init(
        run: RunRecord, observations: [ObservationRecord], driftEvents: [DriftEventRecord],
        targets: [TargetResult] = [], hosts: [RunHostRecord] = [], referrers: [Int64: [Referrer]] = [:]
    ) {
        self.hosts = hosts.map(HostEntry.init)
        schema = Self.schemaID
        schemaVersion = Self.currentSchemaVersion
        self.run = RunInfo(run)
        self.driftEvents = driftEvents.map(DriftEntry.init)
        let kinds = Dictionary(grouping: driftEvents, by: \.observationID).mapValues { $0.map(\.kind) }
        let observed = Set(observations.map(\.reference))
        // A reference observed twice in one run gets its pushes on its last row only, so none is counted twice.
        let lastObservation = Dictionary(observations.map { ($0.reference, $0.id) }, uniquingKeysWith: max)
        let byReference = Dictionary(grouping: targets, by: \.reference)
        pushes = targets.filter { !observed.contains($0.reference) }
        images =
            observations
            .sorted { lhs, rhs in
                let left = (Self.rank(lhs.outcome), lhs.reference, lhs.id)
                let right = (Self.rank(rhs.outcome), rhs.reference, rhs.id)
                return left < right
            }
            .map { observation in
                var row = ImageRow(
                    observation, driftKinds: kinds[observation.id] ?? [],
                    targets: lastObservation[observation.reference] == observation.id
                        ? byReference[observation.reference] ?? [] : [])
                if let found = referrers[observation.id] {
                    row.referrers = ReferrersEntry(found, platformFiltered: row.mediaType?.isIndex == true)
                }
                return row
            }
        counts = Counts(run.counts, targets: targets)
    }

    /// Reads the run's records (observations, drift events, pushes) from `store`; nil when it has no such run.
    public static func load(run id: RunID, from store: ReferenceStore) async throws -> RunReport? {
        guard let run = try await store.run(id) else { return nil }
        return RunReport(
            run: run, observations: try await store.observations(run: id),
            driftEvents: try await store.driftEvents(run: id),
            targets: try await store.pushes(run: id).map(TargetResult.init), hosts: try await store.runHosts(id),
            referrers: try await store.referrers(run: id))
    }

    /// Where an outcome sorts in reports: what needs attention first.
    public static func rank(_ outcome: Outcome) -> Int {
        switch outcome {
        case .drift: 0
        case .failed: 1
        case .deferred: 2
        case .updated: 3
        case .pulled: 4
        case .upToDate: 5
        }
    }

    /// The rows that failed, or whose push to a target failed.
    public var failures: [ImageRow] {
        images.filter { $0.outcome == .failed || $0.targets.contains { $0.outcome == .failed } }
    }

    /// Every target result, in rows and in ``pushes``.
    public var allTargets: [TargetResult] { images.flatMap(\.targets) + pushes }

    /// The rows that were served only after skipping at least one endpoint.
    public var fallbacks: [ImageRow] { images.filter { $0.outcome != .failed && !$0.attempts.isEmpty } }

    /// True when any row has target results, so renderers show the targets column.
    public var hasTargets: Bool { images.contains { !$0.targets.isEmpty } }
}

extension RunReport {
    /// The run's identity and how it ended.
    public struct RunInfo: Codable, Sendable, Hashable {
        /// The run ID, e.g. `20261129T103000Z-3f9a`.
        public var id: RunID
        /// The subcommand that ran (`sync`, `pull`, `import`).
        public var command: String
        /// How the run ended, or `running`.
        public var status: RunStatus
        /// The process exit status; absent while running.
        public var exitStatus: Int32?
        /// True for `--dry-run`.
        public var dryRun: Bool
        /// Start time.
        public var startedAt: Date
        /// End time; absent while running.
        public var finishedAt: Date?
        /// Wall time from start to end in milliseconds; absent while running.
        public var durationMilliseconds: Int64?
        /// A digest of the merged mirror list.
        public var configFingerprint: String?
        /// The ferry version that ran.
        public var toolVersion: String?

        /// Copies the run record.
        public init(_ run: RunRecord) {
            id = run.id
            command = run.command
            status = run.status
            exitStatus = run.exitStatus
            dryRun = run.dryRun
            startedAt = run.startedAt
            finishedAt = run.finishedAt
            durationMilliseconds = run.finishedAt.map { end in
                Int64((end.timeIntervalSince(run.startedAt) * 1000).rounded())
            }
            configFingerprint = run.configFingerprint
            toolVersion = run.toolVersion
        }
    }

    /// Totals over a run's observations.
    public struct Counts: Codable, Sendable, Hashable {
        /// References attempted (one observation each).
        public var references: Int
        /// References stored for the first time.
        public var pulled: Int
        /// References already current.
        public var upToDate: Int
        /// Tags that moved.
        public var updated: Int
        /// References that failed.
        public var failed: Int
        /// References whose observation raised drift.
        public var drift: Int
        /// References a rate limit deferred to a later run.
        public var deferred: Int
        /// Up-to-date references that were not asked for (`immutable-tags`); counted in ``upToDate`` too.
        public var notAsked: Int
        /// Drift events raised (one reference can raise several).
        public var driftEvents: Int
        /// Bytes transferred over the network.
        public var bytesTransferred: Int64
        /// Target pushes that wrote something.
        public var targetsPushed: Int
        /// Target pushes that found the destination already current.
        public var targetsUpToDate: Int
        /// Target pushes that failed.
        public var targetsFailed: Int

        /// Copies the ledger's counts and counts the push results.
        public init(_ counts: RunCounts, targets: [TargetResult] = []) {
            references = counts.references
            pulled = counts.pulled
            upToDate = counts.upToDate
            updated = counts.updated
            failed = counts.failed
            drift = counts.drift
            deferred = counts.deferred
            notAsked = counts.notAsked
            driftEvents = counts.driftEvents
            bytesTransferred = counts.bytesTransferred
            targetsPushed = targets.count { $0.outcome == .pushed }
            targetsUpToDate = targets.count { $0.outcome == .upToDate }
            targetsFailed = targets.count { $0.outcome == .failed }
        }

        /// Copies the ledger's counts and the run's push counts by outcome.
        public init(_ counts: RunCounts, pushCounts: [PushOutcome: Int]) {
            self.init(counts)
            targetsPushed = pushCounts[.pushed] ?? 0
            targetsUpToDate = pushCounts[.upToDate] ?? 0
            targetsFailed = pushCounts[.failed] ?? 0
        }

        /// The count of target pushes with `outcome`.
        public func targets(_ outcome: TargetOutcome) -> Int {
            switch outcome {
            case .pushed: targetsPushed
            case .upToDate: targetsUpToDate
            case .failed: targetsFailed
            }
        }

        /// The count of references with `outcome`.
        public func count(_ outcome: Outcome) -> Int {
            switch outcome {
            case .pulled: pulled
            case .upToDate: upToDate
            case .updated: updated
            case .failed: failed
            case .drift: drift
            case .deferred: deferred
            }
        }
    }
}

