import FerrySystem
import Foundation
import LayoutStore
import Ledger
import Logging
import OCIModel

/// Applies a bundle to a store: verify everything, then make it visible.
///
/// 1. ``LocatedBundle/locate(_:)`` finds the sidecar and parts and checks their sizes (before the store is
///    touched).
/// 2. A bundle ID the reference store has imported before is a no-op.
/// 3. One pass over the parts: each part's SHA-256 is computed as it is read and compared when it ends; the tar is
///    parsed as it streams (only `ferry-bundle.json`, `oci-layout`, `index.json`, `blobs/` directories and
///    `blobs/<alg>/<hex>` regular files; no absolute paths, `..`, links, devices or FIFOs); every blob is hashed
///    into `STORE/tmp/import-<id>/` and must match its name and the description. A blob already in the store is
///    only hashed.
/// 4. The embedded description must equal the sidecar's, `index.json` must list exactly its references, and
///    every blob they need must be in the bundle or already in the store.
/// 5. Only then: blobs are flushed and renamed into `blobs/`, `index.json` is rewritten once, and the reference
///    store records everything in one transaction.
///
/// Any failure before step 5 removes the staging directory (and `tmp/` when the import created it), so the
/// store is byte for byte as before. When a step-3 error has a damaged part as its cause (a flipped bit turns
/// into a bad header or a digest mismatch), the rest is read to find it and the part is named instead.
///
/// The caller holds the store's run lock.
public struct BundleImporter: Sendable {
    /// The store imported into.
    public let store: ContentStore
    /// How to reach its reference store.
    public let ledger: LedgerAccess
    /// Debug detail goes here.
    public let logger: Logger

    /// Largest `ferry-bundle.json` or `index.json` accepted.
    public static let documentLimit = 256 << 20

    /// Creates an importer.
    public init(store: ContentStore, ledger: LedgerAccess, logger: Logger) {
        self.store = store
        self.ledger = ledger
        self.logger = logger
    }

    /// Imports the located bundle.
    public func importBundle(
        _ bundle: LocatedBundle, toolVersion: String, now: Date = Date()
    ) async throws(BundleError)
        -> ImportSummary
    {
        let description = bundle.description
        let previous: BundleImportRecord?
        do { previous = try ledger.previousImport(description.id) } catch { throw .ledger("\(error)") }
        if let previous {
            // An import killed after its record leaves its staging directory behind; the rerun clears it.
            try? FileSystem.removeTree(store.path("tmp/import-\(description.id.hex.prefix(16))"))
            return ImportSummary(
                id: description.id, alreadyImported: previous, references: description.references.count,
                blobs: description.blobs.count, blobsAdded: 0, bytesAdded: 0, partsChecked: 0, bytesRead: 0,
                runID: nil, rows: [], driftEvents: [])
        }
        let tmp = store.path("tmp")
        let createdTmp = !FileSystem.exists(tmp)
        let staging = store.path("tmp/import-\(description.id.hex.prefix(16))")
        do {
            try? FileSystem.removeTree(staging)
            try FileSystem.createDirectory(staging)
        } catch {
            throw .io(error)
        }
        var opened: ReferenceStore?
        defer { try? opened?.close() }
        do throws(BundleError) {
            let store = self.store
            let verified = try Self.verify(bundle, staging: staging) { digest, _ in !store.hasBlob(digest) }
            let references = try resolveReferences(description, staged: verified.staged, staging: staging)
            // Opened only now: opening a WAL database for writing writes to it, and a refused bundle must leave
            // ferry.db exactly as it was.
            let ledger: ReferenceStore
            do { ledger = try self.ledger.open() } catch { throw BundleError.ledger("\(error)") }
            opened = ledger
            if let previous = try await ledgerCall({ try await ledger.bundleImport(description.id) }) {
                // Imported by another process between the peek and now (it held the lock meanwhile).
                try? FileSystem.removeTree(staging)
                if createdTmp { try? FileSystem.removeTree(tmp) }
                return ImportSummary(
                    id: description.id, alreadyImported: previous, references: description.references.count,
                    blobs: description.blobs.count, blobsAdded: 0, bytesAdded: 0, partsChecked: 0, bytesRead: 0,
                    runID: nil, rows: [], driftEvents: [])
            }
            let decided = try await decideTags(references, description: description, ledger: ledger)
            // Blobs, then the reference store, then index.json: the reference store is the record, and index.json,
            // derived from it, may lag behind it after a crash but never runs ahead (see RecordingPolicy).
            try await ledgerCall { try await ledger.setIndexStamp(nil) }
            try commitBlobs(verified.staged, staging: staging)
            let request = BundleImportRequest(
                bundleID: description.id, createdAt: description.createdAt, sourceStore: description.sourceStore.id,
                sinceBundle: description.since?.bundle, sinceRun: description.since?.run,
                exportToolVersion: description.toolVersion, toolVersion: toolVersion,
                files: [bundle.sidecarPath] + bundle.partPaths, references: decided, history: description.history,
                blobCount: description.blobs.count, blobsAdded: verified.staged.count,
                bytesAdded: verified.staged.values.reduce(0, +), importedAt: now)
            let result = try await ledgerCall { try await ledger.recordImport(request) }
            FailPoint.hit(FailPoint.afterImportRecord)
            try nameReferences(description.references, decided: decided)
            let stamp = store.indexStamp
            try await ledgerCall { try await ledger.setIndexStamp(stamp) }
            try? ledger.close()
            opened = nil
            try? FileSystem.removeTree(staging)
            if createdTmp { try? FileSystem.removeTree(tmp) }
            return ImportSummary(
                id: description.id, alreadyImported: nil, references: description.references.count,
                blobs: description.blobs.count, blobsAdded: verified.staged.count,
                bytesAdded: verified.staged.values.reduce(0, +), partsChecked: verified.partsChecked,
                bytesRead: verified.bytesRead, runID: result.runID, rows: result.rows, driftEvents: result.driftEvents)
        } catch {
            try? FileSystem.removeTree(staging)
            if createdTmp { try? FileSystem.removeTree(tmp) }
            throw error
        }
    }

