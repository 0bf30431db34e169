import Foundation
import OCIModel

/// What a manifest blob is, from its media type or, when that says nothing, its JSON.
enum ManifestContent {
    case index(ImageIndex)
    case image(ImageManifest)
    /// Not a manifest ferry follows (an artifact with an unknown type): the blob travels alone.
    case opaque

    /// Parses `bytes` announced as `mediaType`; `entry` names the blob in errors.
    static func parse(_ bytes: [UInt8], mediaType: MediaType, entry: String) throws(BundleError) -> ManifestContent {
        struct Probe: Decodable {
            var mediaType: String?
            var manifests: [Descriptor]?
            var config: Descriptor?
        }
        let data = Data(bytes)
        let declared: MediaType
        if mediaType.isManifest {
            declared = mediaType
        } else {
            guard let probe = try? JSONDecoder().decode(Probe.self, from: data) else { return .opaque }
            if let own = probe.mediaType.map(MediaType.init(rawValue:)), own.isManifest {
                declared = own
            } else if probe.manifests != nil {
                declared = .ociIndex
            } else if probe.config != nil {
                declared = .ociManifest
            } else {
                return .opaque
            }
        }
        do {
            if declared.isIndex { return .index(try JSONDecoder().decode(ImageIndex.self, from: data)) }
            return .image(try JSONDecoder().decode(ImageManifest.self, from: data))
        } catch {
            throw .invalidDocument(entry: entry, reason: "\(declared) does not parse: \(BundleJSON.reason(error))")
        }
    }
}

/// The blobs a set of references needs, each once, manifests first; and, per reference, the image IDs that the
/// reference store records for it.
struct ManifestGraph {
    /// One reference's image ID (image manifest) or children with image IDs (index).
    struct Resolved {
        var imageID: Digest?
        var children: [(platform: Platform, digest: Digest, mediaType: MediaType, imageID: Digest)]
    }

    /// The blobs walked, each once: manifests and indexes, then configs and layers, each in walk order.
    struct Blobs {
        var manifests: [Digest] = []
        var others: [Digest] = []
    }

    // Digests only: at 20,000 references these lists have 60,000 entries, and a descriptor's media type and
    // annotations are not needed once the blob is walked.
    private var walked = Blobs()
    private var seen = Set<Digest>()
    private let collecting: Bool

    /// A graph that collects the blobs it walks (export), or only resolves references (import, check).
    init(collectingBlobs: Bool) {
        collecting = collectingBlobs
    }

    /// The blobs walked; the graph forgets them (and the set that kept them unique).
    mutating func takeBlobs() -> Blobs {
        seen = []
        defer { walked = Blobs() }
        return walked
    }

    /// Walks one reference.
    /// - Parameters:
    ///   - has: whether a blob is available (in the store, or in the bundle or store on import).
    ///   - read: reads a manifest's bytes, verified against its digest.
    ///   - wantsChild: whether an index child that is not available is required (an error) or was left out on
    ///     purpose (platforms not selected when the index was pulled).
    ///   - missing: the error for a required blob that is not available.
    mutating func add(
        _ descriptor: Descriptor, reference: String,
        has: (Digest) -> Bool,
        read: (Digest) throws(BundleError) -> [UInt8],
        wantsChild: (Digest) -> Bool,
        missing: (String, Digest) -> BundleError
    ) throws(BundleError) -> Resolved {
        guard has(descriptor.digest) else { throw missing(reference, descriptor.digest) }
        let content = try visitManifest(descriptor, read: read)
        switch content {
        case .opaque:
            return Resolved(imageID: nil, children: [])
        case .image(let image):
            for blob in image.blobs {
                guard has(blob.digest) else { throw missing(reference, blob.digest) }
                note(blob, asManifest: false)
            }
            return Resolved(imageID: image.config.digest, children: [])
        case .index(let index):
            var children: [(Platform, Digest, MediaType, Digest)] = []
            for child in index.manifests {
                guard has(child.digest) else {
                    if wantsChild(child.digest) { throw missing(reference, child.digest) }
                    continue
                }
                let resolved = try add(
                    child, reference: reference, has: has, read: read, wantsChild: wantsChild, missing: missing)
                if let platform = child.platform, let imageID = resolved.imageID {
                    children.append((platform, child.digest, child.mediaType, imageID))
                }
            }
            return Resolved(imageID: nil, children: children)
        }
    }

    private mutating func visitManifest(
        _ descriptor: Descriptor, read: (Digest) throws(BundleError) -> [UInt8]
    ) throws(BundleError) -> ManifestContent {
        let bytes = try read(descriptor.digest)
        let content = try ManifestContent.parse(
            bytes, mediaType: descriptor.mediaType, entry: blobEntryName(descriptor.digest))
        if case .opaque = content {
            note(descriptor, asManifest: false)
        } else {
            note(descriptor, asManifest: true)
        }
        return content
    }

    private mutating func note(_ descriptor: Descriptor, asManifest: Bool) {
        guard collecting, seen.insert(descriptor.digest).inserted else { return }
        if asManifest { walked.manifests.append(descriptor.digest) } else { walked.others.append(descriptor.digest) }
    }
}

/// `blobs/<algorithm>/<hex>`, the path of a blob in an OCI layout and in a bundle.
func blobEntryName(_ digest: Digest) -> String { "blobs/\(digest.algorithm.rawValue)/\(digest.hex)" }
