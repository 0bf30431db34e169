import Foundation
import OCIModel
import Yams

/// How often a tag the operator declared immutable is asked for again.
///
/// The mirror list writes it as `revalidate: 24h`: whole numbers with a unit `s`, `m`, `h` or `d`, concatenated
/// (`1h30m`), never zero; `never` is the default when `immutable-tags` is given without `revalidate`.
public struct RevalidateInterval: Sendable, Hashable, CustomStringConvertible {
    /// The interval.
    public let duration: Duration
    /// The text as written.
    public let text: String

    /// Parses `24h`, `30m`, `90s`, `7d`, `1h30m`; nil for anything else, zero included.
    public init?(parsing text: String) {
        var seconds: Int64 = 0
        var digits = ""
        var sawUnit = false
        for character in text {
            if character.isASCII, character.isNumber {
                digits.append(character)
                continue
            }
            let unit: Int64
            switch character {
            case "s": unit = 1
            case "m": unit = 60
            case "h": unit = 3600
            case "d": unit = 86400
            default: return nil
            }
            guard let value = Int64(digits), value <= 1_000_000 else { return nil }
            seconds += value * unit
            digits = ""
            sawUnit = true
        }
        guard sawUnit, digits.isEmpty, seconds > 0 else { return nil }
        duration = .seconds(seconds)
        self.text = text
    }

    /// The text as written.
    public var description: String { text }
}

/// Which recorded tags of an image entry are not asked for again (`immutable-tags`), and how often they are
/// rechecked anyway (`revalidate`).
public struct TagTrust: Sendable, Hashable {
    /// Tags matching any of these (anchored, like `include`) are trusted once recorded.
    public let patterns: [TagPattern]
    /// Recheck a trusted tag (one HEAD) when its last check is older than this; nil: never.
    public let revalidate: RevalidateInterval?

    /// Creates a policy.
    public init(patterns: [TagPattern], revalidate: RevalidateInterval?) {
        self.patterns = patterns
        self.revalidate = revalidate
    }

    /// True when `tag` matches one of the patterns.
    public func trusts(_ tag: String) -> Bool {
        patterns.contains { $0.matches(tag) }
    }
}

extension FileParser {
    static let revalidateExpected = "a duration such as 24h, 30m, 90s or 7d (whole numbers with s, m, h or d)"

    mutating func parseRevalidate(_ node: Node) -> RevalidateInterval? {
        guard let text = walker.string(node, field: "revalidate", expected: Self.revalidateExpected) else {
            return nil
        }
        guard let interval = RevalidateInterval(parsing: text) else {
            walker.wrongType("revalidate", node, expected: Self.revalidateExpected)
            return nil
        }
        return interval
    }

    /// `requests-per-second`: a positive number (decimals allowed: `0.5` is one request every two seconds).
    mutating func parseRequestsPerSecond(_ node: Node) -> Double? {
        let expected = "a positive number of requests per second such as 10 or 0.5"
        guard case .scalar(let scalar) = node, let value = Double(scalar.string), value.isFinite, value > 0,
            scalar.style == .plain
        else {
            walker.wrongType("requests-per-second", node, expected: expected)
            return nil
        }
        return value
    }

    /// `max-concurrent`: requests in flight to the host at once, at least 1.
    mutating func parseMaxConcurrent(_ node: Node) -> Int? {
        let expected = "a whole number of requests at once, at least 1"
        guard let value = walker.int(node, field: "max-concurrent", expected: expected) else { return nil }
        guard value >= 1 else {
            walker.wrongType("max-concurrent", node, expected: expected)
            return nil
        }
        return value
    }
}
