import FerrySystem
import Foundation
import LayoutStore
import Ledger
import OCIModel

/// Merges other stores (the shards of a split mirror list) into one: their blobs, their reference stores'
/// history, and the `index.json` names derived from it.
///
/// Per source, in the order a crash can stand: every blob the destination lacks is copied — streamed, hashed
/// while copying and renamed into `blobs/` only when it matches its name — and the blob directories are flushed;
/// then the source's reference store is merged in one transaction (``ReferenceStore/merge(from:mergedAt:)``).
/// `index.json` is brought in line with the merged reference store once, at the end (``IndexReconciler``). A stop
/// in between leaves verified blobs nothing names yet, or names `index.json` lags behind, which the next run that
/// takes the lock restores; merging the same stores again adds nothing.
public struct StoreMerger: Sendable {
    /// The store merged into.
    public let store: ContentStore
    /// Its reference store.
    public let ledger: ReferenceStore

    /// Creates a merger into `store`, whose reference store is `ledger`.
    public init(store: ContentStore, ledger: ReferenceStore) {
        self.store = store
        self.ledger = ledger
    }

    /// What merging one source did.
    public struct SourceSummary: Sendable {
        /// The source store directory.
        public var source: String
        /// Blobs in the source.
        public var blobs: Int
        /// Blobs copied (the others were here already).
        public var blobsCopied: Int
        /// Bytes copied.
        public var bytesCopied: Int64
        /// What the reference-store merge did.
        public var ledger: LedgerMergeResult
    }

    /// Why a merge stopped; each case names the store or blob.
    public enum Failure: Error, Sendable, CustomStringConvertible, DiskFullReporting {
        /// The source directory is not a ferry store.
        case notAStore(String)
        /// A blob of the source could not be copied (corrupt, unreadable, disk full).
        case blob(source: String, ContentStoreError)
        /// The source's or this store's reference store failed.
        case ledger(source: String, any Error)

        /// One line naming the store.
        public var description: String {
            switch self {
            case .notAStore(let source):
                "no ferry store at \(source): it needs index.json and ferry.db (the store of a ferry sync --shard run)"
            case .blob(let source, let error): "cannot merge \(source): \(error)"
            case .ledger(let source, let error): "cannot merge \(source): \(error)"
            }
        }

        /// The path a full disk kept from being written, if that was the cause.
        public var diskFullPath: String? {
            switch self {
            case .notAStore: nil
            case .blob(_, let error): error.diskFullPath
            case .ledger(_, let error): (error as? any DiskFullReporting)?.diskFullPath
            }
        }
    }

    /// Copies the blobs of the store at `source` and merges its reference store; `index.json` is left for
    /// ``updateIndex()``.
    public func merge(_ source: String, mergedAt: Date = Date()) async throws(Failure) -> SourceSummary {
        let other = ContentStore(root: source)
        let database = source + "/ferry.db"
        guard FileSystem.exists(other.path("index.json")), FileSystem.exists(database) else {
            throw .notAStore(source)
        }
        var copied = 0
        var bytes: Int64 = 0
        let blobs: [Digest]
        do throws(ContentStoreError) {
            blobs = try other.allBlobs().sorted()
            for digest in blobs where !store.hasBlob(digest) {
                bytes += try store.copyBlob(digest, from: other)
                copied += 1
            }
            // The blobs are durable before anything records them.
            try store.syncDirectories()
        } catch {
            throw .blob(source: source, error)
        }
        let result: LedgerMergeResult
        do {
            try ReferenceStore.prepareMergeSource(at: database)
            result = try await ledger.merge(from: database, mergedAt: mergedAt)
        } catch {
            throw .ledger(source: source, error)
        }
        return SourceSummary(
            source: source, blobs: blobs.count, blobsCopied: copied, bytesCopied: bytes, ledger: result)
    }
}
