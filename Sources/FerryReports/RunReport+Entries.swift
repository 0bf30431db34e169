import Foundation
import Ledger
import OCIModel

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
    /// The image entry's `immutable` flag, or a tag matching its `immutable-tags`.
    public var immutable: Bool
    /// False when the tag was not asked for (`immutable-tags`): the row repeats what the store records.
    public var checked: Bool
    /// For a deferred reference: when its registry may be asked again.
    public var retryAt: Date?
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
        checked = observation.checked
        retryAt = observation.retryAt
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

/// One host's requests in a run, and what it said about its rate limit.
public struct HostEntry: Codable, Sendable, Hashable {
    /// One kind of request and how many were sent.
    public struct KindCount: Codable, Sendable, Hashable {
        /// `manifest-head`, `manifest-get`, `blob`, `tags`, `token`, `ping`, `push`, `referrers` or `other`.
        public var kind: String
        /// Requests sent.
        public var count: Int
    }

    /// `host[:port]`.
    public var host: String
    /// Requests by kind, in a fixed order; kinds with none are left out.
    public var requests: [KindCount]
    /// All requests.
    public var total: Int
    /// 429 responses.
    public var throttled: Int
    /// The quota the host advertised, per window.
    public var limit: Int?
    /// What was left of it at the end of the run.
    public var remaining: Int?
    /// When the quota comes back.
    public var resetAt: Date?
    /// True when a 429 stopped new work on the host.
    public var blocked: Bool
    /// When a blocked host may be asked again; absent with ``blocked``: not in this run.
    public var blockedUntil: Date?

    /// The order kinds are listed in.
    public static let kindOrder = [
        "manifest-head", "manifest-get", "blob", "tags", "token", "ping", "push", "referrers", "other",
    ]

    /// Copies a stored host record.
    public init(_ record: RunHostRecord) {
        host = record.host
        requests = record.requests.filter { $0.value > 0 }
            .sorted { (Self.kindOrder.firstIndex(of: $0.key) ?? 99, $0.key) < (Self.kindOrder.firstIndex(of: $1.key) ?? 99, $1.key) }
            .map { KindCount(kind: $0.key, count: $0.value) }
        total = record.total
        throttled = record.throttled
        limit = record.limit
        remaining = record.remaining
        resetAt = record.resetAt
        blocked = record.blocked
        blockedUntil = record.blockedUntil
    }

    /// The count of requests of `kind`.
    public func count(_ kind: String) -> Int { requests.first { $0.kind == kind }?.count ?? 0 }
}
