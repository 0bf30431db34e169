import FerrySystem
import Foundation
import LayoutStore
import Ledger
import Logging
import OCIModel

#if canImport(Glibc)
    import Glibc
#endif

/// Writes the store's references into a bundle: one uncompressed tar (an OCI image layout plus
/// `ferry-bundle.json`), optionally cut into parts, and the sidecar `FILE.ferry-bundle.json`.
///
/// Stream order: `ferry-bundle.json`, `oci-layout`, `index.json` (the exported references with their
/// annotations), the `blobs/` directories, then every blob once (manifests and indexes first, then configs and
/// layers). Each blob is hashed while it is copied, so a blob damaged in the store stops the export instead of
/// travelling. Files are written in a staging directory beside `FILE` and appear under their final names only
/// when all are complete (see ``ExportStaging``: an export killed mid-way leaves only what the next one removes);
/// the export is recorded in the reference store after that, so `--since` never counts a bundle that was not
/// written.
///
/// The caller holds the store's run lock.
public struct BundleExporter: Sendable {
    /// The store exported from.
    public let store: ContentStore
    /// Its reference store.
    public let ledger: ReferenceStore
    /// Debug detail goes here.
    public let logger: Logger

    /// Creates an exporter.
    public init(store: ContentStore, ledger: ReferenceStore, logger: Logger) {
        self.store = store
        self.ledger = ledger
        self.logger = logger
    }

    /// What to export and where.
    public struct Options: Sendable, Hashable {
        /// `--to FILE`.
        public var file: String
        /// `--since BUNDLE|RUN` as given: a run ID, a bundle ID or unique prefix of one, or a bundle's file.
        public var since: String?
        /// `--split-size`, in bytes.
        public var splitSize: Int64?
        /// The running ferry's version.
        public var toolVersion: String
        /// The creation time written into the bundle.
        public var now: Date

        /// Creates options.
        public init(
            file: String, since: String? = nil, splitSize: Int64? = nil, toolVersion: String, now: Date = Date()
        ) {
            self.file = file
            self.since = since
            self.splitSize = splitSize
            self.toolVersion = toolVersion
            self.now = now
        }
    }

    /// What a `--since` argument stands for.
    public struct Base: Sendable, Hashable {
        /// The description's `since`.
        public var description: BundleDescription.Base
        /// Every blob the importing side already has, with the bundle that carried it (nil: covered by the run).
        public var covered: [Digest: Digest?]
    }

    /// Resolves `--since`: a run ID of this store, a bundle ID (or a unique prefix of one) exported from it, or
    /// the path of any file of such a bundle.
    ///
    /// The rule: a blob is left out when the importing side has it already, provided it imported the `--since`
    /// bundle and every bundle that one was based on; that is, when one of those bundles carried it, or when it
    /// is reachable from a manifest the reference store had recorded by the end of the run at the chain's root
    /// (`--since RUN` itself is such a root).
    public func resolveBase(_ text: String) async throws(BundleError) -> Base {
        var chain: BundleExportChain
        var given: Digest?
        if let run = RunID(rawValue: text) {
            chain = BundleExportChain(bundles: [], run: run)
        } else {
            let id = try await bundleID(named: text)
            given = id
            guard let found = try await ledgerCall({ try await ledger.exportChain(from: id) }) else {
                throw .unknownSince(text: text)
            }
            chain = found
        }
        var covered: [Digest: Digest?] = [:]
        if let run = chain.run {
            guard let manifests = try await ledgerCall({ try await ledger.manifestsRecorded(through: run) }) else {
                throw .unknownSince(text: text)
            }
            for digest in manifests.sorted() {
                for blob in try reachable(from: digest) where covered[blob] == nil { covered[blob] = .some(nil) }
            }
        }
        let carried = try await ledgerCall { try await ledger.blobsCarried(by: chain.bundles) }
        for (blob, bundle) in carried { covered[blob] = bundle }
        return Base(
            description: BundleDescription.Base(bundle: given, chain: chain.bundles, run: chain.run), covered: covered)
    }

    private func bundleID(named text: String) async throws(BundleError) -> Digest {
        if FileSystem.exists(text), !FileSystem.isDirectory(text) {
            return try LocatedBundle.locate([text]).description.id
        }
        let hex = text.hasPrefix("sha256:") ? String(text.dropFirst(7)) : text
        guard hex.count >= 4, hex.allSatisfy({ $0.isHexDigit && !$0.isUppercase }) else {
            throw .unknownSince(text: text)
        }
        let matches = try await ledgerCall { try await ledger.bundleExportIDs(matching: hex) }
        guard let first = matches.first else { throw .unknownSince(text: text) }
        guard matches.count == 1 else { throw .ambiguousSince(text: text, matches: matches) }
        return first
    }

