/// A version read from an image tag, ordered by semantic-versioning precedence.
///
/// Tags are read leniently, the way skopeo sync and regsync (Masterminds semver) read them: an optional leading `v`,
/// one to three numeric parts (missing parts are 0, so `3.20` is 3.20.0), then an optional `-prerelease`.
/// Build metadata (`+…`) cannot occur in a tag, but is accepted and ignored in ranges.
/// - SeeAlso: https://semver.org/#spec-item-11
public struct SemanticVersion: Sendable, Comparable, CustomStringConvertible {
    /// The major version.
    public let major: Int
    /// The minor version (0 when the tag had none).
    public let minor: Int
    /// The patch version (0 when the tag had none).
    public let patch: Int
    /// The dot-separated prerelease identifiers; empty for a release.
    public let prerelease: [String]
    /// How many numeric parts were written (1–3); a tie-breaker between `3.20` and `3.20.0`.
    public let writtenParts: Int

    /// Creates a version from its parts.
    public init(major: Int, minor: Int, patch: Int, prerelease: [String] = []) {
        self.major = major
        self.minor = minor
        self.patch = patch
        self.prerelease = prerelease
        self.writtenParts = 3
    }

    /// Reads a tag such as `3`, `v3.20`, `3.20.1` or `2.0.0-rc1`; nil when the tag is not a version.
    public init?(tag: String) {
        guard let parsed = VersionText(tag), let major = parsed.numbers[0].number else { return nil }
        // A tag is a concrete version: wildcards (`3.x`) are range syntax only.
        var numbers = [major]
        for part in parsed.numbers.dropFirst() {
            guard let value = part.number else { return nil }
            numbers.append(value)
        }
        self.major = major
        self.minor = numbers.count > 1 ? numbers[1] : 0
        self.patch = numbers.count > 2 ? numbers[2] : 0
        self.prerelease = parsed.prerelease
        self.writtenParts = numbers.count
    }

    /// True for a prerelease such as `2.0.0-rc1`.
    public var isPrerelease: Bool { !prerelease.isEmpty }

    /// `major.minor.patch[-prerelease]`.
    public var description: String {
        let core = "\(major).\(minor).\(patch)"
        return prerelease.isEmpty ? core : core + "-" + prerelease.joined(separator: ".")
    }

    /// Equal precedence; `writtenParts` does not take part, so `3.20 == 3.20.0`.
    public static func == (lhs: SemanticVersion, rhs: SemanticVersion) -> Bool {
        compare(lhs, rhs) == 0
    }

    /// Semantic-versioning precedence.
    public static func < (lhs: SemanticVersion, rhs: SemanticVersion) -> Bool {
        compare(lhs, rhs) < 0
    }

    func sameCore(as other: SemanticVersion) -> Bool {
        major == other.major && minor == other.minor && patch == other.patch
    }

    static func compare(_ lhs: SemanticVersion, _ rhs: SemanticVersion) -> Int {
        for (l, r) in [(lhs.major, rhs.major), (lhs.minor, rhs.minor), (lhs.patch, rhs.patch)] where l != r {
            return l < r ? -1 : 1
        }
        // A release sorts after all of its prereleases.
        switch (lhs.prerelease.isEmpty, rhs.prerelease.isEmpty) {
        case (true, true): return 0
        case (true, false): return 1
        case (false, true): return -1
        case (false, false): break
        }
        for (l, r) in zip(lhs.prerelease, rhs.prerelease) {
            let order = compareIdentifiers(l, r)
            if order != 0 { return order }
        }
        if lhs.prerelease.count == rhs.prerelease.count { return 0 }
        return lhs.prerelease.count < rhs.prerelease.count ? -1 : 1
    }

    /// Numeric identifiers compare as numbers and sort before alphanumeric ones.
    private static func compareIdentifiers(_ lhs: String, _ rhs: String) -> Int {
        let ln = VersionText.isNumeric(lhs)
        let rn = VersionText.isNumeric(rhs)
        switch (ln, rn) {
        case (true, true):
            // Compare as numbers without overflow: strip leading zeros, then longer is larger.
            let l = lhs.drop { $0 == "0" }
            let r = rhs.drop { $0 == "0" }
            if l.count != r.count { return l.count < r.count ? -1 : 1 }
            return l == r ? 0 : (l < r ? -1 : 1)
        case (true, false): return -1
        case (false, true): return 1
        case (false, false): return lhs == rhs ? 0 : (lhs < rhs ? -1 : 1)
        }
    }
}

/// The lexical form shared by tags and range operands: `[v]N[.N[.N]][-pre][+build]`, where range operands may
/// use `x`, `X` or `*` for a number.
struct VersionText {
    /// One numeric part: a number, or nil for a wildcard.
    struct Part {
        var number: Int?
    }

    var numbers: [Part]
    var prerelease: [String]

    init?(_ text: some StringProtocol) {
        var rest = Substring(text)
        if rest.first == "v" || rest.first == "V" { rest = rest.dropFirst() }
        var build: Substring?
        if let plus = rest.firstIndex(of: "+") {
            build = rest[rest.index(after: plus)...]
            rest = rest[..<plus]
        }
        var pre: Substring?
        if let dash = rest.firstIndex(of: "-") {
            pre = rest[rest.index(after: dash)...]
            rest = rest[..<dash]
        }
        let parts = rest.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...3).contains(parts.count) else { return nil }
        var numbers: [Part] = []
        for part in parts {
            if part == "x" || part == "X" || part == "*" {
                numbers.append(Part(number: nil))
            } else if Self.isNumeric(part), part.count <= 15, let value = Int(part) {
                numbers.append(Part(number: value))
            } else {
                return nil
            }
        }
        self.numbers = numbers
        if let pre {
            let identifiers = pre.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            guard identifiers.allSatisfy(Self.isIdentifier) else { return nil }
            self.prerelease = identifiers
        } else {
            self.prerelease = []
        }
        if let build {
            let identifiers = build.split(separator: ".", omittingEmptySubsequences: false)
            guard identifiers.allSatisfy(Self.isIdentifier) else { return nil }
        }
    }

    static func isNumeric(_ text: some StringProtocol) -> Bool {
        !text.isEmpty && text.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
    }

    /// `[0-9A-Za-z-]+`.
    static func isIdentifier(_ text: some StringProtocol) -> Bool {
        !text.isEmpty
            && text.utf8.allSatisfy {
                ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || $0 == 0x2D
            }
    }
}
