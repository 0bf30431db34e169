import Foundation
import OCIModel

/// One resolution of one reference in a run: what the sync engine hands to ``ReferenceStore/record(_:)``.
public struct Observation: Sendable, Hashable {
    /// How the resolution ended.
    public enum Result: Sendable, Hashable {
        /// A manifest was resolved (and, unless dry-run, stored).
        case resolved(ResolvedManifest)
        /// Every endpoint failed; the text is the final error, without credentials.
        case failed(error: String)
        /// A rate limit stopped it before anything was fetched; `retryAt` is when its host may be asked again.
        case deferred(reason: String, retryAt: Date?)
        /// Not asked for (`immutable-tags`): the tag is recorded and trusted; the store's record is repeated.
        case notAsked
    }

    /// The run this belongs to.
    public var runID: RunID
    /// The reference as the mirror list names it; a name-only reference means `:latest`, and a reference with
    /// a digest is a digest reference even when it also has a tag (as in moby's reference store).
    public var reference: ImageReference
    /// True when the image entry says `immutable: true`: a tag move is then drift.
    public var immutable: Bool
    /// True for `--dry-run`: tags and digests are left alone.
    public var dryRun: Bool
    /// Endpoints tried before the one that served it (or all of them, on failure), in order.
    public var attempts: [EndpointAttempt]
    /// Bytes transferred over the network for this reference.
    public var bytesTransferred: Int64
    /// Wall time spent on this reference.
    public var duration: Duration
    /// When the reference was resolved; used for first/last seen and drift event times.
    public var observedAt: Date
    /// What happened.
    public var result: Result

    /// Creates an observation.
    public init(
        runID: RunID, reference: ImageReference, immutable: Bool = false, dryRun: Bool = false,
        attempts: [EndpointAttempt] = [], bytesTransferred: Int64 = 0, duration: Duration = .zero,
        observedAt: Date = Date(), result: Result
    ) {
        self.runID = runID
        self.reference = reference
        self.immutable = immutable
        self.dryRun = dryRun
        self.attempts = attempts
        self.bytesTransferred = bytesTransferred
        self.duration = duration
        self.observedAt = observedAt
        self.result = result
    }

    /// The repository.
    public var repository: RepositoryName { reference.repository }
    /// The tag whose mapping this observation updates; nil for a digest reference.
    public var tag: String? { reference.digest == nil ? (reference.tag ?? "latest") : nil }
    /// The pinned digest of a digest reference.
    public var requestedDigest: Digest? { reference.digest }
    /// The reference text stored and reported: full, normalized, `:latest` added when name-only.
    public var referenceText: String {
        // A name-only reference reaches the store only for a failed tag listing; it names the repository as is.
        if case .failed = result, reference.isNameOnly { return reference.string }
        return reference.taggedLatestIfNameOnly().string
    }
}

/// The manifest a reference resolved to.
public struct ResolvedManifest: Sendable, Hashable {
    /// The manifest (or index) digest.
    public var digest: Digest
    /// Its media type.
    public var mediaType: MediaType
    /// The image ID (config digest) of an image manifest; nil for an index, whose IDs are per platform.
    public var imageID: Digest?
    /// For an index: the selected children. Empty for an image manifest.
    public var platforms: [PlatformManifest]
    /// The endpoint (URL, no credentials) that served the manifest.
    public var servedBy: String
    /// With `verify-upstream`, what the upstream registry's HEAD said when a mirror served the tag.
    public var upstream: UpstreamCheck?
    /// The referrers found for the manifest, its children and each other; nil when none were looked for.
    public var referrers: [Referrer]? = nil
    /// The artifact types looked for (`referrers: [types]`); nil for all. A recorded referrer of another type
    /// that is not found again is not taken as removed.
    public var referrerTypes: [String]? = nil

    /// Creates a resolved manifest.
    public init(
        digest: Digest, mediaType: MediaType, imageID: Digest?, platforms: [PlatformManifest] = [],
        servedBy: String, upstream: UpstreamCheck? = nil
    ) {
        self.digest = digest
        self.mediaType = mediaType
        self.imageID = imageID
        self.platforms = platforms
        self.servedBy = servedBy
        self.upstream = upstream
    }
}

/// One selected child of an index.
public struct PlatformManifest: Sendable, Hashable, Codable {
    /// The child's platform (stored normalized; `os.features` is not kept).
    public var platform: Platform
    /// The child manifest's digest.
    public var digest: Digest
    /// The child's media type.
    public var mediaType: MediaType
    /// The child's image ID (its config digest).
    public var imageID: Digest

    /// Creates a child entry.
    public init(platform: Platform, digest: Digest, mediaType: MediaType, imageID: Digest) {
        self.platform = platform
        self.digest = digest
        self.mediaType = mediaType
        self.imageID = imageID
    }
}

/// An endpoint that was tried and did not serve the reference.
public struct EndpointAttempt: Sendable, Hashable, Codable {
    /// The endpoint URL (userinfo is stripped again before storing).
    public var endpoint: String
    /// Why it was skipped.
    public var error: String
    /// True when the orchestrator moved on to the next endpoint; false when this error ended the pull.
    public var fellBack: Bool

    /// Creates an attempt.
    public init(endpoint: String, error: String, fellBack: Bool) {
        self.endpoint = endpoint
        self.error = error
        self.fellBack = fellBack
    }
}

/// The upstream registry's answer for a tag that a mirror served (`verify-upstream`).
public struct UpstreamCheck: Sendable, Hashable, Codable {
    /// The digest upstream's HEAD returned.
    public var digest: Digest
    /// The upstream endpoint asked.
    public var endpoint: String

    /// Creates an upstream check.
    public init(digest: Digest, endpoint: String) {
        self.digest = digest
        self.endpoint = endpoint
    }
}
