import Foundation
import OCIModel

// Records are what the store hands back; FerryReports encodes them to JSON, so their property names are part of
// the report schema. Repositories and references are plain strings here because they are read back from the
// database for display, and RepositoryName is not Codable.

/// What recording one reference amounted to, as reports show it.
public enum Outcome: String, Sendable, Hashable, Codable, CaseIterable {
    /// The tag or digest was not known before.
    case pulled
    /// The tag already pointed to this manifest; the digest reference was already known.
    case upToDate = "up-to-date"
    /// The tag moved to a new manifest.
    case updated
    /// The reference could not be resolved; nothing but the observation was written.
    case failed
    /// At least one drift event was raised.
    case drift
    /// A registry's rate limit stopped it before anything was fetched; a later run takes it (not a failure).
    case deferred
}

/// A kind of drift event.
///
/// Adding a kind needs a schema migration (even an empty one) so that older binaries refuse the file instead of
/// misreading it.
public enum DriftKind: String, Sendable, Hashable, Codable, CaseIterable {
    /// A known `repository@digest[, platform]` now resolves to another image ID; the old mapping was kept.
    case imageIDDrift = "image-id-drift"
    /// An `immutable` tag points to a new manifest digest.
    case tagMoved = "tag-moved"
    /// A mirror served a different digest for a tag than the upstream registry's HEAD.
    case mirrorDivergence = "mirror-divergence"
    /// A referrer (signature, SBOM, attestation) recorded before is no longer found upstream: a revoked
    /// signature is news. `digest` and `newValue` are its subject, `oldValue` the referrer.
    case referrerRemoved = "referrer-removed"
}

/// What ``ReferenceStore/record(_:)`` decided.
public struct RecordResult: Sendable, Hashable, Codable {
    /// The stored observation's ID.
    public var observationID: Int64
    /// The outcome.
    public var outcome: Outcome
    /// For a tag reference, the digest the tag pointed to before (even when unchanged); nil when new.
    public var previousDigest: Digest?
    /// The drift events raised, in the order they were stored.
    public var driftEvents: [DriftEventRecord]
}

/// A stored observation.
public struct ObservationRecord: Sendable, Hashable, Codable {
    /// Its ID, increasing in recording order.
    public var id: Int64
    /// The run.
    public var runID: RunID
    /// The normalized reference.
    public var reference: String
    /// The repository's full name.
    public var repository: String
    /// The tag, for a tag reference.
    public var tag: String?
    /// The pinned digest, for a digest reference.
    public var requestedDigest: Digest?
    /// The resolved manifest digest; nil on failure.
    public var manifestDigest: Digest?
    /// The resolved media type; nil on failure.
    public var mediaType: MediaType?
    /// The image ID of an image manifest.
    public var imageID: Digest?
    /// The selected children of an index.
    public var platforms: [PlatformManifest]
    /// The endpoint that served it; nil on failure.
    public var servedBy: String?
    /// The endpoints tried before (or instead of) it, and why they were skipped.
    public var attempts: [EndpointAttempt]
    /// The upstream check, with `verify-upstream`.
    public var upstream: UpstreamCheck?
    /// The computed outcome (for a dry run: what would have happened).
    public var outcome: Outcome
    /// The tag's digest before this observation.
    public var previousDigest: Digest?
    /// The final error, on failure.
    public var error: String?
    /// The image entry's `immutable` flag.
    public var immutable: Bool
    /// True when observed by a dry run.
    public var dryRun: Bool
    /// Bytes transferred.
    public var bytesTransferred: Int64
    /// Wall time in milliseconds.
    public var durationMilliseconds: Int64
    /// When it was observed.
    public var observedAt: Date
    /// False when the tag was not asked for (`immutable-tags`): the row repeats what the store records.
    public var checked: Bool = true
    /// For a deferred reference: when its host may be asked again (nil: not known).
    public var retryAt: Date? = nil
    /// The bundle this observation arrived in (`ferry import`); nil when observed by this store.
    public var bundleID: Digest? = nil
}

