import Foundation
import OCIModel

// Records of `ferry export` and `ferry import`. Their property names are also the JSON keys of a bundle's
// `ferry-bundle.json` (FerryBundle encodes them as they are), so renaming one is a bundle format change.

/// One reference a bundle carries: an `index.json` entry of the exporting store.
public struct BundleReference: Sendable, Hashable, Codable {
    /// The `org.opencontainers.image.ref.name` annotation, e.g. `docker.io/library/alpine:3.20`.
    public var name: String
    /// The manifest or index digest.
    public var digest: Digest
    /// Its media type.
    public var mediaType: MediaType
    /// Its size in bytes.
    public var size: Int64

    /// Creates a bundle reference.
    public init(name: String, digest: Digest, mediaType: MediaType, size: Int64) {
        self.name = name
        self.digest = digest
        self.mediaType = mediaType
        self.size = size
    }
}

/// A blob and its size.
public struct BundleBlob: Sendable, Hashable, Codable {
    /// The blob digest.
    public var digest: Digest
    /// Its size in bytes.
    public var size: Int64

    /// Creates a blob entry.
    public init(digest: Digest, size: Int64) {
        self.digest = digest
        self.size = size
    }
}

/// One file of a bundle: the single tar, or one `FILE.partNNNN` of a split bundle.
public struct BundlePart: Sendable, Hashable, Codable {
    /// The file name, without directory (parts travel together, wherever they are mounted).
    public var name: String
    /// Its size in bytes.
    public var size: Int64
    /// SHA-256 of its bytes.
    public var sha256: Digest

    /// Creates a part entry.
    public init(name: String, size: Int64, sha256: Digest) {
        self.name = name
        self.size = size
        self.sha256 = sha256
    }
}

/// A bundle written by `ferry export`, as the reference store keeps it for later `--since` exports.
public struct BundleExportRecord: Sendable, Hashable, Codable {
    /// The bundle ID: the SHA-256 of its content list.
    public var id: Digest
    /// When it was written.
    public var createdAt: Date
    /// The `--since` bundle it was based on.
    public var sinceBundle: Digest?
    /// The `--since` run it was based on.
    public var sinceRun: RunID?
    /// Where it was written (the `--to` path as given).
    public var path: String
    /// The ferry version that wrote it.
    public var toolVersion: String
    /// Its references, in `index.json` order.
    public var references: [BundleReference]
    /// The blobs it carries (read back ordered by digest).
    public var blobs: [BundleBlob]
    /// How many blobs its references need that it left out because an earlier bundle (or run) covered them.
    public var excludedBlobCount: Int
    /// Its files, in stream order.
    public var parts: [BundlePart]

    /// Creates an export record.
    public init(
        id: Digest, createdAt: Date, sinceBundle: Digest? = nil, sinceRun: RunID? = nil, path: String,
        toolVersion: String, references: [BundleReference], blobs: [BundleBlob], excludedBlobCount: Int,
        parts: [BundlePart]
    ) {
        self.id = id
        self.createdAt = createdAt
        self.sinceBundle = sinceBundle
        self.sinceRun = sinceRun
        self.path = path
        self.toolVersion = toolVersion
        self.references = references
        self.blobs = blobs
        self.excludedBlobCount = excludedBlobCount
        self.parts = parts
    }
}

/// What a `--since` bundle stands for: itself and the bundles it was based on, back to a full bundle or a run.
public struct BundleExportChain: Sendable, Hashable {
    /// The given bundle first, then the bundle it was based on, and so on.
    public var bundles: [Digest]
    /// The run the oldest bundle of the chain was based on (`--since RUN`), if any.
    public var run: RunID?

    /// Creates a chain.
    public init(bundles: [Digest], run: RunID?) {
        self.bundles = bundles
        self.run = run
    }
}

/// A bundle applied by `ferry import`.
public struct BundleImportRecord: Sendable, Hashable, Codable {
    /// The bundle ID.
    public var id: Digest
    /// When it was imported here.
    public var importedAt: Date
    /// The `import` run that recorded it.
    public var runID: RunID
    /// When it was exported.
    public var createdAt: Date
    /// The exporting store's ID.
    public var sourceStore: String
    /// The `--since` bundle it was based on.
    public var sinceBundle: Digest?
    /// The `--since` run it was based on.
    public var sinceRun: RunID?
    /// The ferry version that exported it.
    public var toolVersion: String
    /// The files it was read from, as given to `ferry import` (resolved to absolute paths).
    public var files: [String]
    /// How many references it carried.
    public var referenceCount: Int
    /// How many blobs it carried.
    public var blobCount: Int
    /// How many of those were new to this store.
    public var blobsAdded: Int
    /// Bytes of the blobs that were new to this store.
    public var bytesAdded: Int64
}

