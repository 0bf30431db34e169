/// A shell-style glob: `*` (any run of characters, `/` included), `?` (one character), `[abc]`, `[a-z]`, `[!a-z]` or
/// `[^a-z]` (one character in or not in the set) and `\x` (a literal `x`).
///
/// `*` crosses `/` on purpose (like `case` patterns, unlike file-name globbing), so `docker.io/*` selects every
/// Docker Hub image. An unclosed `[` is a literal `[`, as in fnmatch.
public struct Glob: Sendable, Hashable, CustomStringConvertible {
    /// The pattern as written.
    public let pattern: String
    private let elements: [Element]

    private enum Element: Sendable, Hashable {
        case literal(Character)
        case any
        case anyRun
        case set(negated: Bool, items: [SetItem])
    }

    private enum SetItem: Sendable, Hashable {
        case single(Character)
        case range(Character, Character)
    }

    /// Compiles `pattern`; every string is a valid glob.
    public init(_ pattern: String) {
        self.pattern = pattern
        var elements: [Element] = []
        let chars = Array(pattern)
        var i = 0
        while i < chars.count {
            let c = chars[i]
            switch c {
            case "*":
                if elements.last != .anyRun { elements.append(.anyRun) }
                i += 1
            case "?":
                elements.append(.any)
                i += 1
            case "\\" where i + 1 < chars.count:
                elements.append(.literal(chars[i + 1]))
                i += 2
            case "[":
                if let (set, next) = Self.parseSet(chars, from: i + 1) {
                    elements.append(set)
                    i = next
                } else {
                    elements.append(.literal("["))
                    i += 1
                }
            default:
                elements.append(.literal(c))
                i += 1
            }
        }
        self.elements = elements
    }

    /// True when the whole of `text` matches.
    public func matches(_ text: String) -> Bool {
        let chars = Array(text)
        // Iterative matcher with single-star backtracking: linear in practice, never exponential.
        var p = 0
        var t = 0
        var starP = -1
        var starT = 0
        while t < chars.count {
            if p < elements.count, elements[p] != .anyRun, Self.matchOne(elements[p], chars[t]) {
                p += 1
                t += 1
            } else if p < elements.count, elements[p] == .anyRun {
                starP = p
                starT = t
                p += 1
            } else if starP >= 0 {
                p = starP + 1
                starT += 1
                t = starT
            } else {
                return false
            }
        }
        while p < elements.count, elements[p] == .anyRun { p += 1 }
        return p == elements.count
    }

    /// The pattern as written.
    public var description: String { pattern }

    private static func matchOne(_ element: Element, _ c: Character) -> Bool {
        switch element {
        case .literal(let l): return l == c
        case .any: return true
        case .anyRun: return true
        case .set(let negated, let items):
            let hit = items.contains { item in
                switch item {
                case .single(let s): return s == c
                case .range(let lo, let hi): return lo <= c && c <= hi
                }
            }
            return hit != negated
        }
    }

    private static func parseSet(_ chars: [Character], from start: Int) -> (Element, Int)? {
        var i = start
        var negated = false
        if i < chars.count, chars[i] == "!" || chars[i] == "^" {
            negated = true
            i += 1
        }
        var items: [SetItem] = []
        var first = true
        while i < chars.count {
            var c = chars[i]
            // A `]` right after `[` or `[!` is a member, not the end.
            if c == "]", !first { return (.set(negated: negated, items: items), i + 1) }
            first = false
            if c == "\\", i + 1 < chars.count {
                i += 1
                c = chars[i]
            }
            if i + 2 < chars.count, chars[i + 1] == "-", chars[i + 2] != "]" {
                items.append(.range(c, chars[i + 2]))
                i += 3
            } else {
                items.append(.single(c))
                i += 1
            }
        }
        return nil
    }
}
