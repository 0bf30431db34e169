/// A repository name: a registry domain and a path, e.g. `docker.io` + `library/alpine`.
///
/// Only produced by parsing, so it always satisfies the grammar.
public struct RepositoryName: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The registry host with optional port: `docker.io`, `localhost:5000`, `[::1]:5000`.
    /// Empty only for names parsed without normalisation that had no domain (distribution's `Domain()` is "" too).
    public let domain: String
    /// The path below the domain, e.g. `library/alpine`.
    public let path: String

    init(domain: String, path: String) {
        self.domain = domain
        self.path = path
    }

    /// Parses a bare name, `[domain/]path` with no tag or digest, exactly as written (`reference.WithName`).
    public init(parsing text: String) throws(ReferenceError) {
        let split = ReferenceGrammar.withBytes(text) { bytes -> (String, String)? in
            guard let (domain, path) = ReferenceGrammar.splitName(bytes) else { return nil }
            func string(_ range: Range<Int>) -> String { String(decoding: bytes[range], as: UTF8.self) }
            return (domain.map(string) ?? "", string(path))
        }
        guard let (domain, path) = split else { throw .invalidFormat }
        guard path.utf8.count <= ImageReference.nameTotalLengthMax else { throw .nameTooLong }
        self.init(domain: domain, path: path)
    }

    /// `domain/path`, or `path` when there is no domain (distribution's `Name()`).
    public var name: String { domain.isEmpty ? path : "\(domain)/\(path)" }

    /// The short form Docker shows: no `docker.io/`, and no `library/` for two-component official images.
    public var familiarName: String {
        guard domain == ImageReference.defaultDomain else { return name }
        let prefix = ImageReference.officialRepositoryPrefix
        // Only `library/x` shortens; `library/x/y` keeps its prefix, as nested official namespaces would be ambiguous.
        if path.hasPrefix(prefix), !path.dropFirst(prefix.count).contains("/") {
            return String(path.dropFirst(prefix.count))
        }
        // Not Docker: a Hub path whose first component reads as a host (`docker.io/lib.io/x`, which Docker Hub
        // cannot have, but the grammar allows) keeps its domain, so the short form parses back to the same name.
        if ImageReference.splitDockerDomain(path).domain != ImageReference.defaultDomain { return name }
        return path
    }

    /// The full name.
    public var description: String { name }

    /// Orders by full name.
    public static func < (lhs: RepositoryName, rhs: RepositoryName) -> Bool { lhs.name < rhs.name }
}

/// An image reference: a repository plus an optional tag and an optional digest.
///
/// Implements the current `github.com/distribution/reference` module, not the legacy docker/distribution copy
/// that moby v20.10 vendors (PULL-SEMANTICS.md §5). We follow the current grammar on purpose, so these inputs
/// differ from legacy Docker:
/// - the 255-character limit covers the path only, not `domain/path` (a long path on a long host still parses);
/// - bracketed IPv6 hosts such as `[::1]:5000/repo` are domains (legacy rejects them);
/// - in ``init(parsing:)`` an uppercase first component is a domain (`Foo/bar` is domain `Foo`), where legacy
///   put it on Docker Hub and rejected it as uppercase.
///
/// Entry points: ``init(parsing:)`` is `ParseNormalizedNamed`, ``init(parsingStrict:)`` is `Parse`,
/// ``init(parsingCanonical:)`` is `ParseNamed`, ``AnyReference/init(parsing:)`` is `ParseAnyReference` and
/// ``pullReference`` is what `ParseDockerRef` returns. Error texts are the reference implementation's.
// https://github.com/distribution/reference/blob/main/reference.go
// https://github.com/distribution/reference/blob/main/normalize.go
public struct ImageReference: Hashable, Sendable, CustomStringConvertible {
    /// The repository.
    public let repository: RepositoryName
    /// The tag, if any; always matches `[\w][\w.-]{0,127}`.
    public let tag: String?
    /// The digest, if any.
    public let digest: Digest?

    /// Docker Hub's canonical domain.
    public static let defaultDomain = "docker.io"
    /// The domain that folds to ``defaultDomain``.
    public static let legacyDefaultDomain = "index.docker.io"
    /// The namespace of Docker Hub's official images.
    public static let officialRepositoryPrefix = "library/"
    /// The tag ``taggedLatestIfNameOnly()`` adds.
    public static let defaultTag = "latest"
    /// The longest path distribution accepts, in bytes; the domain does not count.
    public static let nameTotalLengthMax = 255

