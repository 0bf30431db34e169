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

    private enum CodingKeys: String, CodingKey {
        case schema = "$schema"
        case schemaVersion, run, counts, driftEvents, images, pushes
    }

    /// Builds the report of `run` from its stored observations, drift events and push results.
    ///
    /// Each push result goes to the row of the observation with the same reference, or to ``pushes`` when the run
    /// did not observe that reference.
    public init(
        run: RunRecord, observations: [ObservationRecord], driftEvents: [DriftEventRecord],
        targets: [TargetResult] = [], referrers: [Int64: [Referrer]] = [:]
    ) {
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
            targets: try await store.pushes(run: id).map(TargetResult.init),
            referrers: try await store.referrers(run: id))
    }

    /// Where an outcome sorts in reports: what needs attention first.
    public static func rank(_ outcome: Outcome) -> Int {
        switch outcome {
        case .drift: 0
        case .failed: 1
        case .updated: 2
        case .pulled: 3
        case .upToDate: 4
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
            }
        }
    }
}

/// An endpoint named in a report, with whether it is a mirror of the reference's registry.
public struct EndpointEntry: Codable, Sendable, Hashable {
    /// The endpoint URL, without credentials.
    public var url: String
    /// True when the endpoint is not the registry's own API host.
    public var mirror: Bool

    /// Creates an entry, deciding `mirror` from the repository's registry domain.
    public init(url: String, repository: String) {
        self.url = url
        mirror = EndpointEntry.isMirror(url, repository: repository)
    }

    /// True when `url`'s host is neither the repository's registry domain nor (for Docker Hub) its API host.
    ///
    /// The ledger stores endpoint URLs only, so this is derived: the fallback orchestrator's upstream endpoints are
    /// `https://<domain>`, `http://<domain>` and, for `docker.io`, `https://registry-1.docker.io`.
    public static func isMirror(_ url: String, repository: String) -> Bool {
        let domain = String(repository.prefix { $0 != "/" }).lowercased()
        var rest = Substring(url)
        if let scheme = rest.range(of: "://") { rest = rest[scheme.upperBound...] }
        let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }.lowercased()
        if authority == domain { return false }
        if domain == "docker.io" {
            return !["registry-1.docker.io", "index.docker.io", "registry-1.docker.io:443"].contains(authority)
        }
        return true
    }
}

/// One image manifest selected from an index.
public struct PlatformEntry: Codable, Sendable, Hashable {
    /// `os/architecture[/variant]`.
    public var platform: String
    /// The child manifest's digest.
    public var digest: Digest
    /// The child's media type.
    public var mediaType: MediaType
    /// The child's image ID (config digest).
    public var imageID: Digest

    /// Copies a ledger platform entry.
    public init(_ child: PlatformManifest) {
        platform = child.platform.description
        digest = child.digest
        mediaType = child.mediaType
        imageID = child.imageID
    }
}

/// An endpoint that was tried and did not serve the reference.
public struct AttemptEntry: Codable, Sendable, Hashable {
    /// The endpoint.
    public var endpoint: EndpointEntry
    /// Why it did not serve the reference.
    public var error: String
    /// True when the orchestrator moved on to the next endpoint; false when this error ended the pull.
    public var fellBack: Bool

    /// Copies a ledger attempt.
    public init(_ attempt: EndpointAttempt, repository: String) {
        endpoint = EndpointEntry(url: attempt.endpoint, repository: repository)
        error = attempt.error
        fellBack = attempt.fellBack
    }
}

/// What the upstream registry answered for a tag a mirror served (`verify-upstream`).
public struct UpstreamEntry: Codable, Sendable, Hashable {
    /// The digest the upstream's HEAD returned.
    public var digest: Digest
    /// The upstream endpoint.
    public var endpoint: String
}

/// What one push of one reference to one target did.
public struct TargetResult: Codable, Sendable, Hashable {
    /// The source reference pushed, as the ledger stores it.
    public var reference: String
    /// The target's name in the mirror list (`targets:`), or `--to` for an ad-hoc destination.
    public var target: String
    /// The reference written in the target registry (or layout).
    public var destination: String
    /// What happened.
    public var outcome: TargetOutcome
    /// The manifest digest pushed.
    public var digest: Digest?
    /// Bytes uploaded.
    public var bytesUploaded: Int64
    /// The error, when the push failed (without credentials).
    public var error: String?

    /// Creates a target result.
    public init(
        reference: String, target: String, destination: String, outcome: TargetOutcome, digest: Digest? = nil,
        bytesUploaded: Int64 = 0, error: String? = nil
    ) {
        self.reference = reference
        self.target = target
        self.destination = destination
        self.outcome = outcome
        self.digest = digest
        self.bytesUploaded = bytesUploaded
        self.error = error
    }

    /// Copies a stored push.
    public init(_ push: PushRecord) {
        let outcome: TargetOutcome =
            switch push.outcome {
            case .pushed: .pushed
            case .upToDate: .upToDate
            case .failed: .failed
            }
        self.init(
            reference: push.reference, target: push.target, destination: push.destination, outcome: outcome,
            digest: push.digest, bytesUploaded: push.bytes, error: push.error)
    }
}

