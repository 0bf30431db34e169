import FerryPull
import MirrorConfig
import OCIModel

/// The references of a run, produced one at a time as the run takes them, so that a mirror list of 20,000 tags is
/// never 20,000 items in memory: the entries and their tag listings are kept, and only references listed by more
/// than one entry (rare) are merged ahead of time.
struct SyncPlan: Sequence {
    /// How many distinct references the plan yields.
    let count: Int
    private let source: Source

    fileprivate enum Source {
        case items([SyncItem])
        case entries([ImageEntry], tags: [[String]], merged: [String: SyncItem])
    }

    /// A plan of exactly `items` (`ferry pull`).
    init(items: [SyncItem]) {
        count = items.count
        source = .items(items)
    }

    /// The plan of `entries`, where `tags[i]` are the tags selected for entry `i` (empty for a pinned source).
    init(entries: [ImageEntry], tags: [[String]]) {
        // First pass: which references occur twice, and the union of what their entries ask for.
        var seen: Set<String> = []
        var merged: [String: SyncItem] = [:]
        var unique = 0
        for (entry, selected) in zip(entries, tags) {
            for reference in Self.references(entry, selected) {
                let key = reference.string
                if seen.insert(key).inserted {
                    unique += 1
                    continue
                }
                let item = Self.item(entry, reference)
                if let previous = merged[key] {
                    merged[key] = Self.merge(previous, item)
                } else {
                    merged[key] = Self.merge(Self.firstItem(for: key, entries: entries, tags: tags), item)
                }
            }
        }
        count = unique
        source = .entries(entries, tags: tags, merged: merged)
    }

    func makeIterator() -> Iterator { Iterator(source: source) }

    /// Walks the entries again, yielding each reference once (the merged item at its first occurrence).
    struct Iterator: IteratorProtocol {
        private let source: Source
        private var entryIndex = 0
        private var pending: [ImageReference] = []
        private var pendingIndex = 0
        private var itemIndex = 0
        private var emitted: Set<String> = []

        fileprivate init(source: Source) { self.source = source }

        mutating func next() -> SyncItem? {
            switch source {
            case .items(let items):
                guard itemIndex < items.count else { return nil }
                itemIndex += 1
                return items[itemIndex - 1]
            case .entries(let entries, let tags, let merged):
                while true {
                    if pendingIndex < pending.count {
                        let reference = pending[pendingIndex]
                        pendingIndex += 1
                        let entry = entries[entryIndex - 1]
                        guard !merged.isEmpty, let combined = merged[reference.string] else {
                            return SyncPlan.item(entry, reference)
                        }
                        guard emitted.insert(reference.string).inserted else { continue }
                        return combined
                    }
                    guard entryIndex < entries.count else { return nil }
                    pending = SyncPlan.references(entries[entryIndex], tags[entryIndex])
                    pendingIndex = 0
                    entryIndex += 1
                }
            }
        }
    }

    static func references(_ entry: ImageEntry, _ tags: [String]) -> [ImageReference] {
        entry.isPinned ? [entry.source] : tags.compactMap { try? entry.source.withTag($0) }
    }

    static func item(_ entry: ImageEntry, _ reference: ImageReference) -> SyncItem {
        // A trusted tag that moves anyway is drift, as with `immutable: true`.
        var trust: SyncItem.Trust?
        if reference.digest == nil, let policy = entry.trust, policy.trusts(reference.tag ?? "latest") {
            trust = SyncItem.Trust(revalidate: policy.revalidate?.duration)
        }
        return SyncItem(
            reference: reference, source: entry.source, platforms: SyncEngine.selection(entry.platforms),
            immutable: entry.immutable || trust != nil, verifyUpstream: entry.verifyUpstream, targets: entry.targets,
            trust: trust, referrers: entry.referrers)
    }

    /// The item of the first entry that lists `key` (only for references that occur twice).
    private static func firstItem(for key: String, entries: [ImageEntry], tags: [[String]]) -> SyncItem {
        for (entry, selected) in zip(entries, tags) {
            if let reference = references(entry, selected).first(where: { $0.string == key }) {
                return item(entry, reference)
            }
        }
        preconditionFailure("\(key) was seen in an entry")
    }

    /// The same reference from two entries: the union of what both ask for.
    static func merge(_ first: SyncItem, _ second: SyncItem) -> SyncItem {
        var merged = first
        merged.immutable = first.immutable || second.immutable
        merged.verifyUpstream = first.verifyUpstream || second.verifyUpstream
        merged.targets = first.targets + second.targets.filter { !first.targets.contains($0) }
        // Trusted only when every entry trusts it; then rechecked as often as the most careful one asks.
        switch (first.trust, second.trust) {
        case (let a?, let b?):
            let intervals = [a.revalidate, b.revalidate].compactMap { $0 }
            merged.trust = SyncItem.Trust(revalidate: intervals.min())
        default:
            merged.trust = nil
        }
        switch (first.platforms, second.platforms) {
        case (.list(let a), .list(let b)): merged.platforms = .list(a + b.filter { !a.contains($0) })
        default: merged.platforms = .all
        }
        switch (first.referrers, second.referrers) {
        case (.none, let other), (let other, .none): merged.referrers = other
        case (.only(let a), .only(let b)): merged.referrers = .only(a + b.filter { !a.contains($0) })
        default: merged.referrers = .all
        }
        return merged
    }
}
