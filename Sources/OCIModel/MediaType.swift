/// A media type string. Open vocabulary: unknown values are kept, not rejected.
// https://github.com/opencontainers/image-spec/blob/main/media-types.md
public struct MediaType: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible,
    ExpressibleByStringLiteral
{
    /// The media type text, without parameters.
    public var rawValue: String

    /// Wraps `rawValue`, dropping any `; parameter` suffix and surrounding spaces as the OCI spec requires
    /// for `Content-Type`.
    public init(rawValue: String) {
        // Almost every value is already bare and lower case: take it as is, sharing the storage of a common type,
        // which at 20,000 references is a lot of identical strings and of Foundation calls saved.
        if rawValue.utf8.allSatisfy(Self.isBareByte) {
            self.rawValue = Self.common.first { $0 == rawValue } ?? rawValue
            return
        }
        let base = rawValue.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        self.rawValue = base.trimmingCharacters(in: " \t").lowercased()
    }

    private static func isBareByte(_ byte: UInt8) -> Bool {
        byte != UInt8(ascii: ";") && byte != UInt8(ascii: " ") && byte != UInt8(ascii: "\t")
            && !(byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z")) && byte < 0x80
    }

    // Plain strings, not the constants below: those are built through this initializer.
    private static let common: [String] = [
        "application/vnd.oci.image.manifest.v1+json", "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.config.v1+json", "application/vnd.oci.image.layer.v1.tar+gzip",
        "application/vnd.oci.image.layer.v1.tar", "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json", "application/vnd.docker.container.image.v1+json",
        "application/vnd.docker.image.rootfs.diff.tar.gzip",
    ]

    /// Wraps a literal.
    public init(stringLiteral value: String) { self.init(rawValue: value) }

    /// Decodes the bare string.
    public init(from decoder: any Decoder) throws {
        self.init(rawValue: try decoder.singleValueContainer().decode(String.self))
    }

    /// Encodes the bare string.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    /// The raw text.
    public var description: String { rawValue }

    /// OCI image index.
    public static let ociIndex: MediaType = "application/vnd.oci.image.index.v1+json"
    /// OCI image manifest.
    public static let ociManifest: MediaType = "application/vnd.oci.image.manifest.v1+json"
    /// Docker manifest list (schema 2).
    public static let dockerManifestList: MediaType = "application/vnd.docker.distribution.manifest.list.v2+json"
    /// Docker image manifest, schema 2.
    public static let dockerManifest: MediaType = "application/vnd.docker.distribution.manifest.v2+json"
    /// Docker schema 1 manifest (deprecated; refused by ferry).
    public static let dockerSchema1: MediaType = "application/vnd.docker.distribution.manifest.v1+json"
    /// Signed Docker schema 1 manifest (deprecated; refused by ferry).
    public static let dockerSchema1Signed: MediaType = "application/vnd.docker.distribution.manifest.v1+prettyjws"
    /// OCI image configuration.
    public static let ociConfig: MediaType = "application/vnd.oci.image.config.v1+json"
    /// Docker image configuration.
    public static let dockerConfig: MediaType = "application/vnd.docker.container.image.v1+json"
    /// OCI gzip layer.
    public static let ociLayerGzip: MediaType = "application/vnd.oci.image.layer.v1.tar+gzip"
    /// OCI uncompressed layer.
    public static let ociLayer: MediaType = "application/vnd.oci.image.layer.v1.tar"
    /// OCI zstd layer.
    public static let ociLayerZstd: MediaType = "application/vnd.oci.image.layer.v1.tar+zstd"
    /// Docker gzip layer.
    public static let dockerLayerGzip: MediaType = "application/vnd.docker.image.rootfs.diff.tar.gzip"
    /// Docker foreign (non-distributable) layer.
    public static let dockerForeignLayer: MediaType = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
    /// OCI empty JSON descriptor (`{}`), used by artifacts.
    public static let ociEmpty: MediaType = "application/vnd.oci.empty.v1+json"
    /// Plain JSON, which schema-1 era registries used as a catch-all.
    public static let json: MediaType = "application/json"
    /// Generic bytes.
    public static let octetStream: MediaType = "application/octet-stream"

    /// The manifest types ferry asks for, in the order of its `Accept` header.
    public static let acceptedManifestTypes: [MediaType] = [
        .ociIndex, .ociManifest, .dockerManifestList, .dockerManifest,
    ]

    /// True for an OCI index or a Docker manifest list.
    public var isIndex: Bool { self == .ociIndex || self == .dockerManifestList }
    /// True for an OCI or Docker schema-2 image manifest.
    public var isImageManifest: Bool { self == .ociManifest || self == .dockerManifest }
    /// True for either schema-1 type.
    public var isSchema1: Bool { self == .dockerSchema1 || self == .dockerSchema1Signed }
    /// True for any manifest or index type ferry stores.
    public var isManifest: Bool { isIndex || isImageManifest }
}

extension String {
    fileprivate func trimmingCharacters(in set: String) -> Substring {
        let chars = Set(set)
        var slice = Substring(self)
        while let first = slice.first, chars.contains(first) { slice = slice.dropFirst() }
        while let last = slice.last, chars.contains(last) { slice = slice.dropLast() }
        return slice
    }
}

extension Substring {
    fileprivate func trimmingCharacters(in set: String) -> Substring {
        String(self).trimmingCharacters(in: set)
    }
}
