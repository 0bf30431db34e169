/// A repository name: a registry domain and a path, e.g. `docker.io` + `library/alpine`.
///
/// Only produced by ``ImageReference`` parsing, so it always satisfies the grammar.
public struct RepositoryName: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The registry host with optional port: `docker.io`, `localhost:5000`, `[::1]:5000`.
    /// Empty only for references parsed with ``ImageReference/init(parsingStrict:)`` that had no domain.
    public let domain: String
    /// The path below the domain, e.g. `library/alpine`.
    public let path: String

    init(domain: String, path: String) {
        self.domain = domain
        self.path = path
    }

    /// `domain/path`, or `path` when there is no domain (distribution's `Name()`).
    public var name: String { domain.isEmpty ? path : "\(domain)/\(path)" }

    /// The short form Docker shows: no `docker.io/`, and no `library/` for two-component official images.
    public var familiarName: String {
        guard domain == ImageReference.defaultDomain else { return name }
        let prefix = ImageReference.officialRepositoryPrefix
        if path.hasPrefix(prefix) {
            let rest = path.dropFirst(prefix.count)
            if !rest.contains("/") { return String(rest) }
        }
        return path
    }

    /// The full name.
    public var description: String { name }

    /// Orders by full name.
    public static func < (lhs: RepositoryName, rhs: RepositoryName) -> Bool { lhs.name < rhs.name }
}

/// An image reference: a repository plus an optional tag and an optional digest.
///
/// Implements the grammar of `github.com/distribution/reference` (the current module, not the legacy
/// docker/distribution copy): IPv6 hosts and uppercase first components count as domains, and the 255-character
/// limit applies to the path only. ``init(parsing:)`` is `ParseNormalizedNamed`.
// https://github.com/distribution/reference/blob/main/reference.go
// https://github.com/distribution/reference/blob/main/normalize.go
public struct ImageReference: Hashable, Sendable, CustomStringConvertible {
    /// The repository.
    public let repository: RepositoryName
    /// The tag, if any.
    public let tag: String?
    /// The digest, if any.
    public let digest: Digest?

    /// Docker Hub's canonical domain.
    public static let defaultDomain = "docker.io"
    /// The domain that folds to ``defaultDomain``.
    public static let legacyDefaultDomain = "index.docker.io"
    /// The namespace of Docker Hub's official images.
    public static let officialRepositoryPrefix = "library/"
    /// The longest path distribution accepts.
    public static let nameTotalLengthMax = 255

    /// Parses a user-supplied reference the way `docker pull` does (`ParseNormalizedNamed`):
    /// a missing domain becomes `docker.io`, `index.docker.io` folds to `docker.io`, and one-component
    /// Docker Hub names gain `library/`.
    public init(parsing text: String) throws(ReferenceError) {
        if Self.isIdentifier(text) { throw .identifierNotAllowed(text) }
        let (domain, remainder) = Self.splitDockerDomain(text)
        let remote: Substring
        if let colon = remainder.firstIndex(of: ":") {
            remote = remainder[..<colon]
        } else {
            remote = remainder[...]
        }
        if remote.lowercased() != remote { throw .uppercaseRepository(String(remote)) }
        let parsed = try Self.parse(domain + "/" + remainder)
        self = parsed
    }

    /// Parses a reference exactly as written (`reference.Parse`): no default domain, no `library/`.
    /// A reference without a domain has an empty ``RepositoryName/domain``.
    public init(parsingStrict text: String) throws(ReferenceError) {
        self = try Self.parse(text)
    }

    /// Builds a reference from validated parts.
    public init(repository: RepositoryName, tag: String? = nil, digest: Digest? = nil) {
        self.repository = repository
        self.tag = tag
        self.digest = digest
    }

    /// `domain` of the repository.
    public var domain: String { repository.domain }
    /// `path` of the repository.
    public var path: String { repository.path }
    /// `domain/path`.
    public var name: String { repository.name }
    /// ``RepositoryName/familiarName``.
    public var familiarName: String { repository.familiarName }

