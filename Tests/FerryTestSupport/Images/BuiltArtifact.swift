import OCIModel

/// One layer as written: its blob descriptor and the digest of its uncompressed tar.
public struct BuiltLayer: Sendable, Hashable {
    /// The blob as manifests reference it.
    public var descriptor: Descriptor
    /// The `rootfs.diff_ids` entry: SHA-256 of the uncompressed tar.
    public var diffID: Digest
    /// Length of the uncompressed tar.
    public var uncompressedSize: Int64

    /// The blob digest.
    public var digest: Digest { descriptor.digest }
}

/// One image as written: exact manifest and config bytes and every digest a test may assert on.
public struct BuiltImage: Sendable, Hashable {
    /// Media-type family.
    public var format: ManifestFormat
    /// The image's platform.
    public var platform: Platform
    /// The manifest's descriptor (media type, digest, size).
    public var manifest: Descriptor
    /// The manifest bytes, exactly as stored and pushed.
    public var manifestBytes: [UInt8]
    /// The config's descriptor.
    public var config: Descriptor
    /// The config bytes.
    public var configBytes: [UInt8]
    /// The layers, base first.
    public var layers: [BuiltLayer]

    /// The manifest digest.
    public var manifestDigest: Digest { manifest.digest }
    /// The image ID, i.e. the config digest (as Docker defines it).
    public var imageID: Digest { config.digest }
    /// Config then layer descriptors.
    public var blobs: [Descriptor] { [config] + layers.map(\.descriptor) }
}

/// One index (OCI image index or Docker manifest list) as written, with its children.
public struct BuiltIndex: Sendable, Hashable {
    /// Media-type family.
    public var format: ManifestFormat
    /// The index's descriptor.
    public var index: Descriptor
    /// The index bytes, exactly as stored and pushed.
    public var indexBytes: [UInt8]
    /// The child images, in index order.
    public var children: [BuiltImage]

    /// The index digest.
    public var digest: Digest { index.digest }

    /// Child manifest digest per platform.
    public var childDigests: [Platform: Digest] {
        Dictionary(children.map { ($0.platform, $0.manifestDigest) }, uniquingKeysWith: { first, _ in first })
    }

    /// The child for `platform` (matched after normalisation), if any.
    public func child(for platform: Platform) -> BuiltImage? {
        children.first { platform.matches($0.platform) }
    }
}

/// An image or an index.
public enum BuiltArtifact: Sendable, Hashable {
    /// A single-platform image.
    case image(BuiltImage)
    /// An index and its children.
    case index(BuiltIndex)

    /// The top-level descriptor (what a tag points to).
    public var descriptor: Descriptor {
        switch self {
        case .image(let image): image.manifest
        case .index(let index): index.index
        }
    }

    /// The top-level digest.
    public var digest: Digest { descriptor.digest }

    /// Media-type family.
    public var format: ManifestFormat {
        switch self {
        case .image(let image): image.format
        case .index(let index): index.format
        }
    }

    /// The top-level manifest bytes.
    public var manifestBytes: [UInt8] {
        switch self {
        case .image(let image): image.manifestBytes
        case .index(let index): index.indexBytes
        }
    }

    /// The image itself, or every child of the index.
    public var images: [BuiltImage] {
        switch self {
        case .image(let image): [image]
        case .index(let index): index.children
        }
    }

    /// Every blob (configs and layers) any manifest references, each once.
    public var blobs: [Descriptor] {
        var seen = Set<Digest>()
        return images.flatMap(\.blobs).filter { seen.insert($0.digest).inserted }
    }
}

/// Anything that is, or wraps, a ``BuiltArtifact``.
public protocol BuiltArtifactConvertible: Sendable {
    /// The artifact.
    var artifact: BuiltArtifact { get }
}

extension BuiltArtifact: BuiltArtifactConvertible {
    /// Itself.
    public var artifact: BuiltArtifact { self }
}

extension BuiltImage: BuiltArtifactConvertible {
    /// `.image(self)`.
    public var artifact: BuiltArtifact { .image(self) }
}

extension BuiltIndex: BuiltArtifactConvertible {
    /// `.index(self)`.
    public var artifact: BuiltArtifact { .index(self) }
}
