/// Which referrers (signatures, SBOMs, attestations) travel with an image: the mirror list's `referrers:`.
// https://github.com/opencontainers/distribution-spec/blob/main/spec.md#listing-referrers
public enum ReferrerSelection: Sendable, Hashable, CustomStringConvertible {
    /// Every referrer, whatever its artifact type (the default: signatures travel unless told otherwise).
    case all
    /// No referrer is looked for.
    case none
    /// Only referrers with one of these artifact types (in the order written).
    case only([String])

    /// True when a referrer of `artifactType` is kept.
    public func keeps(_ artifactType: String) -> Bool {
        switch self {
        case .all: true
        case .none: false
        case .only(let types): types.contains(artifactType)
        }
    }

    /// `all`, `none` or the artifact types joined with commas.
    public var description: String {
        switch self {
        case .all: "all"
        case .none: "none"
        case .only(let types): types.joined(separator: ",")
        }
    }
}

/// How a referrer was found.
public enum ReferrerSource: String, Sendable, Hashable, Codable, CaseIterable {
    /// The registry's referrers API (`GET /v2/<name>/referrers/<digest>`).
    case api
    /// The referrers fallback tag `sha256-<hex>`, an index of the referrers, on a registry without the API.
    case fallbackTag = "fallback-tag"
    /// One of cosign's legacy tags `sha256-<hex>.sig`, `.att` or `.sbom`.
    case cosignTag = "cosign-tag"
    /// Imported from a bundle: a manifest with `subject` among the bundle's references (how the exporting store
    /// found it is not carried).
    case bundle
}

/// What a referrer is, for reports: derived from its artifact type.
public enum ReferrerKind: String, Sendable, Hashable, Codable, CaseIterable, Comparable {
    /// A signature (cosign, notation).
    case signature
    /// A software bill of materials (SPDX, CycloneDX).
    case sbom
    /// An attestation (in-toto, DSSE, provenance).
    case attestation
    /// Anything else.
    case other

    /// The kind of `artifactType`, by the words its well-known values contain.
    public init(artifactType: String) {
        let text = artifactType.lowercased()
        if text.contains("spdx") || text.contains("cyclonedx") || text.contains("sbom") || text.contains("syft") {
            self = .sbom
        } else if text.contains("in-toto") || text.contains("intoto") || text.contains("dsse")
            || text.contains("attestation") || text.contains("provenance") || text.hasSuffix(".att")
        {
            self = .attestation
        } else if text.contains("sig") || text.contains("notary") || text.contains("notation") {
            self = .signature
        } else {
            self = .other
        }
    }

    /// `signature`, `SBOM`, `attestation`, `other` (the report's words; plural adds an `s`).
    public var word: String {
        switch self {
        case .signature: "signature"
        case .sbom: "SBOM"
        case .attestation: "attestation"
        case .other: "other artifact"
        }
    }

    /// Orders kinds as reports list them.
    public static func < (lhs: ReferrerKind, rhs: ReferrerKind) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

/// Names of the referrers fallback tag and cosign's legacy tags for a subject digest.
public enum ReferrerTags {
    /// The cosign tag suffixes, with the artifact type ferry records for a manifest found under each.
    public static let cosignSuffixes: [(suffix: String, artifactType: String)] = [
        ("sig", cosignSignatureType), ("att", "application/vnd.dsse.envelope.v1+json"),
        ("sbom", "application/vnd.dev.cosign.artifact.sbom.v1+json"),
    ]

    /// cosign's signature artifact type.
    public static let cosignSignatureType = "application/vnd.dev.cosign.artifact.sig.v1+json"

    /// `sha256-<hex>`: the referrers fallback tag of `subject` (distribution-spec, "Referrers Tag Schema").
    public static func fallbackTag(for subject: Digest) -> String { "\(subject.algorithm.rawValue)-\(subject.hex)" }

    /// `sha256-<hex>.<suffix>`: a cosign legacy tag of `subject`.
    public static func cosignTag(for subject: Digest, suffix: String) -> String { "\(fallbackTag(for: subject)).\(suffix)" }

    /// True for a tag of the form `sha256-<64 hex>.sig|.att|.sbom`.
    public static func isCosignTag(_ tag: String) -> Bool {
        guard let dot = tag.lastIndex(of: ".") else { return false }
        let suffix = tag[tag.index(after: dot)...]
        guard cosignSuffixes.contains(where: { $0.suffix == suffix }) else { return false }
        return isFallbackTag(String(tag[..<dot]))
    }

    /// True for a tag of the form `sha256-<64 hex>`.
    public static func isFallbackTag(_ tag: String) -> Bool {
        guard tag.hasPrefix("sha256-") else { return false }
        let hex = tag.dropFirst(7)
        return hex.count == 64 && hex.allSatisfy { $0.isHexDigit && !$0.isUppercase }
    }
}

extension ImageManifest {
    /// The artifact type a referrers listing gives this manifest: `artifactType`, else the config's media type
    /// (image-spec "Guidelines for artifact usage").
    public var effectiveArtifactType: String { artifactType ?? config.mediaType.rawValue }
}

/// One referrer of a mirrored manifest: what was found, where, and under which subject.
public struct Referrer: Sendable, Hashable, Codable {
    /// The manifest it refers to (an image, an index, a child of an index, or another referrer).
    public var subject: Digest
    /// The referrer manifest's digest.
    public var digest: Digest
    /// The referrer manifest's media type.
    public var mediaType: MediaType
    /// The referrer manifest's size.
    public var size: Int64
    /// Its artifact type (for a cosign tag without one: the type its tag suffix stands for).
    public var artifactType: String
    /// How it was found.
    public var source: ReferrerSource
    /// The cosign tag it was found under.
    public var tag: String?

    /// Creates a referrer.
    public init(
        subject: Digest, digest: Digest, mediaType: MediaType, size: Int64, artifactType: String,
        source: ReferrerSource, tag: String? = nil
    ) {
        self.subject = subject
        self.digest = digest
        self.mediaType = mediaType
        self.size = size
        self.artifactType = artifactType
        self.source = source
        self.tag = tag
    }

    /// Signature, SBOM, attestation or other.
    public var kind: ReferrerKind { ReferrerKind(artifactType: artifactType) }

    /// Its descriptor as a referrers index lists it.
    public var descriptor: Descriptor {
        Descriptor(mediaType: mediaType, digest: digest, size: size, artifactType: artifactType)
    }

    /// "3 referrers: 1 signature, 1 SBOM, 1 attestation" (or "no referrers").
    public static func summary(_ referrers: [Referrer]) -> String {
        summary(kinds: referrers.map(\.kind))
    }

    /// The summary of referrers of these kinds.
    public static func summary(kinds: [ReferrerKind]) -> String {
        guard !kinds.isEmpty else { return "no referrers" }
        let counts = Dictionary(grouping: kinds, by: { $0 }).mapValues(\.count)
        let parts = ReferrerKind.allCases.compactMap { kind -> String? in
            guard let count = counts[kind] else { return nil }
            return "\(count) \(kind.word)\(count == 1 ? "" : "s")"
        }
        return "\(kinds.count) referrer\(kinds.count == 1 ? "" : "s"): " + parts.joined(separator: ", ")
    }
}
