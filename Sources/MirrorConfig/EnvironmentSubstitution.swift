/// `${NAME}` / `${NAME:-default}` replacement in scalar text.
///
/// `NAME` is `[A-Za-z_][A-Za-z0-9_]*`. `${NAME:-default}` uses `default` when `NAME` is unset **or empty** (the
/// shell's `:-`). The default runs to the first `}` and is not itself expanded. `$${` writes a literal `${`.
/// Any other `$` is kept as is, so regexes such as `^3\.2\d$` need no escaping.
enum EnvironmentSubstitution {
    enum Failure: Error, Equatable {
        /// `${NAME}` with `NAME` unset and no default.
        case unset(String)
        /// `${` not followed by `NAME}` or `NAME:-default}`.
        case malformed
    }

    static func expand(_ text: String, environment: [String: String]) throws(Failure) -> String {
        guard text.contains("${") else { return text }
        var out = ""
        var rest = Substring(text)
        while let dollar = rest.firstIndex(of: "$") {
            out += rest[..<dollar]
            let after = rest[rest.index(after: dollar)...]
            if after.hasPrefix("${") {
                out += "${"
                rest = after.dropFirst(2)
                continue
            }
            guard after.hasPrefix("{") else {
                out += "$"
                rest = after
                continue
            }
            let body = after.dropFirst()
            guard let close = body.firstIndex(of: "}") else { throw .malformed }
            let inside = body[..<close]
            rest = body[body.index(after: close)...]
            let name: Substring
            var fallback: Substring?
            if let range = inside.firstRange(of: ":-") {
                name = inside[..<range.lowerBound]
                fallback = inside[range.upperBound...]
            } else {
                name = inside
            }
            guard isName(name) else { throw .malformed }
            if let value = environment[String(name)], !(fallback != nil && value.isEmpty) {
                out += value
            } else if let fallback {
                out += fallback
            } else {
                throw .unset(String(name))
            }
        }
        out += rest
        return out
    }

    static func isName(_ text: Substring) -> Bool {
        guard let first = text.utf8.first, first == 0x5F || isAlpha(first) else { return false }
        return text.utf8.allSatisfy { $0 == 0x5F || isAlpha($0) || ($0 >= 0x30 && $0 <= 0x39) }
    }

    private static func isAlpha(_ b: UInt8) -> Bool { (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) }
}