    // MARK: Streaming verification

    struct Verified {
        /// Blobs written to staging (not yet in the store), with their sizes.
        var staged: [Digest: Int64]
        /// Every blob the archive holds.
        var inBundle: Set<Digest>
        var partsChecked: Int
        var bytesRead: Int64
    }

    /// Reads the whole bundle once; `stage` decides, per blob digest and size, whether its bytes are kept in
    /// `staging` (every blob is hashed either way).
    static func verify(
        _ bundle: LocatedBundle, staging: String, stage: (Digest, Int64) -> Bool
    ) throws(BundleError) -> Verified {
        let reader = PartStreamReader(parts: Array(zip(bundle.partPaths, bundle.sidecar.parts)))
        do {
            let (staged, inBundle) = try readArchive(
                reader, description: bundle.description, staging: staging, stage: stage)
            return Verified(
                staged: staged, inBundle: inBundle, partsChecked: reader.verifiedParts, bytesRead: reader.bytesRead)
        } catch {
            switch error {
            case .partCorrupt, .partTruncated, .partTooLong, .io: throw error
            default:
                // The damage may be a symptom: a flipped bit in a part looks like a bad header or blob. Reading
                // the rest finds the part whose checksum fails, which is the real cause.
                do { try reader.verifyRemaining() } catch {
                    if case .partCorrupt = error { throw error }
                    if case .partTooLong = error { throw error }
                    if case .partTruncated = error { throw error }
                }
                throw error
            }
        }
    }

