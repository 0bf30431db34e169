import LayoutStore
import Ledger
import OCIModel

/// What `ferry import --check` found: a bundle that checks out completely.
public struct BundleCheckSummary: Sendable, Hashable {
    /// The bundle's ID.
    public var id: Digest
    /// References the bundle describes.
    public var references: Int
    /// Blobs in the bundle, every one hashed.
    public var blobs: Int
    /// Bytes of the parts read (and checksummed).
    public var bytesRead: Int64
    /// Parts read.
    public var partsChecked: Int
    /// Blobs an incremental bundle leaves out (exported before, `--since`).
    public var excludedBlobs: Int
    /// Of those, the ones found in the store the check was given.
    public var excludedInStore: Int
    /// References whose manifests could not all be walked because a manifest is among the left-out blobs and
    /// no store holding it was given: the importing store must hold it (import checks that).
    public var relyingOnBase: [String]
    /// The referrers (signatures, SBOMs, attestations) among the references, as import will record them.
    public var referrers: [ImportedReferrer] = []
}

extension BundleImporter {
    /// Largest blob kept while checking: only manifests are read back, and ferry never stores a manifest over
    /// 4 MiB (the registry client refuses them).
    static let checkStageLimit: Int64 = 4 << 20

    /// Checks a bundle as ``importBundle(_:toolVersion:now:)`` does, and changes nothing: every part's size and
    /// SHA-256, every tar entry, every blob's digest, the embedded description, `index.json`, and that every
    /// reference's manifests, configs and layers are in the bundle. Blobs an incremental bundle leaves out count as
    /// present; with `store`, they are looked up there (read only) so the walk can go through them.
    ///
    /// Blobs up to ``checkStageLimit`` are kept in `scratch`, an empty directory the caller removes afterwards;
    /// larger ones are only hashed, so a check needs little disk and memory whatever the bundle's size.
    public static func check(
        _ bundle: LocatedBundle, store: ContentStore?, scratch: String
    ) throws(BundleError) -> BundleCheckSummary {
        let description = bundle.description
        let verified = try verify(bundle, staging: scratch) { _, size in size <= checkStageLimit }
        let excluded = Set(description.excludedBlobs.map(\.digest))
        let inStore = { (digest: Digest) -> Bool in store?.hasBlob(digest) ?? false }
        var relying: [String] = []
        var graph = ManifestGraph(collectingBlobs: false)
        for reference in description.references {
            // A manifest left out of an incremental bundle and not in the given store cannot be read here.
            var unreadable: Digest?
            let descriptor = Descriptor(mediaType: reference.mediaType, digest: reference.digest, size: reference.size)
            do {
                _ = try graph.add(
                    descriptor, reference: reference.name,
                    has: { verified.isPresent($0) || excluded.contains($0) || inStore($0) },
                    read: { digest throws(BundleError) in
                        if verified.isStaged(digest) { return try readStaged(digest, in: scratch) }
                        if let store, store.hasBlob(digest) { return try BundleExporter.readManifest(digest, store: store) }
                        if verified.isPresent(digest) {
                            throw .invalidDocument(
                                entry: blobEntryName(digest),
                                reason: "a manifest over \(checkStageLimit >> 20) MiB, which ferry never stores")
                        }
                        unreadable = digest
                        throw .missingReferencedBlob(reference: reference.name, digest: digest)
                    },
                    wantsChild: { verified.positions[$0] != nil || excluded.contains($0) },
                    missing: { .missingReferencedBlob(reference: $0, digest: $1) })
            } catch {
                if let unreadable, error == .missingReferencedBlob(reference: reference.name, digest: unreadable) {
                    relying.append(reference.name)
                    continue
                }
                throw error
            }
        }
        return BundleCheckSummary(
            id: description.id, references: description.references.count, blobs: description.blobs.count,
            bytesRead: verified.bytesRead, partsChecked: verified.partsChecked, excludedBlobs: excluded.count,
            excludedInStore: excluded.filter(inStore).count, relyingOnBase: relying,
            referrers: BundleReferrers.find(description.references) { digest in
                if verified.isStaged(digest) { return try? readStaged(digest, in: scratch) }
                return try? store?.readBlob(digest)
            })
    }
}