    /// The short form Docker shows: familiar name plus `:tag` and `@digest`.
    public var familiarString: String { Self.format(familiarName, tag, digest) }

    /// The full form: `domain/path[:tag][@digest]`.
    public var string: String { Self.format(name, tag, digest) }

    /// The full form.
    public var description: String { string }

    /// True when there is neither tag nor digest.
    public var isNameOnly: Bool { tag == nil && digest == nil }

    /// This reference without tag and digest.
    public var nameOnly: ImageReference { ImageReference(repository: repository) }

    /// The same repository with `tag`, dropping any digest. Fails when `tag` is not a valid tag.
    public func withTag(_ tag: String) throws(ReferenceError) -> ImageReference {
        guard Self.isTag(tag[...]) else { throw .invalidTag }
        return ImageReference(repository: repository, tag: tag)
    }

    /// The same repository with `digest`, keeping any tag.
    public func withDigest(_ digest: Digest) -> ImageReference {
        ImageReference(repository: repository, tag: tag, digest: digest)
    }

    /// `:latest` added when the reference is name-only (distribution's `TagNameOnly`).
    public func taggedLatestIfNameOnly() -> ImageReference {
        isNameOnly ? ImageReference(repository: repository, tag: "latest") : self
    }

    /// True when `text` is a valid tag.
    public static func isValidTag(_ text: String) -> Bool { isTag(text[...]) }

    private static func format(_ name: String, _ tag: String?, _ digest: Digest?) -> String {
        var out = name
        if let tag { out += ":" + tag }
        if let digest { out += "@" + digest.description }
        return out
    }

    // MARK: Grammar

    /// `reference.Parse`.
    static func parse(_ text: String) throws(ReferenceError) -> ImageReference {
        if text.isEmpty { throw .nameEmpty }
        guard let match = matchReference(Substring(text)) else {
            let lowered = text.lowercased()
            if lowered != text, matchReference(Substring(lowered)) != nil { throw .nameContainsUppercase }
            throw .invalidFormat
        }
        let repository: RepositoryName
        if let (domain, path) = splitNameWithDomain(match.name) {
            repository = RepositoryName(domain: String(domain), path: String(path))
        } else {
            repository = RepositoryName(domain: "", path: String(match.name))
        }
        if repository.path.count > nameTotalLengthMax { throw .nameTooLong }
        var digest: Digest?
        if let digestText = match.digest {
            do {
                digest = try Digest(parsing: digestText)
            } catch {
                throw .digest(error)
            }
        }
        return ImageReference(repository: repository, tag: match.tag.map(String.init), digest: digest)
    }

    /// `splitDockerDomain` of normalize.go.
    static func splitDockerDomain(_ name: String) -> (String, String) {
        var domain: String
        var remainder: String
        if let slash = name.firstIndex(of: "/") {
            let first = name[..<slash]
            let looksLikeDomain =
                first.contains(".") || first.contains(":") || first == "localhost" || first.lowercased() != first
            if looksLikeDomain {
                domain = String(first)
                remainder = String(name[name.index(after: slash)...])
            } else {
                domain = defaultDomain
                remainder = name
            }
        } else {
            domain = defaultDomain
            remainder = name
        }
        if domain == legacyDefaultDomain { domain = defaultDomain }
        if domain == defaultDomain, !remainder.contains("/") {
            remainder = officialRepositoryPrefix + remainder
        }
        return (domain, remainder)
    }

    private struct Match {
        var name: Substring
        var tag: Substring?
        var digest: Substring?
    }