    /// A manifest and the config and layers it names, as far as the store has them (index children are recorded
    /// as manifests of their own).
    private func reachable(from digest: Digest) throws(BundleError) -> [Digest] {
        guard store.hasBlob(digest), let bytes = try? store.readBlob(digest) else { return [digest] }
        guard case .image(let image) = try? ManifestContent.parse(bytes, mediaType: "", entry: "") else {
            return [digest]
        }
        return [digest] + image.blobs.map(\.digest)
    }

    // MARK: Export

    /// Writes the bundle and records it; returns what was written.
    public func export(_ options: Options) async throws(BundleError) -> ExportSummary {
        let scratch = try ExportScratch(store: store)
        defer { scratch.remove() }
        // index.json first: what the rest needs of each entry is then its name, digest, media type and size.
        let (index, references) = try Self.writeIndex(of: store, scratch: scratch)
        guard !references.isEmpty else { throw .nothingToExport(store: store.root) }

        var graph = ManifestGraph(collectingBlobs: true)
        let store = self.store
        for reference in references {
            _ = try graph.add(
                Descriptor(mediaType: reference.mediaType, digest: reference.digest, size: reference.size),
                reference: reference.name, has: { store.hasBlob($0) },
                read: { digest throws(BundleError) in try Self.readManifest(digest, store: store) },
                wantsChild: { _ in false }, missing: { .storeIncomplete(reference: $0, digest: $1) })
        }
        let base = try await options.since.asyncMap { text throws(BundleError) in try await resolveBase(text) }
        var included: [BundleBlob] = []
        var excluded: [BundleDescription.ExcludedBlob] = []
        var walked = graph.takeBlobs()
        included.reserveCapacity(walked.manifests.count + walked.others.count)
        for digest in [walked.manifests, walked.others].joined() {
            guard let size = store.blobSize(digest) else { throw .storeIncomplete(reference: "store", digest: digest) }
            if let carrier = base?.covered[digest] {
                excluded.append(BundleDescription.ExcludedBlob(digest: digest, size: size, carriedBy: carrier))
            } else {
                included.append(BundleBlob(digest: digest, size: size))
            }
        }
        // The blob lists hold the same digests now; the walk's go before the ID sorts a copy of them.
        let manifests = Set(walked.manifests)
        walked = ManifestGraph.Blobs()
        let storeID = try await ledgerCall { try await ledger.storeID() }
        let outline = BundleOutline(
            id: BundleDescription.id(references: references, blobs: included), createdAt: options.now,
            toolVersion: options.toolVersion,
            sourceStore: BundleDescription.SourceStore(
                id: storeID, host: Self.hostName(), path: FileSystemPaths.absolute(store.root)),
            since: base?.description, references: references, blobs: included, excludedBlobs: excluded,
            referrers: BundleReferrers.counts(BundleReferrers.find(references, store: store)))

        let description = try writeDescription(outline, manifests: manifests, scratch: scratch)
        let plan = StreamPlan(
            description: description.document, index: index, blobs: included, modificationTime: options.now)
        if let splitSize = options.splitSize {
            let count = (plan.size + splitSize - 1) / splitSize
            guard count <= Int64(BundleFiles.maximumParts) else {
                throw .invalidSplitSize(
                    text: "\(splitSize)",
                    reason:
                        "the bundle (\(plan.size) bytes) would need \(count) parts; at most \(BundleFiles.maximumParts)"
                )
            }
        }
        // What an export killed mid-way left beside FILE goes first (see ExportStaging); complete files stay.
        try ExportStaging.removeLeftovers(of: options.file)
        try checkOutputsAreFree(options, size: plan.size)

        let staging = try ExportStaging(file: options.file)
        let writer = PartStreamWriter(file: options.file, splitSize: options.splitSize, staging: staging.directory)
        let sidecarPath = BundleFiles.sidecarPath(for: options.file)
        var moved: [String] = []
        let summary: ExportSummary
        do throws(BundleError) {
            try plan.write(into: writer) { blob throws(BundleError) in try copy(blob, into: writer) }
            let written: [WrittenPart]
            do { written = try writer.finish() } catch { throw BundleError.io(error) }
            let writtenSize = written.reduce(Int64(0)) { $0 + $1.part.size }
            guard writtenSize == plan.size else {
                throw BundleError.io(
                    FileSystemError(
                        path: options.file, operation: "export",
                        message: "wrote \(writtenSize) bytes, planned \(plan.size); the store changed during the export"))
            }
            try Self.writeSidecar(
                outline, description: description, parts: written.map(\.part),
                to: staging.stagedPath(for: sidecarPath))
            // Parts first, the sidecar last: a bundle is importable only once every part is in place.
            let paths = written.map(\.path) + [sidecarPath]
            try staging.writeJournal(paths)
            for path in paths {
                try staging.move(into: path)
                moved.append(path)
            }
            do { try FileSystem.syncParent(of: sidecarPath) } catch { throw BundleError.io(error) }
            let record = BundleExportRecord(
                id: outline.id, createdAt: options.now, sinceBundle: outline.since?.bundle,
                sinceRun: outline.since?.bundle == nil ? outline.since?.run : nil, path: options.file,
                toolVersion: options.toolVersion, references: references, blobs: included,
                excludedBlobCount: excluded.count, parts: written.map(\.part))
            try await ledgerCall { try await ledger.recordExport(record) }
            summary = ExportSummary(
                description: outline, sidecarPath: sidecarPath,
                parts: written.map { ExportSummary.WrittenFile(path: $0.path, part: $0.part) })
        } catch {
            writer.discard()
            for path in moved { try? FileSystem.removeFile(path) }
            staging.discard()
            throw error
        }
        // Recorded: the files stay whatever happens now. Until the journal is gone, the next export to FILE would
        // take them for a killed export's, so a failure to remove it is an error (that rerun then rewrites them).
        try staging.remove()
        logger.debug("Bundle written", metadata: ["bundle": "\(outline.id)", "bytes": "\(plan.size)"])
        return summary
    }

