/// A semantic-version range with npm's (node-semver) syntax and prerelease rule.
///
/// * Comparators separated by spaces are ANDed; `||` separates alternatives (OR).
/// * Operators: `=` (or none), `>`, `>=`, `<`, `<=`, `~` (patch-level changes), `^` (changes that keep the left-most
///   non-zero part); a space after the operator is allowed (`>= 3.18`).
/// * Operands may be partial (`3`, `3.20`) or use `x`, `X`, `*` for a part; an optional leading `v` is ignored.
///   `3` alone means `>=3.0.0 <4.0.0-0`, `<=3.20` means `<3.21.0-0`, `>3` means `>=4.0.0`.
/// * A prerelease version (`2.0.0-rc1`) satisfies a set only when every comparator holds **and** some comparator of
///   that set names a prerelease of the same major.minor.patch, so `>=1.0.0` never picks `2.0.0-rc1`.
/// * Hyphen ranges (`1.2 - 2.3`) are not supported; write `>=1.2 <=2.3`.
/// - SeeAlso: https://github.com/npm/node-semver#ranges
public struct SemverRange: Sendable, Equatable, CustomStringConvertible {
    /// The range as written.
    public let text: String
    let alternatives: [[Comparator]]

    /// Parses a range such as `>=3.18.0 <4` or `^1.2 || ~2.0.0-rc1`.
    public init(parsing text: String) throws(SemverRangeError) {
        let trimmed = text.trimmingSpaces
        guard !trimmed.isEmpty else { throw .empty }
        var alternatives: [[Comparator]] = []
        for alternative in Self.splitAlternatives(trimmed) {
            let tokens = try Self.tokens(alternative)
            guard !tokens.isEmpty else { throw .emptyAlternative }
            var set: [Comparator] = []
            for token in tokens {
                set += try Self.desugar(token)
            }
            alternatives.append(set)
        }
        self.text = text
        self.alternatives = alternatives
    }

    /// True when `version` satisfies some alternative of the range.
    public func contains(_ version: SemanticVersion) -> Bool {
        alternatives.contains { set in
            guard set.allSatisfy({ $0.test(version) }) else { return false }
            guard version.isPrerelease else { return true }
            return set.contains { comparator in
                guard let bound = comparator.version, bound.isPrerelease else { return false }
                return bound.sameCore(as: version)
            }
        }
    }

    /// True when `tag` reads as a version (see ``SemanticVersion/init(tag:)``) inside the range.
    public func matches(tag: String) -> Bool {
        guard let version = SemanticVersion(tag: tag) else { return false }
        return contains(version)
    }

    /// The range as written.
    public var description: String { text }

    /// Ranges are equal when written the same way.
    public static func == (lhs: SemverRange, rhs: SemverRange) -> Bool { lhs.text == rhs.text }

    // MARK: Parsing

    struct Comparator: Sendable {
        enum Operator: Sendable { case equal, less, lessOrEqual, greater, greaterOrEqual }
        /// nil means "any version" (`*`).
        var op: Operator
        var version: SemanticVersion?

        static let any = Comparator(op: .greaterOrEqual, version: nil)
        /// Matches nothing, as node-semver's `<0.0.0-0`.
        static let none = Comparator(
            op: .less, version: SemanticVersion(major: 0, minor: 0, patch: 0, prerelease: ["0"]))

        func test(_ candidate: SemanticVersion) -> Bool {
            guard let version else { return true }
            let order = SemanticVersion.compare(candidate, version)
            switch op {
            case .equal: return order == 0
            case .less: return order < 0
            case .lessOrEqual: return order <= 0
            case .greater: return order > 0
            case .greaterOrEqual: return order >= 0
            }
        }
    }

    private enum Prefix: String, CaseIterable {
        // Longest first, so `>=` is not read as `>` followed by `=1`.
        case greaterOrEqual = ">=", lessOrEqual = "<=", greater = ">", less = "<", equal = "=", tilde = "~", caret = "^"
    }

    private struct Token {
        var prefix: Prefix?
        var operand: String
        var written: String
    }

    private static func splitAlternatives(_ text: String) -> [String] {
        var parts: [String] = []
        var current = ""
        var chars = Array(text)
        var i = 0
        while i < chars.count {
            if chars[i] == "|", i + 1 < chars.count, chars[i + 1] == "|" {
                parts.append(current)
                current = ""
                i += 2
                continue
            }
            current.append(chars[i])
            i += 1
        }
        parts.append(current)
        chars.removeAll()
        return parts
    }

    private static func tokens(_ alternative: String) throws(SemverRangeError) -> [Token] {
        let words = alternative.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        var tokens: [Token] = []
        var pending: Prefix?
        for word in words {
            var rest = Substring(word)
            var prefix: Prefix?
            for candidate in Prefix.allCases where rest.hasPrefix(candidate.rawValue) {
                prefix = candidate
                rest = rest.dropFirst(candidate.rawValue.count)
                break
            }
            if let waiting = pending {
                // `>= 3.18`: the operator stood alone, so this word is its operand.
                guard prefix == nil else { throw .operatorWithoutVersion(waiting.rawValue) }
                tokens.append(Token(prefix: waiting, operand: word, written: waiting.rawValue + " " + word))
                pending = nil
                continue
            }
            if rest.isEmpty {
                guard let prefix else { continue }
                pending = prefix
                continue
            }
            tokens.append(Token(prefix: prefix, operand: String(rest), written: word))
        }
        if let pending { throw .operatorWithoutVersion(pending.rawValue) }
        return tokens
    }