/// A stored drift event.
public struct DriftEventRecord: Sendable, Hashable, Codable {
    /// Its ID, increasing in recording order.
    public var id: Int64
    /// The run that raised it.
    public var runID: RunID
    /// The observation that raised it.
    public var observationID: Int64
    /// The kind.
    public var kind: DriftKind
    /// The normalized reference being synced.
    public var reference: String
    /// The repository's full name.
    public var repository: String
    /// The manifest digest concerned: the drifting digest, the tag's new digest, or the mirror's digest.
    public var digest: Digest
    /// For image-ID drift through an index: the platform whose mapping drifted.
    public var platform: Platform?
    /// image-id-drift: the kept image ID; tag-moved: the previous digest; mirror-divergence: the mirror's digest.
    public var oldValue: Digest
    /// image-id-drift: the new image ID; tag-moved: the new digest; mirror-divergence: the upstream's digest.
    public var newValue: Digest
    /// The endpoint that served the content (the mirror, for mirror-divergence).
    public var endpoint: String
    /// For mirror-divergence: the upstream endpoint whose HEAD disagreed.
    public var upstreamEndpoint: String?
    /// True when raised by a dry run (nothing was changed).
    public var dryRun: Bool
    /// When it was observed.
    public var occurredAt: Date
    /// The bundle this event arrived in, or whose import raised it; nil when raised by a sync here.
    public var bundleID: Digest? = nil
}

/// A tag's current mapping.
public struct TagRecord: Sendable, Hashable, Codable {
    /// The repository's full name.
    public var repository: String
    /// The tag.
    public var tag: String
    /// The manifest digest it points to.
    public var manifestDigest: Digest
    /// That manifest's media type.
    public var mediaType: MediaType
    /// The image ID given with the last observation (nil for an index).
    public var imageID: Digest?
    /// First observation of this tag.
    public var firstSeen: Date
    /// Last observation confirming the current digest.
    public var lastSeen: Date
    /// Last successful resolution of the tag.
    public var lastChecked: Date
    /// The endpoint that served it last: where the current mapping came from.
    public var servedBy: String
    /// The run that last observed it.
    public var lastRunID: RunID
    /// The bundle the current mapping arrived in (`ferry import`); nil when it was synced into this store.
    public var bundleID: Digest? = nil
}

/// One stretch of time during which a tag pointed to one digest.
public struct TagHistoryRecord: Sendable, Hashable, Codable {
    /// The tag.
    public var tag: String
    /// The digest it pointed to.
    public var manifestDigest: Digest
    /// The image ID observed with it.
    public var imageID: Digest?
    /// First observation of this stretch.
    public var firstSeen: Date
    /// Last observation of this stretch.
    public var lastSeen: Date
    /// The run that started the stretch.
    public var firstRunID: RunID
    /// The run that last confirmed it.
    public var lastRunID: RunID
}

/// A write-once mapping `repository@digest[, platform] → image ID`.
public struct DigestRecord: Sendable, Hashable, Codable {
    /// The repository's full name.
    public var repository: String
    /// The manifest (or index) digest.
    public var digest: Digest
    /// For an index: the platform whose child this maps to; nil for an image manifest.
    public var platform: Platform?
    /// The image ID.
    public var imageID: Digest
    /// For an index mapping: the selected child manifest's digest.
    public var childDigest: Digest?
    /// The media type of `digest`.
    public var mediaType: MediaType
    /// When the mapping was written.
    public var firstSeen: Date
    /// The run that wrote it.
    public var firstRunID: RunID
    /// The endpoint that served it then.
    public var servedBy: String
}

/// One repository in the inventory.
public struct InventoryEntry: Sendable, Hashable, Codable {
    /// The repository's full name.
    public var repository: String
    /// When it was first stored.
    public var firstSeen: Date
    /// Its tags, by name.
    public var tags: [TagRecord]
    /// Every digest its tags have pointed to, by tag then time.
    public var tagHistory: [TagHistoryRecord]
    /// Its digest mappings, by digest then platform.
    public var digests: [DigestRecord]
}

/// The audit view of the whole store, read in one snapshot.
public struct Inventory: Sendable, Hashable, Codable {
    /// The store's schema version.
    public var schemaVersion: Int
    /// Every repository, by name.
    public var repositories: [InventoryEntry]
    /// Every drift event outside dry runs, oldest first.
    public var driftHistory: [DriftEventRecord]
}

/// The inventory without its repositories: totals and the drift history.
public struct InventorySummary: Sendable, Hashable {
    /// The store's schema version.
    public var schemaVersion: Int
    /// Repositories stored.
    public var repositories: Int
    /// Tags with a current mapping.
    public var tags: Int
    /// Distinct `(repository, digest)` pairs with a mapping.
    public var digests: Int
    /// Digest mappings (one per platform for an index).
    public var digestMappings: Int
    /// Every drift event outside dry runs, oldest first.
    public var driftHistory: [DriftEventRecord]
}

/// How the database file is set up, for `ferry verify` and diagnostics.
public struct StorageInfo: Sendable, Hashable, Codable {
    /// `PRAGMA user_version`.
    public var schemaVersion: Int
    /// The applied migrations, in order.
    public var migrations: [String]
    /// `PRAGMA journal_mode`: `wal` for a file store, `memory` in memory.
    public var journalMode: String
    /// `PRAGMA foreign_keys`.
    public var foreignKeys: Bool
}
