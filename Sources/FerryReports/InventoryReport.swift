import Foundation
import Ledger
import OCIModel

/// The audit view of the whole store (`ferry report --inventory`): every repository, tag, digest and image ID,
/// when each was first and last seen, where it came from, and the drift history.
public struct InventoryReport: Codable, Sendable, Hashable {
    /// The schema version this build writes.
    public static let currentSchemaVersion = 1
    /// The `$schema` identifier of ``currentSchemaVersion``.
    public static let schemaID = "https://ferry.dev/schemas/inventory-report/v1.json"

    /// The schema identifier, ``schemaID``.
    public var schema: String
    /// The schema version, ``currentSchemaVersion``.
    public var schemaVersion: Int
    /// When the inventory was read; the state it shows is the store's at that moment.
    public var generatedAt: Date
    /// The reference store's own schema version (`PRAGMA user_version`).
    public var storeSchemaVersion: Int
    /// Totals.
    public var counts: Counts
    /// Every repository, by name.
    public var repositories: [Repository]
    /// Every drift event outside dry runs, oldest first.
    public var driftHistory: [DriftEntry]

    private enum CodingKeys: String, CodingKey {
        case schema = "$schema"
        case schemaVersion, generatedAt, storeSchemaVersion, counts, repositories, driftHistory
    }

    /// Builds the report from the ledger's inventory, read at `generatedAt`.
    public init(_ inventory: Inventory, generatedAt: Date) {
        schema = Self.schemaID
        schemaVersion = Self.currentSchemaVersion
        self.generatedAt = generatedAt
        storeSchemaVersion = inventory.schemaVersion
        let drift = Dictionary(grouping: inventory.driftHistory, by: \.repository)
        repositories = inventory.repositories.map { Repository($0, drift: drift[$0.repository] ?? []) }
        driftHistory = inventory.driftHistory.map(DriftEntry.init)
        counts = Counts(
            repositories: repositories.count, tags: repositories.reduce(0) { $0 + $1.tags.count },
            digests: repositories.reduce(0) { $0 + Set($1.digests.map(\.digest)).count },
            driftEvents: driftHistory.count)
    }

    /// Reads the inventory from `store` now.
    public static func load(from store: ReferenceStore, now: Date = Date()) async throws -> InventoryReport {
        InventoryReport(try await store.inventory(), generatedAt: now)
    }
}

extension InventoryReport {
    /// Totals over the inventory.
    public struct Counts: Codable, Sendable, Hashable {
        /// Repositories stored.
        public var repositories: Int
        /// Tags with a current mapping.
        public var tags: Int
        /// Distinct manifest (or index) digests with a recorded image ID mapping.
        public var digests: Int
        /// Drift events outside dry runs.
        public var driftEvents: Int
    }

    /// One repository.
    public struct Repository: Codable, Sendable, Hashable {
        /// The repository's full name.
        public var repository: String
        /// When it was first stored.
        public var firstSeen: Date
        /// Its tags, by name, each with its history.
        public var tags: [Tag]
        /// Its write-once `digest[, platform] → image ID` mappings, by digest then platform.
        public var digests: [DigestMapping]
        /// Drift events raised for it, oldest first.
        public var drift: [DriftEntry]

        /// Copies a ledger inventory entry.
        public init(_ entry: InventoryEntry, drift: [DriftEventRecord]) {
            repository = entry.repository
            firstSeen = entry.firstSeen
            let history = Dictionary(grouping: entry.tagHistory, by: \.tag)
            tags = entry.tags.map { Tag($0, history: history[$0.tag] ?? []) }
            digests = entry.digests.map(DigestMapping.init)
            self.drift = drift.map(DriftEntry.init)
        }
    }

    /// A tag's current mapping and every digest it pointed to before.
    public struct Tag: Codable, Sendable, Hashable {
        /// The tag.
        public var tag: String
        /// The full reference, `repository:tag`.
        public var reference: String
        /// The manifest digest it points to now.
        public var digest: Digest
        /// That manifest's media type.
        public var mediaType: MediaType
        /// The image ID given with the last observation; absent for an index.
        public var imageID: Digest?
        /// First observation of this tag.
        public var firstSeen: Date
        /// Last observation confirming the current digest.
        public var lastSeen: Date
        /// Last successful resolution of the tag.
        public var lastChecked: Date
        /// The endpoint the current mapping came from.
        public var servedBy: EndpointEntry
        /// The run that last observed it.
        public var lastRunID: RunID
        /// Every digest the tag pointed to, one entry per stretch of time, oldest first.
        public var history: [HistoryEntry]

        /// Copies a tag record and its history.
        public init(_ record: TagRecord, history: [TagHistoryRecord]) {
            tag = record.tag
            reference = record.repository + ":" + record.tag
            digest = record.manifestDigest
            mediaType = record.mediaType
            imageID = record.imageID
            firstSeen = record.firstSeen
            lastSeen = record.lastSeen
            lastChecked = record.lastChecked
            servedBy = EndpointEntry(url: record.servedBy, repository: record.repository)
            lastRunID = record.lastRunID
            self.history = history.map(HistoryEntry.init)
        }
    }

    /// One stretch of time during which a tag pointed to one digest.
    public struct HistoryEntry: Codable, Sendable, Hashable {
        /// The digest it pointed to.
        public var digest: Digest
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

        /// Copies a history record.
        public init(_ record: TagHistoryRecord) {
            digest = record.manifestDigest
            imageID = record.imageID
            firstSeen = record.firstSeen
            lastSeen = record.lastSeen
            firstRunID = record.firstRunID
            lastRunID = record.lastRunID
        }
    }

    /// A write-once `repository@digest[, platform] → image ID` mapping.
    public struct DigestMapping: Codable, Sendable, Hashable {
        /// The full reference, `repository@digest`.
        public var reference: String
        /// The manifest (or index) digest.
        public var digest: Digest
        /// For an index: the platform whose child this maps to.
        public var platform: String?
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
        public var servedBy: EndpointEntry

        /// Copies a digest record.
        public init(_ record: DigestRecord) {
            reference = record.repository + "@" + record.digest.description
            digest = record.digest
            platform = record.platform?.description
            imageID = record.imageID
            childDigest = record.childDigest
            mediaType = record.mediaType
            firstSeen = record.firstSeen
            firstRunID = record.firstRunID
            servedBy = EndpointEntry(url: record.servedBy, repository: record.repository)
        }
    }
}