    private static func desugar(_ token: Token) throws(SemverRangeError) -> [Comparator] {
        guard let parsed = VersionText(token.operand) else { throw .notAVersion(token.written) }
        // Parts after a wildcard are ignored by node-semver; a number after one is a mistake worth reporting.
        let numbers = parsed.numbers
        var given: [Int] = []
        for (index, part) in numbers.enumerated() {
            guard let number = part.number else {
                if numbers[index...].contains(where: { $0.number != nil }) { throw .notAVersion(token.written) }
                break
            }
            given.append(number)
        }
        if !parsed.prerelease.isEmpty, given.count < 3 { throw .prereleaseNeedsFullVersion(token.written) }
        let pre = parsed.prerelease
        func version(_ major: Int, _ minor: Int, _ patch: Int, _ prerelease: [String] = []) -> SemanticVersion {
            SemanticVersion(major: major, minor: minor, patch: patch, prerelease: prerelease)
        }
        /// The exclusive upper bound `<next-0`, which also keeps out prereleases of `next`.
        func below(_ v: SemanticVersion) -> Comparator {
            Comparator(op: .less, version: version(v.major, v.minor, v.patch, ["0"]))
        }
        let full = given.count == 3 ? version(given[0], given[1], given[2], pre) : nil
        let low = version(given.first ?? 0, given.count > 1 ? given[1] : 0, given.count > 2 ? given[2] : 0, pre)

        switch token.prefix {
        case .none, .equal:
            if let full { return [Comparator(op: .equal, version: full)] }
            return rangeForPartial(given)
        case .greater:
            switch given.count {
            case 0: return [.none]
            case 1: return [Comparator(op: .greaterOrEqual, version: version(given[0] + 1, 0, 0))]
            case 2: return [Comparator(op: .greaterOrEqual, version: version(given[0], given[1] + 1, 0))]
            default: return [Comparator(op: .greater, version: full)]
            }
        case .greaterOrEqual:
            if given.isEmpty { return [.any] }
            return [Comparator(op: .greaterOrEqual, version: low)]
        case .less:
            if given.isEmpty { return [.none] }
            if let full { return [Comparator(op: .less, version: full)] }
            return [below(low)]
        case .lessOrEqual:
            switch given.count {
            case 0: return [.any]
            case 1: return [below(version(given[0] + 1, 0, 0))]
            case 2: return [below(version(given[0], given[1] + 1, 0))]
            default: return [Comparator(op: .lessOrEqual, version: full)]
            }
        case .tilde:
            switch given.count {
            case 0: return [.any]
            case 1: return [Comparator(op: .greaterOrEqual, version: low), below(version(given[0] + 1, 0, 0))]
            default:
                return [Comparator(op: .greaterOrEqual, version: low), below(version(given[0], given[1] + 1, 0))]
            }
        case .caret:
            guard let major = given.first else { return [.any] }
            let upper: SemanticVersion
            if major > 0 || given.count == 1 {
                upper = version(major + 1, 0, 0)
            } else if given[1] > 0 || given.count == 2 {
                upper = version(0, given[1] + 1, 0)
            } else {
                upper = version(0, 0, given[2] + 1)
            }
            return [Comparator(op: .greaterOrEqual, version: low), below(upper)]
        }
    }

    /// `3` → `>=3.0.0 <4.0.0-0`; `3.20` → `>=3.20.0 <3.21.0-0`; `*` → any.
    private static func rangeForPartial(_ given: [Int]) -> [Comparator] {
        switch given.count {
        case 0:
            return [.any]
        case 1:
            return [
                Comparator(op: .greaterOrEqual, version: SemanticVersion(major: given[0], minor: 0, patch: 0)),
                Comparator(
                    op: .less, version: SemanticVersion(major: given[0] + 1, minor: 0, patch: 0, prerelease: ["0"])),
            ]
        default:
            return [
                Comparator(op: .greaterOrEqual, version: SemanticVersion(major: given[0], minor: given[1], patch: 0)),
                Comparator(
                    op: .less,
                    version: SemanticVersion(major: given[0], minor: given[1] + 1, patch: 0, prerelease: ["0"])),
            ]
        }
    }
}

/// Why a semver range was rejected.
public enum SemverRangeError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The range is empty.
    case empty
    /// An `||` with nothing on one side.
    case emptyAlternative
    /// A word that is neither an operator nor a version.
    case notAVersion(String)
    /// An operator with no version after it.
    case operatorWithoutVersion(String)
    /// A prerelease on a partial version, such as `3.20-rc1`.
    case prereleaseNeedsFullVersion(String)

    /// What is wrong, and what is allowed.
    public var description: String {
        let allowed =
            "a range is comparators (=, >, >=, <, <=, ~, ^ and a version such as 3, 3.20, 3.20.1, 3.x or *) "
            + "separated by spaces (all must hold) or || (either)"
        switch self {
        case .empty: return "empty range; \(allowed)"
        case .emptyAlternative: return "nothing on one side of ||; \(allowed)"
        case .notAVersion(let word): return "\"\(word)\" is not a version; \(allowed)"
        case .operatorWithoutVersion(let op): return "\"\(op)\" has no version after it; \(allowed)"
        case .prereleaseNeedsFullVersion(let word):
            return "\"\(word)\": a prerelease needs a full major.minor.patch version; \(allowed)"
        }
    }
}

extension String {
    var trimmingSpaces: String {
        var view = Substring(self)
        while let first = view.first, first == " " || first == "\t" { view = view.dropFirst() }
        while let last = view.last, last == " " || last == "\t" { view = view.dropLast() }
        return String(view)
    }
}