/// What a push to one target did.
public enum TargetOutcome: String, Codable, Sendable, Hashable, CaseIterable {
    /// The target received the manifest (and any missing blobs).
    case pushed
    /// The target already had this manifest under this reference.
    case upToDate = "up-to-date"
    /// The push failed.
    case failed
}

/// One observation in a run report.
public struct ImageRow: Codable, Sendable, Hashable {
    /// The normalized source reference (`:latest` added when name-only).
    public var reference: String
    /// The repository's full name.
    public var repository: String
    /// The tag, for a tag reference.
    public var tag: String?
    /// The pinned digest, for a digest reference.
    public var requestedDigest: Digest?
    /// What recording it amounted to.
    public var outcome: Outcome
    /// The drift kinds this observation raised (non-empty exactly when `outcome` is `drift`).
    public var driftKinds: [DriftKind]
    /// The digest the tag pointed to before this run.
    public var previousDigest: Digest?
    /// The resolved manifest (or index) digest; absent on failure.
    public var digest: Digest?
    /// The resolved media type; absent on failure.
    public var mediaType: MediaType?
    /// The image ID (config digest) of an image manifest; absent for an index and on failure.
    public var imageID: Digest?
    /// For an index: the selected children.
    public var platforms: [PlatformEntry]
    /// The endpoint that served it; absent on failure.
    public var servedBy: EndpointEntry?
    /// Endpoints tried before the one that served it (all of them, on failure), in order.
    public var attempts: [AttemptEntry]
    /// The upstream check, with `verify-upstream`.
    public var upstream: UpstreamEntry?
    /// Pushes to target registries.
    public var targets: [TargetResult]
    /// Bytes transferred over the network.
    public var bytesTransferred: Int64
    /// Wall time in milliseconds.
    public var durationMilliseconds: Int64
    /// The final error, on failure.
    public var error: String?
    /// The image entry's `immutable` flag.
    public var immutable: Bool
    /// True when observed by a dry run: the outcome is what would have happened.
    public var dryRun: Bool
    /// When it was observed.
    public var observedAt: Date
    /// The referrers (signatures, SBOMs, attestations) found and stored with it; absent when none were found.
    public var referrers: ReferrersEntry? = nil

    /// Builds a row from a stored observation.
    public init(_ observation: ObservationRecord, driftKinds: [DriftKind] = [], targets: [TargetResult] = []) {
        let repository = observation.repository
        reference = observation.reference
        self.repository = repository
        tag = observation.tag
        requestedDigest = observation.requestedDigest
        outcome = observation.outcome
        self.driftKinds = driftKinds
        previousDigest = observation.previousDigest
        digest = observation.manifestDigest
        mediaType = observation.mediaType
        imageID = observation.imageID
        platforms = observation.platforms.map(PlatformEntry.init)
        servedBy = observation.servedBy.map { EndpointEntry(url: $0, repository: repository) }
        attempts = observation.attempts.map { AttemptEntry($0, repository: repository) }
        upstream = observation.upstream.map { UpstreamEntry(digest: $0.digest, endpoint: $0.endpoint) }
        self.targets = targets
        bytesTransferred = observation.bytesTransferred
        durationMilliseconds = observation.durationMilliseconds
        error = observation.error
        immutable = observation.immutable
        dryRun = observation.dryRun
        observedAt = observation.observedAt
    }
}

/// A drift event in a report.
public struct DriftEntry: Codable, Sendable, Hashable {
    /// The kind.
    public var kind: DriftKind
    /// The normalized reference being synced.
    public var reference: String
    /// The repository's full name.
    public var repository: String
    /// The manifest digest concerned: the drifting digest, the tag's new digest, or the mirror's digest.
    public var digest: Digest
    /// For image-ID drift through an index: the platform whose mapping drifted.
    public var platform: String?
    /// image-id-drift: the kept image ID; tag-moved: the previous digest; mirror-divergence: the mirror's digest.
    public var oldValue: Digest
    /// image-id-drift: the new image ID; tag-moved: the new digest; mirror-divergence: the upstream's digest.
    public var newValue: Digest
    /// The endpoint that served the content (the mirror, for mirror-divergence).
    public var endpoint: EndpointEntry
    /// For mirror-divergence: the upstream endpoint whose HEAD disagreed.
    public var upstreamEndpoint: String?
    /// The run that raised it.
    public var runID: RunID
    /// True when raised by a dry run.
    public var dryRun: Bool
    /// When it was observed.
    public var occurredAt: Date

    /// Copies a stored drift event.
    public init(_ event: DriftEventRecord) {
        kind = event.kind
        reference = event.reference
        repository = event.repository
        digest = event.digest
        platform = event.platform?.description
        oldValue = event.oldValue
        newValue = event.newValue
        endpoint = EndpointEntry(url: event.endpoint, repository: event.repository)
        upstreamEndpoint = event.upstreamEndpoint
        runID = event.runID
        dryRun = event.dryRun
        occurredAt = event.occurredAt
    }

    /// What `oldValue` and `newValue` are, in words.
    public var valueName: String {
        switch kind {
        case .imageIDDrift: "image ID"
        case .tagMoved: "digest"
        case .mirrorDivergence: "mirror → upstream digest"
        case .referrerRemoved: "referrer → subject"
        }
    }
}
