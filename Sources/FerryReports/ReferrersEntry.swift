import Foundation
import Ledger
import OCIModel

/// The referrers of one image row: counts by kind, the summary line, and each referrer.
public struct ReferrersEntry: Codable, Sendable, Hashable {
    /// One referrer.
    public struct Item: Codable, Sendable, Hashable {
        /// The manifest it refers to.
        public var subject: Digest
        /// The referrer manifest's digest.
        public var digest: Digest
        /// Its media type.
        public var mediaType: MediaType
        /// Its size in bytes.
        public var size: Int64
        /// Its artifact type.
        public var artifactType: String
        /// signature, sbom, attestation or other.
        public var kind: ReferrerKind
        /// How it was found: api, fallback-tag or cosign-tag.
        public var foundBy: ReferrerSource
        /// The cosign tag it was found under.
        public var tag: String?
    }

    /// How many referrers.
    public var count: Int
    /// "3 referrers: 1 signature, 1 SBOM, 1 attestation".
    public var summary: String
    /// Counts by kind (kinds with none are left out).
    public var kinds: [String: Int]
    /// True for an index: its signatures sign every platform it lists, and with `platforms:` set the mirror holds
    /// only some of them (ferry keeps the index byte for byte, so its digest and signatures still match).
    public var signsWholeIndex: Bool
    /// Each referrer, in discovery order.
    public var items: [Item]

    /// Summarises the referrers of a row.
    public init(_ referrers: [Referrer], platformFiltered: Bool) {
        count = referrers.count
        summary = Referrer.summary(referrers)
        kinds = Dictionary(grouping: referrers, by: \.kind.rawValue).mapValues(\.count)
        signsWholeIndex = platformFiltered
        items = referrers.map {
            Item(
                subject: $0.subject, digest: $0.digest, mediaType: $0.mediaType, size: $0.size,
                artifactType: $0.artifactType, kind: $0.kind, foundBy: $0.source, tag: $0.tag)
        }
    }
}