    private static func readArchive(
        _ reader: PartStreamReader, description: BundleDescription, staging: String, stage: (Digest, Int64) -> Bool
    ) throws(BundleError) -> (staged: [Digest: Int64], inBundle: Set<Digest>) {
        var tar = TarReader(source: reader)
        let listed = Dictionary(description.blobs.map { ($0.digest, $0.size) }, uniquingKeysWith: { first, _ in first })
        var seen = Set<String>()
        var staged: [Digest: Int64] = [:]
        var blobsSeen = Set<Digest>()
        var embedded = false
        var index: [UInt8]?
        var layout: [UInt8]?
        while let entry = try tar.nextEntry() {
            try Self.checkSafe(entry)
            guard seen.insert(entry.path).inserted else { throw .duplicateEntry(entry: entry.path) }
            switch (entry.path, entry.type) {
            case ("ferry-bundle.json", .regular):
                // Checked at once: the parts of another bundle would otherwise fail later, on a blob.
                try Self.checkEmbedded(
                    try tar.readSmallContent(limit: Self.documentLimit, entry: entry.path), against: description)
                embedded = true
            case ("index.json", .regular):
                index = try tar.readSmallContent(limit: Self.documentLimit, entry: entry.path)
            case ("oci-layout", .regular):
                layout = try tar.readSmallContent(limit: 4096, entry: entry.path)
            case (_, .directory) where Self.isBlobDirectory(entry.path):
                continue
            case (_, .regular):
                guard let digest = Self.blobDigest(entry.path) else { throw .unexpectedEntry(entry: entry.path) }
                guard let expected = listed[digest] else { throw .blobNotListed(entry: entry.path) }
                guard entry.size == expected else {
                    throw .blobSizeMismatch(entry: entry.path, size: entry.size, expected: expected)
                }
                blobsSeen.insert(digest)
                let keep = stage(digest, entry.size)
                try receiveBlob(&tar, entry: entry, digest: digest, staging: keep ? staging : nil)
                if keep { staged[digest] = entry.size }
            default:
                throw .unexpectedEntry(entry: entry.path)
            }
        }
        // The end-of-archive marker was read; the last part must still end exactly here and check out.
        try reader.verifyRemaining()

        guard embedded else { throw .missingEntry(entry: "ferry-bundle.json") }
        guard let layout else { throw .missingEntry(entry: "oci-layout") }
        guard let index else { throw .missingEntry(entry: "index.json") }
        try Self.checkLayout(layout)
        try Self.checkIndex(index, against: description)
        for blob in description.blobs where !blobsSeen.contains(blob.digest) {
            throw .blobMissingFromBundle(digest: blob.digest)
        }
        return (staged, blobsSeen)
    }

    /// Streams one blob: hashed always, written to `staging` when one is given.
    private static func receiveBlob(
        _ tar: inout TarReader, entry: TarEntryHeader, digest: Digest, staging: String?
    ) throws(BundleError) {
        var hasher = DigestHasher(digest.algorithm)
        let file: WritableFile?
        if let staging {
            let path = Self.stagingPath(digest, in: staging)
            do { file = try WritableFile(path: path, mode: 0o644, truncate: true) } catch { throw .io(error) }
        } else {
            file = nil
        }
        defer { file?.close() }
        // Writeback starts as the blob streams in, so the fsync before commit waits only for the tail.
        var written: Int64 = 0
        var writebackStarted: Int64 = 0
        try tar.readContent { chunk throws(BundleError) in
            hasher.update(chunk)
            guard let file else { return }
            do throws(FileSystemError) { try file.write(chunk) } catch { throw .io(error) }
            written += Int64(chunk.count)
            if written - writebackStarted >= 8 << 20 {
                file.startWriteback(offset: writebackStarted, length: written - writebackStarted)
                writebackStarted = written
            }
        }
        if written > writebackStarted { file?.startWriteback(offset: writebackStarted, length: written - writebackStarted) }
        let actual = hasher.finalize()
        guard actual == digest else { throw .blobDigestMismatch(entry: entry.path, actual: actual) }
    }

    // MARK: Entry rules

    static func checkSafe(_ entry: TarEntryHeader) throws(BundleError) {
        if entry.path.hasPrefix("/") { throw .unsafePath(entry: entry.path, reason: "absolute paths are refused") }
        if entry.path.split(separator: "/", omittingEmptySubsequences: false).contains("..") {
            throw .unsafePath(entry: entry.path, reason: "\"..\" components are refused")
        }
        switch entry.type {
        case .regular, .directory: return
        case .symbolicLink, .hardLink, .characterDevice, .blockDevice, .fifo, .other:
            throw .forbiddenEntryType(entry: entry.path, type: entry.type)
        }
    }

    static func isBlobDirectory(_ path: String) -> Bool {
        if path == "blobs/" || path == "blobs" { return true }
        let parts = path.split(separator: "/", omittingEmptySubsequences: true)
        return parts.count == 2 && parts[0] == "blobs" && Digest.Algorithm(rawValue: String(parts[1])) != nil
            && (path.hasSuffix("/") || path.count == parts.joined(separator: "/").count)
    }

    /// `blobs/<alg>/<hex>` with a valid digest, or nil.
    static func blobDigest(_ path: String) -> Digest? {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "blobs", let algorithm = Digest.Algorithm(rawValue: String(parts[1]))
        else { return nil }
        return try? Digest(algorithm: algorithm, hex: String(parts[2]))
    }

