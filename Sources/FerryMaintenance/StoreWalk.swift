import Foundation
import LayoutStore
import OCIModel

/// One stored reference and everything it needs, as read from the store.
struct StoredTree: Sendable {
    /// The `index.json` name.
    var name: String
    /// The top descriptor.
    var top: Descriptor
    /// Every digest the reference needs, manifests included, with what it is.
    var needed: [(digest: Digest, kind: String)] = []
    /// Index children that were never mirrored (a platform filter): not required.
    var notMirrored: [Digest] = []
    /// Manifests present but unreadable as JSON.
    var unreadable: [Digest] = []
}

/// Walks manifests from `index.json` entries (or other roots) through the store.
enum StoreWalk {
    /// The content `descriptor` needs: the manifest itself, then for an index its children present in the store or
    /// listed in `requiredChildren` (children of a platform-filtered index that were never mirrored are not
    /// needed), then for each image its config and layers.
    static func tree(
        name: String, top: Descriptor, store: ContentStore, requiredChildren: Set<Digest> = []
    ) -> StoredTree {
        var tree = StoredTree(name: name, top: top)
        tree.needed.append((top.digest, "manifest"))
        guard store.hasBlob(top.digest), let bytes = try? store.readBlob(top.digest) else { return tree }
        let mediaType = top.mediaType.isManifest ? top.mediaType : (sniff(bytes) ?? top.mediaType)
        if mediaType.isIndex {
            guard let index = try? JSONDecoder().decode(ImageIndex.self, from: Data(bytes)) else {
                tree.unreadable.append(top.digest)
                return tree
            }
            for child in index.manifests {
                if store.hasBlob(child.digest) || requiredChildren.contains(child.digest) {
                    tree.needed.append((child.digest, "manifest \(child.platform?.description ?? "child")"))
                    addImage(child.digest, store: store, to: &tree)
                } else {
                    tree.notMirrored.append(child.digest)
                }
            }
        } else {
            addImage(top.digest, store: store, to: &tree)
        }
        return tree
    }

    private static func addImage(_ digest: Digest, store: ContentStore, to tree: inout StoredTree) {
        guard store.hasBlob(digest), let bytes = try? store.readBlob(digest) else { return }
        guard let image = try? JSONDecoder().decode(ImageManifest.self, from: Data(bytes)) else {
            tree.unreadable.append(digest)
            return
        }
        tree.needed.append((image.config.digest, "config"))
        for layer in image.layers { tree.needed.append((layer.digest, "layer")) }
    }

    static func sniff(_ bytes: [UInt8]) -> MediaType? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] else { return nil }
        if let type = object["mediaType"] as? String { return MediaType(rawValue: type) }
        if object["manifests"] != nil { return .ociIndex }
        if object["config"] != nil { return .ociManifest }
        return nil
    }

    /// The `index.json` entries as (name, descriptor without its name annotation).
    static func roots(_ store: ContentStore) throws(ContentStoreError) -> [(String, Descriptor)] {
        try store.namedReferences().map { ($0.name, $0.descriptor) }
    }
}
