import Foundation
import FerrySystem
import OCIModel
import Synchronization

/// The store directory: an OCI image layout v1 that skopeo, umoci, oras and crane can read.
///
/// Layout: `oci-layout`, `index.json`, `blobs/<alg>/<hex>` (complete, verified content only) and `tmp/`
/// (partial downloads, never visible under `blobs/`). Every blob is renamed into `blobs/` only after its digest
/// was verified, and `index.json` is replaced atomically, so a crash leaves either the old or the new state.
// https://github.com/opencontainers/image-spec/blob/main/image-layout.md
public final class ContentStore: Sendable {
    /// The store directory.
    public let root: String
    /// When changes to `index.json` reach the disk.
    public let writes: StoreWrites
    // index.json as last read or written, with the changes not written yet. Other processes are kept out by the
    // store's run lock; a file changed behind our back (another ferry without changes pending here) is re-read.
    let index = Mutex<IndexState>(IndexState())
    // Directories with renames not yet flushed (batched writes only).
    private let unsyncedDirectories = Mutex<Set<String>>([])
    let indexFileWriteCount = Atomic<Int>(0)

    /// Largest manifest or index ferry accepts, as the distribution spec's SHOULD-support size.
    public static let maxManifestSize = 4 << 20

    /// A store rooted at `root`; nothing is touched until ``prepare()``.
    public init(root: String, writes: StoreWrites = .immediate) {
        self.root = root
        self.writes = writes
    }

