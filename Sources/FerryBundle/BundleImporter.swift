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
            let prepared = try prepare(bundle, staging: staging)
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
            let decided = try await decideTags(prepared.references, bundle: bundle, ledger: ledger)
            // Blobs, then the reference store, then index.json: the reference store is the record, and index.json,
            // derived from it, may lag behind it after a crash but never runs ahead (see RecordingPolicy).
            try await ledgerCall { try await ledger.setIndexStamp(nil) }
            try commitBlobs(prepared.staged, staging: staging)
            let request = BundleImportRequest(
                bundleID: description.id, createdAt: description.createdAt, sourceStore: description.sourceStore.id,
                sinceBundle: description.since?.bundle, sinceRun: description.since?.run,
                exportToolVersion: description.toolVersion, toolVersion: toolVersion,
                files: [bundle.sidecarPath] + bundle.partPaths, references: decided,
                history: prepared.embedded.history, blobCount: description.blobs.count,
                blobsAdded: prepared.staged.count, bytesAdded: prepared.stagedBytes, importedAt: now)
            let result = try await ledgerCall { try await ledger.recordImport(request) }
            // The referrers among the references (signatures, SBOMs, attestations), known again on this side.
            let referrers = BundleReferrers.find(description.references, store: store)
            try await ledgerCall { try await ledger.recordImportedReferrers(referrers, runID: result.runID) }
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
                blobs: description.blobs.count, blobsAdded: prepared.staged.count, bytesAdded: prepared.stagedBytes,
                partsChecked: prepared.partsChecked, bytesRead: prepared.bytesRead, runID: result.runID,
                rows: result.rows, driftEvents: result.driftEvents, referrers: referrers.map(\.referrer))
        } catch {
            try? FileSystem.removeTree(staging)
            if createdTmp { try? FileSystem.removeTree(tmp) }
            throw error
        }
    }

    /// A verified bundle, ready to commit: what the import keeps of the verification.
    struct Prepared {
        /// The blobs written to staging (not in the store yet), in description order.
        var staged: [Digest]
        /// Their bytes.
        var stagedBytes: Int64
        /// The references with the image IDs the walk found.
        var references: [ImportedReference]
        var embedded: EmbeddedDescription
        var partsChecked: Int
        var bytesRead: Int64
    }

    /// Steps 3 and 4: verifies the whole bundle into `staging` and walks every reference.
    private func prepare(_ bundle: LocatedBundle, staging: String) throws(BundleError) -> Prepared {
        let store = self.store
        let verified = try Self.verify(bundle, staging: staging) { digest, _ in !store.hasBlob(digest) }
        let references = try resolveReferences(bundle.description, verified: verified, staging: staging)
        var staged: [Digest] = []
        var bytes: Int64 = 0
        for (position, blob) in bundle.description.blobs.enumerated() where verified.staged[position] {
            staged.append(blob.digest)
            bytes += blob.size
        }
        return Prepared(
            staged: staged, stagedBytes: bytes, references: references, embedded: verified.embedded,
            partsChecked: verified.partsChecked, bytesRead: verified.bytesRead)
    }

    // MARK: Streaming verification

    /// What reading the archive found. Per listed blob flags rather than sets of digests: at 60,000 blobs every
    /// set of them is megabytes, and the description's digests are the ones kept.
    struct Verified {
        /// The position of each listed blob in the description (the first, should it be listed twice).
        var positions: [Digest: Int]
        /// Per position: written to staging (not yet in the store).
        var staged: [Bool]
        /// Per position: in the archive.
        var present: [Bool]
        /// The description inside the tar, where the import reads the history from.
        var embedded: EmbeddedDescription
        var partsChecked: Int
        var bytesRead: Int64

        /// Whether `digest` was written to staging.
        func isStaged(_ digest: Digest) -> Bool { positions[digest].map { staged[$0] } ?? false }
        /// Whether the archive holds `digest`.
        func isPresent(_ digest: Digest) -> Bool { positions[digest].map { present[$0] } ?? false }
    }

    /// The `ferry-bundle.json` of the tar, checked against the sidecar and kept in staging (or memory, when small):
    /// the part checksums vouch for it, so the history is read from it.
    struct EmbeddedDescription {
        var document: SpooledDocument

        /// Its history, read again for each pass of the import.
        var history: DescriptionHistory {
            DescriptionHistory(origin: document.bytesInMemory.map { .memory($0) } ?? .file(document.path))
        }
    }

    /// Reads the whole bundle once; `stage` decides, per blob digest and size, whether its bytes are kept in
    /// `staging` (every blob is hashed either way).
    static func verify(
        _ bundle: LocatedBundle, staging: String, stage: (Digest, Int64) -> Bool
    ) throws(BundleError) -> Verified {
        let reader = PartStreamReader(parts: Array(zip(bundle.partPaths, bundle.parts)))
        do {
            var verified = try readArchive(reader, bundle: bundle, staging: staging, stage: stage)
            verified.partsChecked = reader.verifiedParts
            verified.bytesRead = reader.bytesRead
            return verified
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
        _ reader: PartStreamReader, bundle: LocatedBundle, staging: String, stage: (Digest, Int64) -> Bool
    ) throws(BundleError) -> Verified {
        let blobs = bundle.description.blobs
        var tar = TarReader(source: reader)
        var positions: [Digest: Int] = [:]
        positions.reserveCapacity(blobs.count)
        for (position, blob) in blobs.enumerated() where positions[blob.digest] == nil {
            positions[blob.digest] = position
        }
        var staged = [Bool](repeating: false, count: blobs.count)
        var present = [Bool](repeating: false, count: blobs.count)
        // Blob entries are told apart by their flags; the few other paths are remembered by name.
        var otherPaths = Set<String>()
        var embedded: SpooledDocument?
        var index: SpooledDocument?
        var layout: [UInt8]?
        while let entry = try tar.nextEntry() {
            try Self.checkSafe(entry)
            if entry.type == .regular, let named = Self.blobDigest(entry.path), let position = positions[named] {
                guard !present[position] else { throw .duplicateEntry(entry: entry.path) }
                let blob = blobs[position]
                guard entry.size == blob.size else {
                    throw .blobSizeMismatch(entry: entry.path, size: entry.size, expected: blob.size)
                }
                present[position] = true
                let keep = stage(blob.digest, entry.size)
                try receiveBlob(&tar, entry: entry, digest: blob.digest, staging: keep ? staging : nil)
                staged[position] = keep
                continue
            }
            guard otherPaths.insert(entry.path).inserted else { throw .duplicateEntry(entry: entry.path) }
            switch (entry.path, entry.type) {
            case ("ferry-bundle.json", .regular):
                let document = try Self.spool(&tar, entry: entry, to: staging + "/ferry-bundle.json")
                // Checked at once: the parts of another bundle would otherwise fail later, on a blob.
                try Self.checkEmbedded(document, against: bundle)
                embedded = document
            case ("index.json", .regular):
                index = try Self.spool(&tar, entry: entry, to: staging + "/index.json")
            case ("oci-layout", .regular):
                layout = try tar.readSmallContent(limit: 4096, entry: entry.path)
            case (_, .directory) where Self.isBlobDirectory(entry.path):
                continue
            case (_, .regular):
                guard Self.blobDigest(entry.path) != nil else { throw .unexpectedEntry(entry: entry.path) }
                throw .blobNotListed(entry: entry.path)
            default:
                throw .unexpectedEntry(entry: entry.path)
            }
        }
        // The end-of-archive marker was read; the last part must still end exactly here and check out.
        try reader.verifyRemaining()

        guard let embedded else { throw .missingEntry(entry: "ferry-bundle.json") }
        guard let layout else { throw .missingEntry(entry: "oci-layout") }
        guard let index else { throw .missingEntry(entry: "index.json") }
        try Self.checkLayout(layout)
        try Self.checkIndex(index, against: bundle.description)
        index.remove()
        for blob in blobs where !(positions[blob.digest].map { present[$0] } ?? false) {
            throw .blobMissingFromBundle(digest: blob.digest)
        }
        return Verified(
            positions: positions, staged: staged, present: present, embedded: EmbeddedDescription(document: embedded),
            partsChecked: 0, bytesRead: 0)
    }

    /// Reads a document entry into `path` (or memory, when small), refusing one over ``documentLimit``.
    private static func spool(
        _ tar: inout TarReader, entry: TarEntryHeader, to path: String
    ) throws(BundleError) -> SpooledDocument {
        guard entry.size <= Int64(documentLimit) else { throw .entryTooLarge(entry: entry.path, limit: documentLimit) }
        let document = SpooledDocument(path: path)
        try tar.readContent { chunk throws(BundleError) in try document.write(chunk) }
        try document.finish()
        return document
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

    // MARK: References

    /// Walks every reference over the staged blobs and the store: each needed blob must be in one of them.
    /// Returns the image IDs and platforms the reference store records.
    private func resolveReferences(
        _ description: BundleOutline, verified: Verified, staging: String
    ) throws(BundleError) -> [ImportedReference] {
        let store = self.store
        // Listed blobs are found through the verification's positions; only the excluded ones need a set.
        let excluded = Set(description.excludedBlobs.map(\.digest))
        var graph = ManifestGraph(collectingBlobs: false)
        var references: [ImportedReference] = []
        for reference in description.references {
            let descriptor = Descriptor(mediaType: reference.mediaType, digest: reference.digest, size: reference.size)
            let resolved = try graph.add(
                descriptor, reference: reference.name,
                has: { verified.isStaged($0) || store.hasBlob($0) },
                read: { digest throws(BundleError) in
                    if verified.isStaged(digest) { return try Self.readStaged(digest, in: staging) }
                    return try BundleExporter.readManifest(digest, store: store)
                },
                wantsChild: { verified.positions[$0] != nil || excluded.contains($0) },
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
        _ references: [ImportedReference], bundle: LocatedBundle, ledger: ReferenceStore
    ) async throws(BundleError) -> [ImportedReference] {
        let tagged = references.indices.filter { references[$0].reference.digest == nil }
        let keys = tagged.map { position in
            let reference = references[position].reference
            return (repository: reference.repository, tag: reference.tag ?? ImageReference.defaultTag)
        }
        let locals = try await ledgerCall { try await ledger.tags(keys) }
        var decided = references
        for (position, (key, local)) in zip(tagged, zip(keys, locals)) {
            let theirs =
                bundle.tagsLastSeen[BundleTagKey(repository: key.repository.name, tag: key.tag)]
                ?? bundle.description.createdAt
            if let local, local.manifestDigest != decided[position].digest, local.lastSeen > theirs {
                decided[position].keepsLocalTag = true
            }
        }
        return decided
    }

    // MARK: Commit

    private func commitBlobs(_ staged: [Digest], staging: String) throws(BundleError) {
        var directories = Set<String>()
        // Every staged blob reaches the disk before any becomes visible, in one flush of the file system: an fsync
        // per blob flushes the device cache once per blob, minutes for the 60,000 blobs of 20,000 small images.
        if !staged.isEmpty {
            do { try FileSystem.syncFileSystem(containing: staging) } catch { throw .io(error) }
        }
        for digest in staged.sorted() {
            let from = Self.stagingPath(digest, in: staging)
            let to = store.blobPath(digest)
            do {
                try FileSystem.createDirectory(store.path("blobs/\(digest.algorithm.rawValue)"))
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
    /// The referrers (signatures, SBOMs, attestations) among the references.
    public var referrers: [Referrer] = []
}