    static func stagingPath(_ digest: Digest, in staging: String) -> String {
        staging + "/" + digest.algorithm.rawValue + "-" + digest.hex
    }

    /// A staged manifest's bytes.
    static func readStaged(_ digest: Digest, in staging: String) throws(BundleError) -> [UInt8] {
        do throws(FileSystemError) {
            return try FileSystem.readFile(stagingPath(digest, in: staging), limit: documentLimit)
        } catch {
            throw .io(error)
        }
    }

    /// The `ferry-bundle.json` inside the tar must say what the sidecar says.
    static func checkEmbedded(_ bytes: [UInt8], against description: BundleDescription) throws(BundleError) {
        let inside: BundleDescription
        do {
            inside = try BundleJSON.decoder().decode(BundleDescription.self, from: Data(bytes))
        } catch {
            throw .invalidDocument(entry: "ferry-bundle.json", reason: BundleJSON.reason(error))
        }
        guard inside == description else {
            throw .descriptionMismatch(
                reason: inside.id == description.id
                    ? "ferry-bundle.json inside the bundle differs from the sidecar"
                    : "the sidecar describes bundle \(description.id), the parts hold bundle \(inside.id)")
        }
    }

    static func checkLayout(_ bytes: [UInt8]) throws(BundleError) {
        struct Layout: Decodable { var imageLayoutVersion: String }
        guard let layout = try? JSONDecoder().decode(Layout.self, from: Data(bytes)) else {
            throw .invalidDocument(entry: "oci-layout", reason: "not an OCI layout marker")
        }
        guard layout.imageLayoutVersion == "1.0.0" else {
            throw .invalidDocument(entry: "oci-layout", reason: "image layout version \(layout.imageLayoutVersion)")
        }
    }

    /// `index.json` must name exactly the description's references, in order.
    static func checkIndex(_ bytes: [UInt8], against description: BundleDescription) throws(BundleError) {
        struct Index: Decodable { var manifests: [Descriptor] }
        let index: Index
        do { index = try JSONDecoder().decode(Index.self, from: Data(bytes)) } catch {
            throw .invalidDocument(entry: "index.json", reason: BundleJSON.reason(error))
        }
        let listed = index.manifests.map { entry in
            BundleReference(
                name: entry.annotations?[Descriptor.refNameAnnotation] ?? "", digest: entry.digest,
                mediaType: entry.mediaType, size: entry.size)
        }
        guard listed == description.references else {
            let names = Set(listed.map(\.name)).symmetricDifference(description.references.map(\.name)).sorted()
            throw .descriptionMismatch(
                reason: "index.json and ferry-bundle.json list different references"
                    + (names.isEmpty ? " (digests or order differ)" : ": " + names.joined(separator: ", ")))
        }
    }

    // MARK: References

    /// Walks every reference over the staged blobs and the store: each needed blob must be in one of them.
    /// Returns the image IDs and platforms the reference store records.
    private func resolveReferences(
        _ description: BundleDescription, staged: [Digest: Int64], staging: String
    ) throws(BundleError) -> [ImportedReference] {
        let store = self.store
        let wanted = Set(description.blobs.map(\.digest)).union(description.excludedBlobs.map(\.digest))
        var graph = ManifestGraph()
        var references: [ImportedReference] = []
        for reference in description.references {
            let descriptor = Descriptor(mediaType: reference.mediaType, digest: reference.digest, size: reference.size)
            let resolved = try graph.add(
                descriptor, reference: reference.name,
                has: { staged[$0] != nil || store.hasBlob($0) },
                read: { digest throws(BundleError) in
                    if staged[digest] != nil { return try Self.readStaged(digest, in: staging) }
                    return try BundleExporter.readManifest(digest, store: store)
                },
                wantsChild: { wanted.contains($0) },
                missing: { .missingReferencedBlob(reference: $0, digest: $1) })
            guard let parsed = try? ImageReference(parsing: reference.name) else { continue }
            references.append(
                ImportedReference(
                    reference: parsed, digest: reference.digest, mediaType: reference.mediaType,
                    imageID: resolved.imageID,
                    platforms: resolved.children.map {
                        PlatformManifest(
                            platform: $0.platform, digest: $0.digest, mediaType: $0.mediaType, imageID: $0.imageID)
                    }))
        }
        return references
    }