    /// The `oci-layout` file's content.
    public static let layoutMarker = Array(#"{"imageLayoutVersion":"1.0.0"}"#.utf8)

    /// Creates the layout skeleton when missing: `oci-layout`, an empty `index.json`, `blobs/sha256`, `tmp`.
    public func prepare() throws(ContentStoreError) {
        do {
            try FileSystem.createDirectory(root)
            try FileSystem.createDirectory(path("blobs/sha256"))
            try FileSystem.createDirectory(path("tmp"))
            if !FileSystem.exists(path("oci-layout")) {
                try FileSystem.writeAtomically(Self.layoutMarker, to: path("oci-layout"))
            }
            if !FileSystem.exists(path("index.json")) {
                try FileSystem.writeAtomically(StoredIndex.encode(StoredIndex(manifests: [])), to: path("index.json"))
            }
        } catch let error as FileSystemError {
            throw .io(error)
        } catch let error as ContentStoreError {
            throw error
        } catch {
            throw .io(FileSystemError(path: root, operation: "prepare", message: "\(error)"))
        }
    }

    /// `root/relative`.
    public func path(_ relative: String) -> String { root + "/" + relative }

    /// Where the verified blob `digest` lives.
    public func blobPath(_ digest: Digest) -> String {
        path("blobs/\(digest.algorithm.rawValue)/\(digest.hex)")
    }

    /// Where a partial download of `digest` is kept between attempts (and between runs, so a rerun resumes).
    public func stagingPath(_ digest: Digest) -> String {
        path("tmp/\(digest.algorithm.rawValue)-\(digest.hex).partial")
    }

    /// `tmp/`, created when missing: where staged downloads and the temporary files of atomic writes live, so a
    /// process killed mid-write leaves nothing in `blobs/` or beside `index.json` (``removeLeftovers()`` clears it).
    public func scratchDirectory() throws(FileSystemError) -> String {
        let scratch = path("tmp")
        try FileSystem.createDirectory(scratch)
        return scratch
    }

    /// What killed processes left behind: temporary files of atomic writes and unfinished blob copies in `tmp/`
    /// and the store's top level, and with `inBlobs` those an earlier version wrote beside their blob. Partial
    /// downloads are not among them (the next run resumes them).
    public func leftovers(inBlobs: Bool = false) -> [String] {
        var found: [String] = []
        for directory in ["tmp", ""] {
            for name in (try? FileSystem.list(directory.isEmpty ? root : path(directory))) ?? []
            where FileSystem.isTemporaryLeftover(name) || (directory == "tmp" && name.hasSuffix(".partial.copy")) {
                found.append(directory.isEmpty ? name : directory + "/" + name)
            }
        }
        if inBlobs {
            for algorithm in Digest.Algorithm.allCases {
                let directory = "blobs/\(algorithm.rawValue)"
                for name in (try? FileSystem.list(path(directory))) ?? [] where FileSystem.isTemporaryLeftover(name) {
                    found.append(directory + "/" + name)
                }
            }
        }
        return found.sorted()
    }

    /// Removes ``leftovers(inBlobs:)``. Only for a caller holding the store's lock (another run's temporary files
    /// would look the same).
    /// - Returns: how many files were removed.
    @discardableResult
    public func removeLeftovers(inBlobs: Bool = false) throws(ContentStoreError) -> Int {
        let found = leftovers(inBlobs: inBlobs)
        do {
            for relative in found { try FileSystem.removeFile(path(relative)) }
        } catch {
            throw .io(error)
        }
        return found.count
    }

    /// True when the blob is present under `blobs/`.
    public func hasBlob(_ digest: Digest) -> Bool {
        FileSystem.exists(blobPath(digest))
    }

    /// The size of a present blob.
    public func blobSize(_ digest: Digest) -> Int64? {
        FileSystem.fileSize(blobPath(digest))
    }

    /// Reads a small blob (manifest, index, config) fully into memory, verifying its digest on the way:
    /// a blob changed on disk is reported, never served.
    public func readBlob(_ digest: Digest, limit: Int = ContentStore.maxManifestSize) throws(ContentStoreError) -> [UInt8] {
        let bytes: [UInt8]
        do {
            bytes = try FileSystem.readFile(blobPath(digest), limit: limit)
        } catch {
            if error.code == ENOENT { throw .missingBlob(digest) }
            throw .io(error)
        }
        let actual = Digest.compute(digest.algorithm, of: bytes)
        guard actual == digest else { throw .corruptBlob(digest, actual: actual, path: blobPath(digest)) }
        return bytes
    }

    /// Stores `bytes` as blob `digest` after checking they hash to it (manifests and configs).
    public func writeBlob(_ bytes: [UInt8], digest: Digest) throws(ContentStoreError) {
        let actual = Digest.compute(digest.algorithm, of: bytes)
        guard actual == digest else { throw .digestMismatch(expected: digest, actual: actual) }
        if hasBlob(digest) { return }
        do {
            try FileSystem.createDirectory(path("blobs/\(digest.algorithm.rawValue)"))
            let scratch = try scratchDirectory()
            if writes == .immediate {
                try FileSystem.writeAtomically(bytes, to: blobPath(digest), temporaryDirectory: scratch)
            } else {
                try FileSystem.writeAtomically(
                    bytes, to: blobPath(digest), syncingDirectory: false, temporaryDirectory: scratch)
                unsyncedDirectories.withLock { _ = $0.insert(FileSystem.parentDirectory(of: blobPath(digest))) }
            }
        } catch {
            throw .io(error)
        }
    }

    /// Moves a fully downloaded and verified staging file into `blobs/`: flush the data, rename, flush the
    /// directory. The caller must have verified that the file hashes to `digest`.
    public func commitStaged(_ stagingFile: String, as digest: Digest) throws(ContentStoreError) {
        do {
            try FileSystem.createDirectory(path("blobs/\(digest.algorithm.rawValue)"))
            try FileSystem.sync(stagingFile)
            try FileSystem.rename(stagingFile, to: blobPath(digest))
            if writes == .immediate {
                try FileSystem.syncParent(of: blobPath(digest))
            } else {
                unsyncedDirectories.withLock { _ = $0.insert(FileSystem.parentDirectory(of: blobPath(digest))) }
            }
        } catch {
            throw .io(error)
        }
    }

    /// Flushes the directories that received blobs since the last call (batched writes): one `fsync` per
    /// directory per batch instead of one per blob. Call before recording what the blobs belong to.
    public func syncDirectories() throws(ContentStoreError) {
        let directories = unsyncedDirectories.withLock { pending -> Set<String> in
            defer { pending.removeAll() }
            return pending
        }
        do throws(FileSystemError) {
            for directory in directories.sorted() { try FileSystem.sync(directory) }
        } catch {
            // Still unflushed: the next call tries again.
            unsyncedDirectories.withLock { $0.formUnion(directories) }
            throw .io(error)
        }
    }

    /// Deletes a blob (prune, repair).
    public func removeBlob(_ digest: Digest) throws(ContentStoreError) {
        do { try FileSystem.removeFile(blobPath(digest)) } catch { throw .io(error) }
    }

    /// Every blob digest present under `blobs/`, in no particular order.
    public func allBlobs() throws(ContentStoreError) -> [Digest] {
        var digests: [Digest] = []
        for algorithm in Digest.Algorithm.allCases {
            let directory = path("blobs/\(algorithm.rawValue)")
            guard FileSystem.isDirectory(directory) else { continue }
            let names: [String]
            do { names = try FileSystem.list(directory) } catch { throw .io(error) }
            for name in names {
                // Foreign files (editor backups, stray temp files) are not blobs; verify reports them separately.
                if let digest = try? Digest(algorithm: algorithm, hex: name) { digests.append(digest) }
            }
        }
        return digests
    }

}

/// A content-store failure, naming the blob or file.
public enum ContentStoreError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A read or write failed.
    case io(FileSystemError)
    /// The blob is not in the store.
    case missingBlob(Digest)
    /// The blob's bytes on disk do not hash to its name.
    case corruptBlob(Digest, actual: Digest, path: String)
    /// Bytes offered for a blob do not hash to the expected digest.
    case digestMismatch(expected: Digest, actual: Digest)
    /// `index.json` is missing: the directory is not a ferry store.
    case notAStore(String)
    /// `index.json` does not parse.
    case invalidIndex(path: String, message: String)

