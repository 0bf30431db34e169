import OCIModel

/// Which platforms of a multi-platform image to keep.
public enum PlatformSelection: Hashable, Sendable, CustomStringConvertible {
    /// Every platform of an index (default).
    case all
    /// Only these platforms (normalised, deduplicated, in the order written).
    case only([Platform])

    /// True when `platform` (an index entry) is selected.
    public func includes(_ platform: Platform) -> Bool {
        switch self {
        case .all: true
        case .only(let wanted): wanted.contains { $0.matches(platform) }
        }
    }

    /// `all` or `linux/amd64,linux/arm64/v8`.
    public var description: String {
        switch self {
        case .all: "all"
        case .only(let platforms): platforms.map(\.description).joined(separator: ",")
        }
    }
}

/// A tag regex from `include` / `exclude`, validated at load time. `include` patterns must match the whole tag
/// (anchored as `^(?:…)$`); `exclude` patterns drop a tag when they match anywhere in it, so PRODUCT.md's
/// `exclude: ['-rc']` drops every tag containing `-rc`.
///
/// Only the text is stored: Swift's `Regex` is not `Sendable`, so each ``ImageEntry/selectTags(from:)`` call compiles
/// its patterns once and matches every listed tag with them.
public struct TagPattern: Sendable, Hashable, CustomStringConvertible {
    /// The pattern as written.
    public let pattern: String

    /// Validates `pattern` by compiling it; the error is the regex compiler's.
    public init(_ pattern: String) throws {
        // Compiled alone first: a pattern such as `a)|(b` would otherwise escape the anchoring group.
        _ = try Regex(pattern)
        _ = try Regex(Self.anchored(pattern))
        self.pattern = pattern
    }

    /// True when the whole of `tag` matches (compiles the pattern; prefer ``ImageEntry/selectTags(from:)`` for lists).
    public func matches(_ tag: String) -> Bool {
        Matcher(self, wholeTag: true).matches(tag)
    }

    /// True when the pattern matches anywhere in `tag` (how `exclude` applies).
    public func occurs(in tag: String) -> Bool {
        Matcher(self, wholeTag: false).matches(tag)
    }

    /// The pattern as written.
    public var description: String { pattern }

    static func anchored(_ pattern: String) -> String { "^(?:" + pattern + ")$" }

    /// A compiled pattern, for one pass over a tag list; never shared across tasks.
    struct Matcher {
        private let regex: Regex<AnyRegexOutput>?
        private let wholeTag: Bool

        init(_ pattern: TagPattern, wholeTag: Bool) {
            // Validated in TagPattern.init, so this compiles; nil would only make the pattern match nothing.
            regex = try? Regex(wholeTag ? TagPattern.anchored(pattern.pattern) : pattern.pattern)
            self.wholeTag = wholeTag
        }

        func matches(_ tag: String) -> Bool {
            guard let regex else { return false }
            if wholeTag { return (try? regex.wholeMatch(in: tag)) != nil }
            return (try? regex.firstMatch(in: tag)) != nil
        }
    }
}

/// One entry of `images:` after validation, with defaults applied.
///
/// A source with a tag or digest is **pinned**: exactly that reference, no selectors. A repository source selects tags
/// with ``tags`` (exact, always included, no listing needed) and the filters ``include``, ``exclude``, ``semver`` and
/// ``latest`` over the registry's tag list (see ``selectTags(from:)``). With no selector at all it means `latest` only,
/// like `docker pull`, and ``tagsAreImplied`` is true.
public struct ImageEntry: Sendable, Equatable {
    /// The normalized source (`docker.io/library/alpine`, `quay.io/x/y:v1`, `ghcr.io/x@sha256:…`).
    public let source: ImageReference
    /// Where the entry starts.
    public let location: SourceLocation
    /// Exact tags, in the order written, deduplicated; `["latest"]` when no selector was given.
    public let tags: [String]
    /// True when ``tags`` is the implied `["latest"]` of a repository source without selectors.
    public let tagsAreImplied: Bool
    /// Regexes a listed tag must match (any of them); empty means every listed tag.
    public let include: [TagPattern]
    /// Regexes that drop a listed tag (any of them).
    public let exclude: [TagPattern]
    /// A version range listed tags must satisfy; tags that are not versions are dropped.
    public let semver: SemverRange?
    /// Keep only the newest N listed tags after filtering, by version; tags that are not versions are dropped.
    public let latest: Int?
    /// Platforms to keep.
    public let platforms: PlatformSelection
    /// Target names, in the order written; each exists in ``MirrorList/targets``.
    public let targets: [String]
    /// Tags must never move: a move is drift.
    public let immutable: Bool
    /// When a mirror served a tag, HEAD the upstream too and flag divergence.
    public let verifyUpstream: Bool
    /// Recorded tags not asked for again (`immutable-tags`, `revalidate`); nil: every tag is checked every run.
    public let trust: TagTrust?
    /// Which referrers (signatures, SBOMs, attestations) travel with the image; default all.
    public let referrers: ReferrerSelection