    /// Marks the tags this store observed after the exporting store last did: those keep their digest, here and
    /// in `index.json` (an older bundle imported late never moves a tag back).
    private func decideTags(
        _ references: [ImportedReference], description: BundleDescription, ledger: ReferenceStore
    ) async throws(BundleError) -> [ImportedReference] {
        var decided: [ImportedReference] = []
        for var reference in references {
            if reference.reference.digest == nil {
                let tag = reference.reference.tag ?? ImageReference.defaultTag
                let local = try await ledgerCall {
                    try await ledger.tag(repository: reference.reference.repository, tag: tag)
                }
                let theirs =
                    description.history.repositories.first { $0.repository == reference.reference.repository.name }?
                    .tags.first { $0.tag == tag }?.lastSeen ?? description.createdAt
                if let local, local.manifestDigest != reference.digest, local.lastSeen > theirs {
                    reference.keepsLocalTag = true
                }
            }
            decided.append(reference)
        }
        return decided
    }

    // MARK: Commit

    private func commitBlobs(_ staged: [Digest: Int64], staging: String) throws(BundleError) {
        var directories = Set<String>()
        for digest in staged.keys.sorted() {
            let from = Self.stagingPath(digest, in: staging)
            let to = store.blobPath(digest)
            do {
                try FileSystem.createDirectory(store.path("blobs/\(digest.algorithm.rawValue)"))
                try FileSystem.sync(from)
                try FileSystem.rename(from, to: to)
            } catch {
                throw .io(error)
            }
            directories.insert(store.path("blobs/\(digest.algorithm.rawValue)"))
        }
        for directory in directories.sorted() {
            do { try FileSystem.sync(directory) } catch { throw .io(error) }
        }
    }

    private func nameReferences(_ references: [BundleReference], decided: [ImportedReference]) throws(BundleError) {
        let kept = Set(decided.filter(\.keepsLocalTag).map { $0.reference.string })
        let entries = references.filter { reference in
            !kept.contains((try? ImageReference(parsing: reference.name))?.string ?? reference.name)
        }.map { reference in
            (
                name: reference.name,
                descriptor: Descriptor(
                    mediaType: reference.mediaType, digest: reference.digest, size: reference.size)
            )
        }
        do { try store.setReferences(entries) } catch { throw .store(error) }
    }

    private func ledgerCall<T: Sendable>(_ body: () async throws -> T) async throws(BundleError) -> T {
        do { return try await body() } catch { throw .ledger("\(error)") }
    }
}

/// How the importer reaches the reference store: a read-only look for an earlier import of the bundle, and a
/// writable open once the bundle is verified.
public struct LedgerAccess: Sendable {
    /// The earlier import of a bundle, without writing anything.
    public var previousImport: @Sendable (Digest) throws -> BundleImportRecord?
    /// Opens the reference store for writing; the importer closes it.
    public var open: @Sendable () throws -> ReferenceStore

    /// Creates an access from two functions.
    public init(
        previousImport: @escaping @Sendable (Digest) throws -> BundleImportRecord?,
        open: @escaping @Sendable () throws -> ReferenceStore
    ) {
        self.previousImport = previousImport
        self.open = open
    }

    /// The reference store file at `path` (`STORE/ferry.db`).
    public static func file(_ path: String) -> LedgerAccess {
        LedgerAccess(
            previousImport: { try ReferenceStore.peekImport(of: $0, at: path) },
            open: { try ReferenceStore.open(at: path) })
    }
}

/// What ``BundleImporter/importBundle(_:toolVersion:now:)`` did.
public struct ImportSummary: Sendable, Hashable {
    /// The bundle ID.
    public var id: Digest
    /// The earlier import, when this bundle had been imported before (then nothing was done).
    public var alreadyImported: BundleImportRecord?
    /// References in the bundle.
    public var references: Int
    /// Blobs in the bundle.
    public var blobs: Int
    /// Blobs that were new to the store.
    public var blobsAdded: Int
    /// Bytes of those blobs.
    public var bytesAdded: Int64
    /// Parts read and found intact.
    public var partsChecked: Int
    /// Bytes read from the parts.
    public var bytesRead: Int64
    /// The `import` run recorded in the reference store.
    public var runID: RunID?
    /// Per reference: pulled, up-to-date, updated or drift.
    public var rows: [BundleImportResult.Row]
    /// Drift the import raised.
    public var driftEvents: [DriftEventRecord]
}