    /// A message naming the object.
    public var description: String {
        switch self {
        case .io(let error): "\(error)"
        case .missingBlob(let digest): "blob \(digest) is not in the store"
        case .corruptBlob(let digest, let actual, let path): "\(path): blob \(digest) is corrupt: content hashes to \(actual)"
        case .digestMismatch(let expected, let actual): "content does not match digest \(expected) (got \(actual))"
        case .notAStore(let root): "\(root): not a ferry store (no index.json); run ferry pull or ferry sync first"
        case .invalidIndex(let path, let message): "\(path): invalid index: \(message)"
        }
    }

    /// True when the disk is full.
    public var isNoSpace: Bool { diskFullPath != nil }
}

extension ContentStoreError: DiskFullReporting {
    /// The path a full disk kept from being written.
    public var diskFullPath: String? {
        if case .io(let error) = self { return error.diskFullPath }
        return nil
    }
}

extension ContentStore {
    /// Copies blob `digest` from `source` into this store, hashing while copying and committing only a verified
    /// copy (layout targets, bundles). Memory stays at one buffer whatever the blob size.
    /// - Returns: the bytes copied (0 when the blob was already here).
    @discardableResult
    public func copyBlob(_ digest: Digest, from source: ContentStore) throws(ContentStoreError) -> Int64 {
        if hasBlob(digest) { return 0 }
        do {
            try FileSystem.createDirectory(path("tmp"))
        } catch {
            throw .io(error)
        }
        let staging = stagingPath(digest) + ".copy"
        var hasher = DigestHasher(digest.algorithm)
        do throws(FileSystemError) {
            let input = try ReadableFile(path: source.blobPath(digest))
            defer { input.close() }
            let output = try WritableFile(path: staging, truncate: true)
            defer { output.close() }
            var buffer = [UInt8](repeating: 0, count: 1 << 20)
            while true {
                let count = try input.read(into: &buffer)
                if count == 0 { break }
                let slice = Array(buffer[0..<count])
                hasher.update(slice)
                try output.write(slice)
            }
        } catch {
            try? FileSystem.removeFile(staging)
            if error.code == ENOENT { throw .missingBlob(digest) }
            throw .io(error)
        }
        let actual = hasher.finalize()
        guard actual == digest else {
            try? FileSystem.removeFile(staging)
            throw .corruptBlob(digest, actual: actual, path: source.blobPath(digest))
        }
        try commitStaged(staging, as: digest)
        return hasher.count
    }
}
