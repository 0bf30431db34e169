import FerryBundle
import FerrySystem
import FerryTestSupport
import Foundation
import LayoutStore
import Ledger
import Logging
import OCIModel
import Testing

let silentLogger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

/// 2026-11-29T10:30:00Z plus `seconds`.
func at(_ seconds: TimeInterval) -> Date { Date(timeIntervalSince1970: 1_795_948_200 + seconds) }

let mirrorEndpoint = "https://mirror.example.internal"
let registryHost = "registry.test"

/// A store with images in it and a reference store that recorded them, as `ferry sync` would leave it.
final class SourceStore {
    let directory: TemporaryDirectory
    let layout: OCILayoutBuilder
    let store: ContentStore
    let ledger: ReferenceStore

    init(in directory: TemporaryDirectory, name: String = "source") throws {
        self.directory = directory
        let root = directory.appending(name)
        layout = try OCILayoutBuilder(path: root)
        store = ContentStore(root: layout.path)
        try store.prepare()
        ledger = try ReferenceStore.open(at: layout.path + "/ferry.db")
    }

    deinit { try? ledger.close() }

    /// `registry.test/<repository>:<tag>`.
    static func name(_ repository: String, _ tag: String) -> String { "\(registryHost)/\(repository):\(tag)" }

    /// Builds an image, tags it in `index.json`, and records it in a run of its own at `time`.
    @discardableResult
    func addImage(
        _ spec: ImageSpec, repository: String, tag: String, at time: Date, servedBy: String = mirrorEndpoint,
        attempts: [EndpointAttempt] = []
    ) async throws -> BuiltImage {
        let image = try layout.addImage(spec, refName: Self.name(repository, tag))
        try await record(
            repository: repository, tag: tag, at: time, servedBy: servedBy, attempts: attempts,
            result: ResolvedManifest(
                digest: image.manifestDigest, mediaType: image.manifest.mediaType, imageID: image.imageID,
                servedBy: servedBy))
        return image
    }

    /// Builds an index, tags it, and records it (every child) at `time`.
    @discardableResult
    func addIndex(_ spec: IndexSpec, repository: String, tag: String, at time: Date) async throws -> BuiltIndex {
        let index = try layout.addIndex(spec, refName: Self.name(repository, tag))
        try await record(
            repository: repository, tag: tag, at: time, servedBy: mirrorEndpoint, attempts: [],
            result: ResolvedManifest(
                digest: index.digest, mediaType: index.index.mediaType, imageID: nil,
                platforms: index.children.map {
                    PlatformManifest(
                        platform: $0.platform, digest: $0.manifestDigest, mediaType: $0.manifest.mediaType,
                        imageID: $0.imageID)
                }, servedBy: mirrorEndpoint))
        return index
    }

    /// Records a resolution in a run of its own, as a one-reference sync.
    func record(
        repository: String, tag: String, at time: Date, servedBy: String, attempts: [EndpointAttempt],
        result: ResolvedManifest, immutable: Bool = false
    ) async throws {
        let run = try await ledger.beginRun(RunStart(startedAt: time, command: "sync", toolVersion: "test"))
        _ = try await ledger.record(
            Observation(
                runID: run, reference: try ImageReference(parsing: Self.name(repository, tag)), immutable: immutable,
                attempts: attempts, observedAt: time.addingTimeInterval(1), result: .resolved(result)))
        try await ledger.finishRun(
            run, RunFinish(finishedAt: time.addingTimeInterval(2), status: .completed, exitStatus: 0))
    }

    /// Exports with `options` and returns the summary.
    func export(
        to file: String, since: String? = nil, splitSize: Int64? = nil, now: Date = at(10_000)
    ) async throws -> ExportSummary {
        try await BundleExporter(store: store, ledger: ledger, logger: silentLogger).export(
            BundleExporter.Options(file: file, since: since, splitSize: splitSize, toolVersion: "test", now: now))
    }
}

extension ExportSummary {
    /// The whole description, history included, read back from the sidecar: the exporter keeps only the outline.
    func wholeDescription() throws -> BundleDescription {
        try BundleSidecar.decode(try TestFiles.read(sidecarPath), path: sidecarPath).description
    }
}

/// A store on the air-gapped side.
final class TargetStore {
    let root: String
    let store: ContentStore

    init(in directory: TemporaryDirectory, name: String = "target", prepare: Bool = true) throws {
        root = directory.appending(name)
        store = ContentStore(root: root)
        if prepare { try store.prepare() }
    }

    /// Imports `files` as `ferry import` does (the importer opens and closes `ferry.db` itself).
    func importBundle(_ files: [String], now: Date = at(20_000)) async throws -> ImportSummary {
        let bundle = try LocatedBundle.locate(files)
        return try await BundleImporter(store: store, ledger: .file(root + "/ferry.db"), logger: silentLogger)
            .importBundle(bundle, toolVersion: "test", now: now)
    }

    /// Runs `body` with the reference store open.
    func withLedger<T>(_ body: (ReferenceStore) async throws -> T) async throws -> T {
        let ledger = try ReferenceStore.open(at: root + "/ferry.db")
        defer { try? ledger.close() }
        return try await body(ledger)
    }

    /// The `index.json` entries as `name → digest`.
    func references() throws -> [String: Digest] {
        var out: [String: Digest] = [:]
        for entry in try store.references() {
            if let name = entry.annotations?[Descriptor.refNameAnnotation] { out[name] = entry.digest }
        }
        return out
    }
}

/// SQLite's WAL index, which any reader rewrites (it is rebuilt from the WAL). The WAL itself is compared byte for
/// byte like `ferry.db`: a refused bundle must not write to either.
let transientFiles: Set<String> = ["ferry.db-shm"]

/// Every file and directory under `root` with the SHA-256 of its bytes (directories and links marked), so a test
/// can compare a whole tree before and after.
func treeSnapshot(_ root: String, excluding excluded: Set<String> = transientFiles) throws -> [String: String] {
    var out: [String: String] = [:]
    func walk(_ relative: String) throws {
        let path = relative.isEmpty ? root : root + "/" + relative
        var info = stat()
        guard lstat(path, &info) == 0 else { throw TestSupportError.fileIO(path: path, message: "lstat failed") }
        switch info.st_mode & S_IFMT {
        case S_IFDIR:
            if !relative.isEmpty { out[relative + "/"] = "directory" }
            for name in try FileManager.default.contentsOfDirectory(atPath: path).sorted() {
                let child = relative.isEmpty ? name : relative + "/" + name
                if !excluded.contains(child) { try walk(child) }
            }
        case S_IFREG:
            out[relative] = Digest.sha256(of: try TestFiles.read(path)).description
        default:
            out[relative] = "special \(info.st_mode)"
        }
    }
    try walk("")
    return out
}

/// The blobs of a store as `digest → bytes digest` (a quick equality check between two stores).
func blobNames(_ store: ContentStore) throws -> Set<Digest> { Set(try store.allBlobs()) }

/// Writes `data` to `path` as a bundle part and returns its sidecar entry.
func partEntry(_ bytes: [UInt8], name: String) -> BundlePart {
    BundlePart(name: name, size: Int64(bytes.count), sha256: Digest.sha256(of: bytes))
}