/// The reference-store history of a set of references: what `ferry export` puts into a bundle so that the
/// air-gapped side knows where each image came from and what happened to it.
public struct LedgerHistory: Sendable, Hashable, Codable {
    /// Every run the records below name.
    public var runs: [RunRecord]
    /// Per repository: the exported tags, their history, and the digest mappings of their manifests.
    public var repositories: [InventoryEntry]
    /// The latest successful observation of each reference (served by, endpoints skipped) and the observations
    /// the drift events point to.
    public var observations: [ObservationRecord]
    /// Every drift event raised for the references, outside dry runs.
    public var driftEvents: [DriftEventRecord]

    /// Creates a history.
    public init(
        runs: [RunRecord] = [], repositories: [InventoryEntry] = [], observations: [ObservationRecord] = [],
        driftEvents: [DriftEventRecord] = []
    ) {
        self.runs = runs
        self.repositories = repositories
        self.observations = observations
        self.driftEvents = driftEvents
    }

    /// True when nothing was recorded.
    public var isEmpty: Bool { runs.isEmpty && repositories.isEmpty && observations.isEmpty && driftEvents.isEmpty }
}

/// One reference a bundle brings into the store, as ``ReferenceStore/recordImport(_:)`` records it.
public struct ImportedReference: Sendable, Hashable {
    /// The reference (`index.json` name, parsed).
    public var reference: ImageReference
    /// The manifest or index digest it points to.
    public var digest: Digest
    /// Its media type.
    public var mediaType: MediaType
    /// The image ID (config digest) of an image manifest; nil for an index.
    public var imageID: Digest?
    /// For an index: the children the bundle (or store) holds, with their image IDs.
    public var platforms: [PlatformManifest]
    /// True when this store's tag was observed after the bundle's and so keeps its digest.
    public var keepsLocalTag: Bool

    /// Creates an imported reference.
    public init(
        reference: ImageReference, digest: Digest, mediaType: MediaType, imageID: Digest?,
        platforms: [PlatformManifest] = [], keepsLocalTag: Bool = false
    ) {
        self.reference = reference
        self.digest = digest
        self.mediaType = mediaType
        self.imageID = imageID
        self.platforms = platforms
        self.keepsLocalTag = keepsLocalTag
    }
}

/// Everything ``ReferenceStore/recordImport(_:)`` writes in its one transaction.
public struct BundleImportRequest: Sendable {
    /// The bundle ID.
    public var bundleID: Digest
    /// When the bundle was exported.
    public var createdAt: Date
    /// The exporting store's ID.
    public var sourceStore: String
    /// The bundle's `--since` bundle.
    public var sinceBundle: Digest?
    /// The bundle's `--since` run.
    public var sinceRun: RunID?
    /// The ferry version that exported it.
    public var exportToolVersion: String
    /// The ferry version importing it (recorded on the import run).
    public var toolVersion: String
    /// The files it was read from.
    public var files: [String]
    /// Its references, in `index.json` order.
    public var references: [ImportedReference]
    /// The exporting store's history of those references: a ``LedgerHistory`` in memory, or a source that reads
    /// it again for each pass.
    public var history: any LedgerHistorySource
    /// How many blobs it carried.
    public var blobCount: Int
    /// How many of those were new to this store.
    public var blobsAdded: Int
    /// Bytes of the blobs that were new to this store.
    public var bytesAdded: Int64
    /// When the import started.
    public var importedAt: Date

    /// Creates an import request.
    public init(
        bundleID: Digest, createdAt: Date, sourceStore: String, sinceBundle: Digest? = nil, sinceRun: RunID? = nil,
        exportToolVersion: String, toolVersion: String, files: [String], references: [ImportedReference],
        history: any LedgerHistorySource, blobCount: Int, blobsAdded: Int, bytesAdded: Int64,
        importedAt: Date = Date()
    ) {
        self.bundleID = bundleID
        self.createdAt = createdAt
        self.sourceStore = sourceStore
        self.sinceBundle = sinceBundle
        self.sinceRun = sinceRun
        self.exportToolVersion = exportToolVersion
        self.toolVersion = toolVersion
        self.files = files
        self.references = references
        self.history = history
        self.blobCount = blobCount
        self.blobsAdded = blobsAdded
        self.bytesAdded = bytesAdded
        self.importedAt = importedAt
    }
}

/// What ``ReferenceStore/recordImport(_:)`` decided, per reference.
public struct BundleImportResult: Sendable, Hashable {
    /// One reference's outcome.
    public struct Row: Sendable, Hashable {
        /// The reference text.
        public var reference: String
        /// `pulled` (new here), `up-to-date`, `updated` (the tag moved) or `drift`.
        public var outcome: Outcome
        /// The tag's digest before the import, for a tag reference already known.
        public var previousDigest: Digest?
    }

    /// The `import` run recording it.
    public var runID: RunID
    /// One row per reference, in request order.
    public var rows: [Row]
    /// Drift events the import raised (a digest this store maps to another image ID).
    public var driftEvents: [DriftEventRecord]
}
