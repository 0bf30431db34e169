/// An OCI content descriptor: what a manifest or `index.json` says about one blob.
// https://github.com/opencontainers/image-spec/blob/main/descriptor.md
public struct Descriptor: Hashable, Sendable, Codable {
    /// The media type of the referenced content.
    public var mediaType: MediaType
    /// The digest of the referenced content.
    public var digest: Digest
    /// The size in bytes of the referenced content.
    public var size: Int64
    /// Alternative download locations (foreign layers); ferry never fetches from them.
    public var urls: [String]?
    /// Free-form annotations.
    public var annotations: [String: String]?
    /// The platform, on entries of an index.
    public var platform: Platform?
    /// The artifact type, for OCI 1.1 artifacts.
    public var artifactType: String?

    /// Creates a descriptor.
    public init(
        mediaType: MediaType, digest: Digest, size: Int64, urls: [String]? = nil,
        annotations: [String: String]? = nil, platform: Platform? = nil, artifactType: String? = nil
    ) {
        self.mediaType = mediaType
        self.digest = digest
        self.size = size
        self.urls = urls
        self.annotations = annotations
        self.platform = platform
        self.artifactType = artifactType
    }

    /// The `org.opencontainers.image.ref.name` annotation.
    public static let refNameAnnotation = "org.opencontainers.image.ref.name"
}

/// An OCI image manifest or Docker schema-2 manifest.
// https://github.com/opencontainers/image-spec/blob/main/manifest.md
public struct ImageManifest: Hashable, Sendable, Codable {
    /// Always 2.
    public var schemaVersion: Int
    /// The manifest's own media type, when present in the body.
    public var mediaType: MediaType?
    /// The artifact type, for OCI 1.1 artifacts.
    public var artifactType: String?
    /// The image configuration blob.
    public var config: Descriptor
    /// The layers, base first.
    public var layers: [Descriptor]
    /// The manifest this one refers to (OCI 1.1 referrers).
    public var subject: Descriptor?
    /// Free-form annotations.
    public var annotations: [String: String]?

    /// Creates a manifest.
    public init(
        schemaVersion: Int = 2, mediaType: MediaType?, artifactType: String? = nil, config: Descriptor,
        layers: [Descriptor], subject: Descriptor? = nil, annotations: [String: String]? = nil
    ) {
        self.schemaVersion = schemaVersion
        self.mediaType = mediaType
        self.artifactType = artifactType
        self.config = config
        self.layers = layers
        self.subject = subject
        self.annotations = annotations
    }

    /// Every blob this manifest needs, config first.
    public var blobs: [Descriptor] { [config] + layers }
}

/// An OCI image index or Docker manifest list.
// https://github.com/opencontainers/image-spec/blob/main/image-index.md
public struct ImageIndex: Hashable, Sendable, Codable {
    /// Always 2.
    public var schemaVersion: Int
    /// The index's own media type, when present in the body.
    public var mediaType: MediaType?
    /// The artifact type, for OCI 1.1 artifacts.
    public var artifactType: String?
    /// The child manifests, in the registry's order.
    public var manifests: [Descriptor]
    /// The manifest this one refers to (OCI 1.1 referrers).
    public var subject: Descriptor?
    /// Free-form annotations.
    public var annotations: [String: String]?

    /// Creates an index.
    public init(
        schemaVersion: Int = 2, mediaType: MediaType?, artifactType: String? = nil, manifests: [Descriptor],
        subject: Descriptor? = nil, annotations: [String: String]? = nil
    ) {
        self.schemaVersion = schemaVersion
        self.mediaType = mediaType
        self.artifactType = artifactType
        self.manifests = manifests
        self.subject = subject
        self.annotations = annotations
    }
}

/// The parts of an image configuration ferry reads.
// https://github.com/opencontainers/image-spec/blob/main/config.md
public struct ImageConfiguration: Hashable, Sendable, Codable {
    /// Root filesystem description.
    public struct RootFS: Hashable, Sendable, Codable {
        /// Always `layers`.
        public var type: String
        /// Uncompressed layer digests, base first.
        public var diff_ids: [Digest]
    }

    /// Operating system.
    public var os: String?
    /// CPU architecture.
    public var architecture: String?
    /// CPU variant.
    public var variant: String?
    /// Creation time as written by the builder.
    public var created: String?
    /// The layer chain.
    public var rootfs: RootFS?
}