    /// The anchored `ReferenceRegexp`: `name(:tag)?(@digest)?`.
    ///
    /// Hand-written instead of a regex so that parsing a mirror list never compiles patterns; the grammar is
    /// unambiguous once the digest (after the last `@`) and the tag (after the last `:` that follows the
    /// last `/`) are split off.
    private static func matchReference(_ text: Substring) -> Match? {
        var rest = text
        var digest: Substring?
        if let at = rest.lastIndex(of: "@") {
            let candidate = rest[rest.index(after: at)...]
            guard isDigestPattern(candidate) else { return nil }
            digest = candidate
            rest = rest[..<at]
        }
        var tag: Substring?
        let lastSlash = rest.lastIndex(of: "/")
        let searchStart = lastSlash.map { rest.index(after: $0) } ?? rest.startIndex
        if let colon = rest[searchStart...].lastIndex(of: ":") {
            let candidate = rest[rest.index(after: colon)...]
            // Without a slash, `host:port` alone is not a valid name anyway, so the colon is a tag separator.
            if isTag(candidate) {
                tag = candidate
                rest = rest[..<colon]
            } else {
                return nil
            }
        }
        guard isName(rest) else { return nil }
        return Match(name: rest, tag: tag, digest: digest)
    }

    /// `anchoredNameRegexp`: optional `domainAndPort/` then the remote name. Returns the split when a domain
    /// is present.
    private static func splitNameWithDomain(_ name: Substring) -> (Substring, Substring)? {
        guard let slash = name.firstIndex(of: "/") else { return nil }
        let first = name[..<slash]
        let rest = name[name.index(after: slash)...]
        // The regex is greedy on the optional domain: the first component is a domain whenever it parses as one
        // and the rest is a valid remote name.
        if isDomainAndPort(first), isRemoteName(rest) { return (first, rest) }
        return nil
    }

    private static func isName(_ name: Substring) -> Bool {
        if isRemoteName(name) { return true }
        if let (_, _) = splitNameWithDomain(name) { return true }
        return false
    }

    /// `remoteName = pathComponent(/pathComponent)*`.
    static func isRemoteName(_ text: Substring) -> Bool {
        guard !text.isEmpty else { return false }
        return text.split(separator: "/", omittingEmptySubsequences: false).allSatisfy(isPathComponent)
    }

    /// `pathComponent = [a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`.
    static func isPathComponent(_ text: Substring) -> Bool {
        let bytes = Array(text.utf8)
        guard let first = bytes.first, let last = bytes.last, isLowerAlnum(first), isLowerAlnum(last) else {
            return false
        }
        var i = 0
        while i < bytes.count {
            if isLowerAlnum(bytes[i]) {
                i += 1
                continue
            }
            // A separator run: one `.`, one `_`, `__`, or any number of `-`.
            var j = i
            while j < bytes.count, !isLowerAlnum(bytes[j]) { j += 1 }
            let separator = bytes[i..<j]
            let ok =
                separator.elementsEqual([0x2E]) || separator.elementsEqual([0x5F])
                || separator.elementsEqual([0x5F, 0x5F]) || separator.allSatisfy { $0 == 0x2D }
            if !ok { return false }
            i = j
        }
        return true
    }

    /// `domainAndPort = (domainName | ipv6address)(:[0-9]+)?`.
    static func isDomainAndPort(_ text: Substring) -> Bool {
        var host = text
        if text.first == "[" {
            guard let close = text.firstIndex(of: "]") else { return false }
            let inner = text[text.index(after: text.startIndex)..<close]
            guard !inner.isEmpty, inner.utf8.allSatisfy({ isHexDigit($0) || $0 == 0x3A }) else { return false }
            let after = text[text.index(after: close)...]
            return after.isEmpty || isPort(after)
        }
        if let colon = text.firstIndex(of: ":") {
            guard isPort(text[colon...]) else { return false }
            host = text[..<colon]
        }
        guard !host.isEmpty else { return false }
        return host.split(separator: ".", omittingEmptySubsequences: false).allSatisfy(isDomainComponent)
    }

    private static func isPort(_ text: Substring) -> Bool {
        guard text.first == ":" else { return false }
        let digits = text.dropFirst()
        return !digits.isEmpty && digits.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
    }