    private init(unchecked repository: RepositoryName, tag: String?, digest: Digest?) {
        self.repository = repository
        self.tag = tag
        self.digest = digest
    }

    /// Builds a reference from a parsed repository, checking the tag.
    public init(repository: RepositoryName, tag: String? = nil, digest: Digest? = nil) throws(ReferenceError) {
        if let tag, !Self.isValidTag(tag) { throw .invalidTag }
        self.init(unchecked: repository, tag: tag, digest: digest)
    }

    /// Parses a user-supplied reference the way `docker pull` does (`ParseNormalizedNamed`):
    /// a missing domain becomes `docker.io`, `index.docker.io` folds to `docker.io`, and one-component
    /// Docker Hub names gain `library/`.
    public init(parsing text: String) throws(ReferenceError) {
        // A bare image ID would otherwise parse as the Hub repository `library/<hex>`.
        if ReferenceGrammar.isIdentifier(text) { throw .identifierNotAllowed(text) }
        let (domain, remainder) = Self.splitDockerDomain(text)
        let colon = remainder.utf8.firstIndex(of: .colon) ?? remainder.endIndex
        let remote = String(decoding: remainder.utf8[..<colon], as: UTF8.self)
        if Self.changesWhenLowercased(remote) { throw .uppercaseRepository(remote) }
        self = try Self.parse(domain + "/" + remainder)
    }

    /// Parses a reference exactly as written (`reference.Parse`): no default domain, no `library/`.
    /// A reference without a domain has an empty ``RepositoryName/domain``.
    public init(parsingStrict text: String) throws(ReferenceError) {
        self = try Self.parse(text)
    }

    /// Parses a reference that must already be in canonical form (`reference.ParseNamed`), such as the
    /// `org.opencontainers.image.ref.name` annotations ferry writes: `alpine` or `docker.io/alpine` are refused.
    public init(parsingCanonical text: String) throws(ReferenceError) {
        let parsed = try Self(parsing: text)
        guard parsed.string == text else { throw .nameNotCanonical }
        self = parsed
    }

    /// `domain` of the repository.
    public var domain: String { repository.domain }
    /// `path` of the repository.
    public var path: String { repository.path }
    /// `domain/path`.
    public var name: String { repository.name }
    /// ``RepositoryName/familiarName``.
    public var familiarName: String { repository.familiarName }

    /// The short form Docker shows: familiar name plus `:tag` and `@digest` (`FamiliarString`).
    public var familiarString: String { Self.format(familiarName, tag, digest) }

    /// The full form: `domain/path[:tag][@digest]` (distribution's `String()`).
    public var string: String { Self.format(name, tag, digest) }

    /// The full form.
    public var description: String { string }

    /// True when there is neither tag nor digest (`IsNameOnly`).
    public var isNameOnly: Bool { tag == nil && digest == nil }

    /// This reference without tag and digest (`TrimNamed`).
    public var nameOnly: ImageReference { ImageReference(unchecked: repository, tag: nil, digest: nil) }

    /// The same reference with `tag`, keeping any digest (`WithTag`). Fails when `tag` is not a valid tag.
    public func withTag(_ tag: String) throws(ReferenceError) -> ImageReference {
        try ImageReference(repository: repository, tag: tag, digest: digest)
    }

    /// The same reference with `digest`, keeping any tag (`WithDigest`).
    public func withDigest(_ digest: Digest) -> ImageReference {
        ImageReference(unchecked: repository, tag: tag, digest: digest)
    }

    /// `:latest` added when the reference is name-only (`TagNameOnly`).
    public func taggedLatestIfNameOnly() -> ImageReference {
        isNameOnly ? ImageReference(unchecked: repository, tag: Self.defaultTag, digest: nil) : self
    }

    /// What `ParseDockerRef` returns: a digest wins over a tag, and a name-only reference gets `:latest`.
    public var pullReference: ImageReference {
        if tag != nil, let digest { return ImageReference(unchecked: repository, tag: nil, digest: digest) }
        return taggedLatestIfNameOnly()
    }