    /// Creates an entry; the loader is the usual way to get one.
    public init(
        source: ImageReference, location: SourceLocation, tags: [String] = [], tagsAreImplied: Bool = false,
        include: [TagPattern] = [], exclude: [TagPattern] = [], semver: SemverRange? = nil, latest: Int? = nil,
        platforms: PlatformSelection = .all, targets: [String] = [], immutable: Bool = false,
        verifyUpstream: Bool = false, trust: TagTrust? = nil, referrers: ReferrerSelection = .all
    ) {
        self.source = source
        self.location = location
        self.tags = tags
        self.tagsAreImplied = tagsAreImplied
        self.include = include
        self.exclude = exclude
        self.semver = semver
        self.latest = latest
        self.platforms = platforms
        self.targets = targets
        self.immutable = immutable
        self.verifyUpstream = verifyUpstream
        self.trust = trust
        self.referrers = referrers
    }

    /// True when the source has a tag or a digest.
    public var isPinned: Bool { !source.isNameOnly }

    /// True when selecting tags needs the registry's tag list (`/tags/list`): a repository source with some filter.
    /// False for a pinned source or exact tags only, so ferry then makes no listing request.
    public var needsTagList: Bool {
        !isPinned && (!include.isEmpty || !exclude.isEmpty || semver != nil || latest != nil)
    }

    /// The tags to mirror, given the registry's tag list (ignored when ``needsTagList`` is false).
    ///
    /// Exact ``tags`` first, in the order written; then the listed tags that match some ``include`` pattern (every
    /// listed tag when there is none), minus those an ``exclude`` pattern matches anywhere in, restricted to ``semver``, and
    /// trimmed to the newest ``latest`` — in the registry's order, or newest first when ``latest`` is set. Duplicates
    /// are dropped. For a pinned source this is its tag, or nothing for a digest-only source.
    public func selectTags(from remoteTags: [String]) -> [String] {
        if isPinned { return source.tag.map { [$0] } ?? [] }
        var selected = tags
        var seen = Set(tags)
        guard needsTagList else { return selected }
        let includes = include.map { TagPattern.Matcher($0, wholeTag: true) }
        let excludes = exclude.map { TagPattern.Matcher($0, wholeTag: false) }
        // A registry may list anything: a name that is not a valid tag could never be pulled, and left in it would
        // take a place among the newest `latest` ones.
        var candidates = remoteTags.filter { tag in
            ImageReference.isValidTag(tag)
                && (includes.isEmpty || includes.contains { $0.matches(tag) }) && !excludes.contains { $0.matches(tag) }
        }
        if let semver { candidates = candidates.filter { semver.matches(tag: $0) } }
        if let latest {
            let versions = candidates.compactMap { tag in SemanticVersion(tag: tag).map { (tag, $0) } }
            candidates = versions.sorted(by: Self.newerFirst).prefix(latest).map(\.0)
        }
        for tag in candidates where seen.insert(tag).inserted {
            selected.append(tag)
        }
        return selected
    }

    /// Newest first; between equal versions the more explicit tag (`3.20.0` before `3.20`), then by name, so the
    /// order never depends on the registry's.
    private static func newerFirst(_ lhs: (String, SemanticVersion), _ rhs: (String, SemanticVersion)) -> Bool {
        let order = SemanticVersion.compare(lhs.1, rhs.1)
        if order != 0 { return order > 0 }
        if lhs.1.writtenParts != rhs.1.writtenParts { return lhs.1.writtenParts > rhs.1.writtenParts }
        return lhs.0 < rhs.0
    }

    /// True when `glob` matches the source's normalized name or full string, or their familiar forms.
    public func matches(_ glob: Glob) -> Bool {
        [source.name, source.string, source.familiarName, source.familiarString].contains { glob.matches($0) }
    }
}