    /// `domainNameComponent = [a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]`.
    private static func isDomainComponent(_ text: Substring) -> Bool {
        let bytes = Array(text.utf8)
        guard let first = bytes.first, let last = bytes.last, isAlnum(first), isAlnum(last) else { return false }
        return bytes.allSatisfy { isAlnum($0) || $0 == 0x2D }
    }

    /// `tag = [\w][\w.-]{0,127}`.
    static func isTag(_ text: Substring) -> Bool {
        let bytes = Array(text.utf8)
        guard let first = bytes.first, bytes.count <= 128, isWord(first) else { return false }
        return bytes.allSatisfy { isWord($0) || $0 == 0x2E || $0 == 0x2D }
    }

    /// `digestPat = [A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][[:xdigit:]]{32,}`.
    static func isDigestPattern(_ text: Substring) -> Bool {
        guard let colon = text.firstIndex(of: ":") else { return false }
        let algorithm = Array(text[..<colon].utf8)
        let hex = text[text.index(after: colon)...]
        guard hex.utf8.count >= 32, hex.utf8.allSatisfy(isHexDigit) else { return false }
        guard let first = algorithm.first, isAlpha(first) else { return false }
        var previousWasSeparator = false
        for byte in algorithm {
            if isAlpha(byte) {
                previousWasSeparator = false
            } else if isDigit(byte) {
                if previousWasSeparator { return false }
            } else if byte == 0x2D || byte == 0x5F || byte == 0x2B || byte == 0x2E {
                if previousWasSeparator { return false }
                previousWasSeparator = true
            } else {
                return false
            }
        }
        return !previousWasSeparator
    }

    /// `anchoredIdentifierRegexp = [a-f0-9]{64}`.
    static func isIdentifier(_ text: String) -> Bool {
        text.utf8.count == 64 && text.utf8.allSatisfy { isDigit($0) || ($0 >= 0x61 && $0 <= 0x66) }
    }

    private static func isLowerAlnum(_ b: UInt8) -> Bool { (b >= 0x61 && b <= 0x7A) || isDigit(b) }
    private static func isAlnum(_ b: UInt8) -> Bool { isAlpha(b) || isDigit(b) }
    private static func isAlpha(_ b: UInt8) -> Bool { (b >= 0x61 && b <= 0x7A) || (b >= 0x41 && b <= 0x5A) }
    private static func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }
    private static func isWord(_ b: UInt8) -> Bool { isAlnum(b) || b == 0x5F }
    private static func isHexDigit(_ b: UInt8) -> Bool { isDigit(b) || (b >= 0x61 && b <= 0x66) || (b >= 0x41 && b <= 0x46) }
}

/// Why a reference was rejected; texts are distribution/reference's.
public enum ReferenceError: Error, Sendable, Equatable, CustomStringConvertible {
    /// `ErrReferenceInvalidFormat`.
    case invalidFormat
    /// `ErrTagInvalidFormat`.
    case invalidTag
    /// `ErrNameContainsUppercase`, from `Parse`.
    case nameContainsUppercase
    /// `ErrNameEmpty`.
    case nameEmpty
    /// `ErrNameTooLong`.
    case nameTooLong
    /// `ParseNormalizedNamed` on a name with uppercase letters in the repository part.
    case uppercaseRepository(String)
    /// `ParseNormalizedNamed` on a 64-hex string.
    case identifierNotAllowed(String)
    /// A digest that matched the pattern but failed go-digest validation.
    case digest(DigestError)

    /// The reference implementation's text.
    public var description: String {
        switch self {
        case .invalidFormat: "invalid reference format"
        case .invalidTag: "invalid tag format"
        case .nameContainsUppercase: "repository name must be lowercase"
        case .nameEmpty: "repository name must have at least one component"
        case .nameTooLong: "repository name must not be more than \(ImageReference.nameTotalLengthMax) characters"
        case .uppercaseRepository(let remote):
            "invalid reference format: repository name (\(remote)) must be lowercase"
        case .identifierNotAllowed(let text):
            "invalid repository name (\(text)), cannot specify 64-byte hexadecimal strings"
        case .digest(let error): error.description
        }
    }
}