    /// True when `pattern` (Go `path.Match` syntax, e.g. `library/*`) matches ``familiarString`` or, failing
    /// that, ``familiarName`` (`FamiliarMatch`). Throws ``ReferenceError/badPattern`` for a malformed pattern.
    public func familiarMatches(_ pattern: String) throws(ReferenceError) -> Bool {
        if try PathPattern.matches(pattern, familiarString) { return true }
        return try PathPattern.matches(pattern, familiarName)
    }

    /// True when `text` is a valid tag.
    public static func isValidTag(_ text: String) -> Bool { ReferenceGrammar.isTag(text) }

    static func format(_ name: String, _ tag: String?, _ digest: Digest?) -> String {
        var out = name
        if let tag { out += ":" + tag }
        if let digest { out += "@" + digest.description }
        return out
    }

    // MARK: Parsing

    /// `reference.Parse`.
    private static func parse(_ text: String) throws(ReferenceError) -> ImageReference {
        if text.isEmpty { throw .nameEmpty }
        let captured = ReferenceGrammar.withBytes(text) { bytes -> (String, String, String?, String?)? in
            guard let parts = ReferenceGrammar.matchReference(bytes) else { return nil }
            func string(_ range: Range<Int>) -> String { String(decoding: bytes[range], as: UTF8.self) }
            return (parts.domain.map(string) ?? "", string(parts.path), parts.tag.map(string), parts.digest.map(string))
        }
        guard let (domain, path, tag, digestText) = captured else {
            if let lowered = lowercasedLikeGo(text), lowered != text,
                ReferenceGrammar.withBytes(lowered, { ReferenceGrammar.matchReference($0) }) != nil
            {
                throw .nameContainsUppercase
            }
            throw .invalidFormat
        }
        if path.utf8.count > nameTotalLengthMax { throw .nameTooLong }
        var digest: Digest?
        if let digestText {
            do {
                digest = try Digest(parsing: digestText)
            } catch {
                throw .digest(error)
            }
        }
        return ImageReference(unchecked: RepositoryName(domain: domain, path: path), tag: tag, digest: digest)
    }

    /// `splitDockerDomain` of normalize.go: which part of a familiar name is the registry, with Docker Hub's
    /// defaults applied.
    static func splitDockerDomain(_ name: String) -> (domain: String, remainder: String) {
        guard let slash = name.utf8.firstIndex(of: .slash) else {
            // A single component is always a Hub repository, even `localhost` or `example.com`.
            return (defaultDomain, officialRepositoryPrefix + name)
        }
        // Sliced by bytes: slicing the String itself would round to grapheme boundaries.
        let first = String(decoding: name.utf8[..<slash], as: UTF8.self)
        let rest = String(decoding: name.utf8[name.utf8.index(after: slash)...], as: UTF8.self)
        var domain: String
        var remainder: String
        if first == "localhost" {
            (domain, remainder) = (first, rest)
        } else if first == legacyDefaultDomain {
            (domain, remainder) = (defaultDomain, rest)
        } else if first.utf8.contains(.dot) || first.utf8.contains(.colon) || changesWhenLowercased(first) {
            // Path components are lowercase without `.`/`:`, so such a component can only be a host.
            (domain, remainder) = (first, rest)
        } else {
            (domain, remainder) = (defaultDomain, name)
        }
        if domain == defaultDomain, !remainder.utf8.contains(.slash) {
            remainder = officialRepositoryPrefix + remainder
        }
        return (domain, remainder)
    }

    /// Go's `strings.ToLower(s) != s`.
    static func changesWhenLowercased(_ text: some StringProtocol) -> Bool {
        text.unicodeScalars.contains { scalar in
            scalar.isASCII ? (scalar.value >= 0x41 && scalar.value <= 0x5A) : scalar.properties.changesWhenLowercased
        }
    }

    /// Go's `strings.ToLower(text)` when the result is ASCII, else nil: only an ASCII string can match the grammar,
    /// so nil means "lowercasing would not help". Go maps two non-ASCII letters to ASCII (simple case mapping).
    static func lowercasedLikeGo(_ text: String) -> String? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar.value {
            case 0x41...0x5A: bytes.append(UInt8(scalar.value) + 0x20)
            case 0..<0x80: bytes.append(UInt8(scalar.value))
            case 0x130: bytes.append(UInt8(ascii: "i"))  // LATIN CAPITAL LETTER I WITH DOT ABOVE
            case 0x212A: bytes.append(UInt8(ascii: "k"))  // KELVIN SIGN
            default: return nil
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension ImageReference: Codable {
    /// Decodes the full string form with ``init(parsingStrict:)``, as distribution's `Field` does, so what was
    /// written is read back unchanged.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        do {
            try self.init(parsingStrict: text)
        } catch {
            throw DecodingError.dataCorrupted(
                .init(
                    codingPath: container.codingPath, debugDescription: "invalid reference \"\(text)\": \(error)",
                    underlyingError: error))
        }
    }