    /// Copies one blob from the store into the stream, hashing it on the way.
    private func copy(_ blob: BundleBlob, into writer: PartStreamWriter) throws(BundleError) {
        let path = store.blobPath(blob.digest)
        let file: ReadableFile
        do { file = try ReadableFile(path: path) } catch { throw .io(error) }
        defer { file.close() }
        var hasher = DigestHasher(blob.digest.algorithm)
        var remaining = blob.size
        while remaining > 0 {
            let count = try writer.fill(upTo: Int(min(remaining, Int64(streamBufferSize)))) {
                buffer throws(BundleError) in
                let count: Int
                do throws(FileSystemError) { count = try file.read(into: buffer) } catch { throw .io(error) }
                hasher.update(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
                return count
            }
            guard count > 0 else { break }
            remaining -= Int64(count)
        }
        let actual = hasher.finalize()
        guard remaining == 0, actual == blob.digest else {
            throw .storeBlobCorrupt(digest: blob.digest, actual: actual, path: path)
        }
    }

    private func checkOutputsAreFree(_ options: Options, size: Int64) throws(BundleError) {
        var paths = [BundleFiles.sidecarPath(for: options.file)]
        if let splitSize = options.splitSize {
            let count = Int((size + splitSize - 1) / splitSize)
            paths += (1...max(1, count)).map { BundleFiles.partPath(for: options.file, number: $0) }
        } else {
            paths.append(options.file)
        }
        for path in paths where FileSystem.exists(path) { throw .outputExists(path: path) }
        let directory = BundleFiles.directory(options.file)
        guard FileSystem.isDirectory(directory) else {
            throw .io(FileSystemError(path: directory, operation: "export", message: "no such directory"))
        }
    }

    static func readManifest(_ digest: Digest, store: ContentStore) throws(BundleError) -> [UInt8] {
        do {
            return try store.readBlob(digest)
        } catch {
            if case .corruptBlob(let digest, let actual, let path) = error {
                throw .storeBlobCorrupt(digest: digest, actual: actual, path: path)
            }
            throw .store(error)
        }
    }

    static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count) == 0 else { return "" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private func ledgerCall<T: Sendable>(_ body: () async throws -> T) async throws(BundleError) -> T {
        do { return try await body() } catch { throw .ledger("\(error)") }
    }
}

/// What ``BundleExporter/export(_:)`` wrote.
public struct ExportSummary: Sendable, Hashable {
    /// One file of the bundle.
    public struct WrittenFile: Sendable, Hashable {
        /// Its path.
        public var path: String
        /// Its name, size and SHA-256.
        public var part: BundlePart
    }

    /// The bundle description without its history (the whole description is in the sidecar and inside the tar).
    public var description: BundleOutline
    /// The sidecar's path.
    public var sidecarPath: String
    /// The tar or its parts, in stream order.
    public var parts: [WrittenFile]

    /// Bytes of all parts.
    public var bundleBytes: Int64 { parts.reduce(0) { $0 + $1.part.size } }
    /// Bytes of the blobs carried.
    public var blobBytes: Int64 { description.blobs.reduce(0) { $0 + $1.size } }
}

/// Path helpers that need the working directory.
enum FileSystemPaths {
    /// `path` made absolute against the working directory.
    static func absolute(_ path: String) -> String {
        path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
    }
}

extension Optional {
    /// `map` for an async, throwing transform.
    fileprivate func asyncMap<U, E: Error>(_ transform: (Wrapped) async throws(E) -> U) async throws(E) -> U? {
        switch self {
        case .some(let value): return try await transform(value)
        case .none: return nil
        }
    }
}
