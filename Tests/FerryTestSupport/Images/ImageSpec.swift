import OCIModel

/// Which family of media types an image uses.
public enum ManifestFormat: String, Sendable, Hashable, CaseIterable {
    /// OCI image-spec media types.
    case oci
    /// Docker image manifest v2 schema 2 media types.
    case docker

    /// The media type of an image manifest in this format.
    public var manifestMediaType: MediaType { self == .oci ? .ociManifest : .dockerManifest }
    /// The media type of an index (OCI image index or Docker manifest list).
    public var indexMediaType: MediaType { self == .oci ? .ociIndex : .dockerManifestList }
    /// The media type of the image configuration.
    public var configMediaType: MediaType { self == .oci ? .ociConfig : .dockerConfig }

    /// The media type of a layer with `compression`.
    public func layerMediaType(_ compression: LayerCompression) -> MediaType {
        switch (self, compression) {
        case (.oci, .gzip): .ociLayerGzip
        case (.oci, .none): .ociLayer
        case (.docker, .gzip): .dockerLayerGzip
        case (.docker, .none): "application/vnd.docker.image.rootfs.diff.tar"
        }
    }
}

/// How a layer's tar is stored.
public enum LayerCompression: String, Sendable, Hashable {
    /// Gzip framing around deflate stored blocks (deterministic, no zlib).
    case gzip
    /// The plain tar.
    case none
}

/// Platforms fixtures use.
public enum FixturePlatform {
    /// `linux/amd64`.
    public static let linuxAMD64 = Platform(os: "linux", architecture: "amd64")
    /// `linux/arm64/v8`.
    public static let linuxARM64 = Platform(os: "linux", architecture: "arm64", variant: "v8")
    /// `linux/arm/v7`.
    public static let linuxARMv7 = Platform(os: "linux", architecture: "arm", variant: "v7")
    /// The three above, the usual multi-arch set.
    public static let multiArch = [linuxAMD64, linuxARM64, linuxARMv7]
}

/// What goes into one layer.
public struct LayerSpec: Sendable, Hashable {
    /// The layer's files.
    public enum Content: Sendable, Hashable {
        /// `files` files of `fileSize` bytes each, their bytes derived from `seed`, plus a marker file naming it.
        case generated(seed: UInt64, files: Int, fileSize: Int)
        /// Exactly these entries.
        case entries([TarEntry])
        /// One file `data/blob.bin` of `size` pseudo-random bytes from `seed`, streamed, never held in memory.
        case random(seed: UInt64, size: Int64)
    }

    /// The layer's files.
    public var content: Content
    /// How the tar is stored.
    public var compression: LayerCompression

    /// Creates a layer spec.
    public init(content: Content, compression: LayerCompression = .gzip) {
        self.content = content
        self.compression = compression
    }

    /// A small generated layer.
    public static func generated(
        seed: UInt64, files: Int = 3, fileSize: Int = 256, compression: LayerCompression = .gzip
    ) -> LayerSpec {
        LayerSpec(content: .generated(seed: seed, files: files, fileSize: fileSize), compression: compression)
    }

    /// A layer holding one pseudo-random file of `size` bytes.
    public static func random(seed: UInt64, size: Int64, compression: LayerCompression = .none) -> LayerSpec {
        LayerSpec(content: .random(seed: seed, size: size), compression: compression)
    }
}

/// What goes into one image.
public struct ImageSpec: Sendable, Hashable {
    /// Media-type family.
    public var format: ManifestFormat
    /// The image's platform, written into its config (and its index entry).
    public var platform: Platform
    /// Layers, base first.
    public var layers: [LayerSpec]
    /// The config's `created` time.
    public var created: String
    /// Config labels; fixtures put their seed here so that images with shared layers still differ.
    public var labels: [String: String]
    /// Manifest annotations (OCI only; Docker manifests have none).
    public var annotations: [String: String]?

    /// The fixed creation time every fixture uses.
    public static let fixedCreated = "2024-01-01T00:00:00Z"

    /// Creates an image spec.
    public init(
        format: ManifestFormat = .oci, platform: Platform = FixturePlatform.linuxAMD64, layers: [LayerSpec],
        created: String = ImageSpec.fixedCreated, labels: [String: String] = [:],
        annotations: [String: String]? = nil
    ) {
        self.format = format
        self.platform = platform
        self.layers = layers
        self.created = created
        self.labels = labels
        self.annotations = annotations
    }

    /// A small image whose every byte follows from `seed`: `layers` generated gzip layers and a seed label.
    public static func small(
        seed: UInt64, format: ManifestFormat = .oci, platform: Platform = FixturePlatform.linuxAMD64,
        layers: Int = 2
    ) -> ImageSpec {
        ImageSpec(
            format: format, platform: platform,
            layers: (0..<layers).map { .generated(seed: seed &* 1000 &+ UInt64($0)) },
            labels: ["org.ferry.fixture.seed": String(seed), "org.ferry.fixture.platform": platform.description])
    }
}

/// What goes into an image index (OCI) or manifest list (Docker).
public struct IndexSpec: Sendable, Hashable {
    /// Media-type family of the index and of every child.
    public var format: ManifestFormat
    /// One image per platform, in index order.
    public var images: [ImageSpec]
    /// Index annotations (OCI only).
    public var annotations: [String: String]?

    /// Creates an index spec; each image's format is forced to `format`.
    public init(format: ManifestFormat = .oci, images: [ImageSpec], annotations: [String: String]? = nil) {
        self.format = format
        self.images = images.map { image in
            var copy = image
            copy.format = format
            return copy
        }
        self.annotations = annotations
    }

    /// One small image per platform; children share no layers (each platform has its own binaries).
    public static func multiArch(
        seed: UInt64, format: ManifestFormat = .oci, platforms: [Platform] = FixturePlatform.multiArch,
        layers: Int = 2
    ) -> IndexSpec {
        IndexSpec(
            format: format,
            images: platforms.enumerated().map { offset, platform in
                .small(seed: seed &* 100 &+ UInt64(offset), format: format, platform: platform, layers: layers)
            })
    }
}