    /// Encodes as ``string``.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(string)
    }
}

/// What `ParseAnyReference` accepts: a named reference, a digest, or a bare 64-hex image ID.
public enum AnyReference: Hashable, Sendable, CustomStringConvertible {
    /// A repository with optional tag and digest.
    case named(ImageReference)
    /// A digest alone, from `sha256:<hex>` or from a bare image ID.
    case digest(Digest)

    /// `ParseAnyReference`: a 64-hex image ID is `sha256:<id>`, then any valid digest, else
    /// ``ImageReference/init(parsing:)``.
    public init(parsing text: String) throws(ReferenceError) {
        if ReferenceGrammar.isIdentifier(text), let digest = try? Digest(algorithm: .sha256, hex: text) {
            self = .digest(digest)
        } else if let digest = try? Digest(parsing: text) {
            self = .digest(digest)
        } else {
            self = .named(try ImageReference(parsing: text))
        }
    }

    /// The named reference, if any.
    public var named: ImageReference? {
        if case .named(let reference) = self { return reference }
        return nil
    }

    /// The digest: the only part of `.digest`, the optional one of `.named`.
    public var digest: Digest? {
        switch self {
        case .named(let reference): reference.digest
        case .digest(let digest): digest
        }
    }

    /// The full form.
    public var string: String {
        switch self {
        case .named(let reference): reference.string
        case .digest(let digest): digest.description
        }
    }

    /// The familiar form; a digest has no shorter one.
    public var familiarString: String {
        switch self {
        case .named(let reference): reference.familiarString
        case .digest(let digest): digest.description
        }
    }

    /// The full form.
    public var description: String { string }

    /// `FamiliarMatch`: see ``ImageReference/familiarMatches(_:)``; a digest is matched by its string.
    public func familiarMatches(_ pattern: String) throws(ReferenceError) -> Bool {
        switch self {
        case .named(let reference): try reference.familiarMatches(pattern)
        case .digest(let digest): try PathPattern.matches(pattern, digest.description)
        }
    }
}

/// Why a reference was rejected; texts are distribution/reference's (and go-digest's, Go `path`'s).
public enum ReferenceError: Error, Sendable, Equatable, CustomStringConvertible {
    /// `ErrReferenceInvalidFormat`.
    case invalidFormat
    /// `ErrTagInvalidFormat`.
    case invalidTag
    /// `ErrNameContainsUppercase`, from `Parse`.
    case nameContainsUppercase
    /// `ErrNameEmpty`.
    case nameEmpty
    /// `ErrNameTooLong`: the path exceeds ``ImageReference/nameTotalLengthMax``.
    case nameTooLong
    /// `ErrNameNotCanonical`, from `ParseNamed`.
    case nameNotCanonical
    /// `ParseNormalizedNamed` on a name whose repository part (given here) has uppercase letters.
    case uppercaseRepository(String)
    /// `ParseNormalizedNamed` on a 64-hex string (given here).
    case identifierNotAllowed(String)
    /// A digest that matched the reference grammar but failed go-digest validation.
    case digest(DigestError)
    /// Go's `path.ErrBadPattern`, from `FamiliarMatch`.
    case badPattern

    /// The reference implementation's text.
    public var description: String {
        switch self {
        case .invalidFormat: "invalid reference format"
        case .invalidTag: "invalid tag format"
        case .nameContainsUppercase: "repository name must be lowercase"
        case .nameEmpty: "repository name must have at least one component"
        case .nameTooLong: "repository name must not be more than \(ImageReference.nameTotalLengthMax) characters"
        case .nameNotCanonical: "repository name must be canonical"
        case .uppercaseRepository(let remote):
            "invalid reference format: repository name (\(remote)) must be lowercase"
        case .identifierNotAllowed(let text):
            "invalid repository name (\(text)), cannot specify 64-byte hexadecimal strings"
        case .digest(let error): error.description
        case .badPattern: "syntax error in pattern"
        }
    }
}
