import Foundation
import LayoutStore
import Ledger
import OCIModel

/// The referrers among a bundle's references, told from the references and their manifests: a cosign tag
/// (`sha256-<hex>.sig|.att|.sbom`) refers to the digest it names; a manifest with `subject` refers to that subject.
/// Each is traced to its image (a referrer of a referrer to the image the first one refers to).
public enum BundleReferrers {
    /// The referrers of `references`, with their repository and image, read from `store` (which holds their
    /// manifests). A reference whose manifest is not readable is not a referrer.
    public static func find(_ references: [BundleReference], store: ContentStore) -> [ImportedReferrer] {
        find(references) { try? store.readBlob($0) }
    }

    /// ``find(_:store:)`` reading manifests with `read` (nil: not readable).
    static func find(_ references: [BundleReference], read: (Digest) -> [UInt8]?) -> [ImportedReferrer] {
        var found: [(repository: String, referrer: Referrer)] = []
        for reference in references {
            guard let parsed = try? ImageReference(parsing: reference.name) else { continue }
            let repository = parsed.repository.name
            if let tag = parsed.tag, parsed.digest == nil, ReferrerTags.isCosignTag(tag),
                let subject = try? Digest(parsing: "sha256:" + tag.dropFirst("sha256-".count).prefix(64))
            {
                let suffix = String(tag[tag.index(after: tag.lastIndex(of: ".")!)...])
                let artifactType =
                    artifactType(of: reference.digest, read: read)
                    ?? ReferrerTags.cosignSuffixes.first { $0.suffix == suffix }?.artifactType ?? ""
                found.append((repository, Referrer(
                    subject: subject, digest: reference.digest, mediaType: reference.mediaType, size: reference.size,
                    artifactType: artifactType, source: .cosignTag, tag: tag)))
            } else if parsed.digest != nil, let (subject, artifactType) = subject(of: reference.digest, read: read) {
                found.append((repository, Referrer(
                    subject: subject, digest: reference.digest, mediaType: reference.mediaType, size: reference.size,
                    artifactType: artifactType, source: .bundle)))
            }
        }
        let subjects = Dictionary(found.map { ("\($0.repository) \($0.referrer.digest)", $0.referrer.subject) }) { a, _ in a }
        return found.map { repository, referrer in
            var image = referrer.subject
            var steps = 0
            while let next = subjects["\(repository) \(image)"], steps < 8 {
                image = next
                steps += 1
            }
            return ImportedReferrer(repository: repository, imageDigest: image, referrer: referrer)
        }
    }

    /// Counts by kind, as the description carries them; nil for none.
    public static func counts(_ referrers: [ImportedReferrer]) -> [String: Int]? {
        referrers.isEmpty ? nil : Dictionary(grouping: referrers, by: \.referrer.kind.rawValue).mapValues(\.count)
    }

    private static func manifest(_ digest: Digest, read: (Digest) -> [UInt8]?) -> ImageManifest? {
        guard let bytes = read(digest) else { return nil }
        return try? JSONDecoder().decode(ImageManifest.self, from: Data(bytes))
    }

    private static func artifactType(of digest: Digest, read: (Digest) -> [UInt8]?) -> String? {
        manifest(digest, read: read)?.artifactType
    }

    private static func subject(of digest: Digest, read: (Digest) -> [UInt8]?) -> (Digest, String)? {
        if let image = manifest(digest, read: read), let subject = image.subject {
            return (subject.digest, image.effectiveArtifactType)
        }
        guard let bytes = read(digest),
            let index = try? JSONDecoder().decode(ImageIndex.self, from: Data(bytes)), let subject = index.subject
        else { return nil }
        return (subject.digest, index.artifactType ?? "")
    }
}
