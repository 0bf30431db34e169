import FerryPull
import Foundation
import LayoutStore
import Ledger
import OCIModel

/// The referrers a pulled item carries: what discovery stored, and the `index.json` names new to the store.
struct FoundReferrers: Sendable {
    /// An `index.json` name for a referrer (its cosign tag, else `repository@digest`).
    struct Name: Sendable {
        var name: String
        var descriptor: Descriptor
    }

    /// Every referrer found, each once, in discovery order.
    var all: [Referrer]
    /// Bytes received for them.
    var bytes: Int64
    /// Names to add to `index.json` once the record is committed: the referrers the reference store did not know.
    var newNames: [Name]
    /// The artifact types looked for; nil for all.
    var types: [String]?
}

extension SyncEngine {
    /// Finds and stores the item's referrers (nil when its entry says `referrers: none`). A referrer that cannot
    /// be carried (a wrong digest, a listing that failed) fails the item: a mirror without its signatures must not
    /// pass for a complete one.
    func referrers(_ item: SyncItem, success: FallbackPuller.Success, observer: any SyncObserver)
        async throws(PullFailure) -> FoundReferrers?
    {
        guard item.referrers != .none else { return nil }
        let result = try await puller.referrers(
            of: success, selection: item.referrers, observer: ItemPullObserver(reference: item.reference, sink: observer))
        let repository = item.reference.repository.name
        let known = Set(((try? await ledger.referrers(repository: repository, image: success.image.manifestDigest)) ?? [])
            .map(\.digest))
        let names = result.referrers.filter { !known.contains($0.digest) }.map { referrer in
            FoundReferrers.Name(
                name: referrer.tag.map { "\(repository):\($0)" } ?? "\(repository)@\(referrer.digest)",
                descriptor: Descriptor(mediaType: referrer.mediaType, digest: referrer.digest, size: referrer.size))
        }
        if let note = Self.partialIndexNote(success, referrers: result.referrers, store: puller.store) {
            observer.handle(.warning(item.reference, note))
        }
        var types: [String]?
        if case .only(let list) = item.referrers { types = list }
        return FoundReferrers(all: result.referrers, bytes: result.bytes, newNames: names, types: types)
    }

    /// For a platform-filtered index that has referrers: its signatures sign every platform it lists, and the mirror
    /// holds only some (the index itself is kept byte for byte, so they still verify against its digest).
    static func partialIndexNote(_ success: FallbackPuller.Success, referrers: [Referrer], store: ContentStore)
        -> String?
    {
        let image = success.image
        guard image.mediaType.isIndex, referrers.contains(where: { $0.subject == image.manifestDigest }),
            let bytes = try? store.readBlob(image.manifestDigest),
            let index = try? JSONDecoder().decode(ImageIndex.self, from: Data(bytes)),
            image.children.count < index.manifests.count
        else { return nil }
        return "signatures of index \(image.manifestDigest) sign all \(index.manifests.count) platforms it lists; "
            + "the mirror holds \(image.children.count) (platforms: is set)"
    }
}
