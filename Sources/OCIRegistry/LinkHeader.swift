import FerryHTTP
import Foundation

/// `Link` header fields, as the tag list (and referrers) API paginates with them: `Link: <url>; rel="next"`.
///
/// Scanned over bytes rather than split at `,` and `;`, since both may appear inside a URI reference or a quoted
/// parameter: a `;` in a next-page URL would otherwise end the listing silently after the first page.
// https://www.rfc-editor.org/rfc/rfc8288#section-3
// https://github.com/opencontainers/distribution-spec/blob/main/spec.md#listing-tags
public enum LinkHeader {
    /// One link-value: the URI reference between `<` and `>` and its relation types, lowercased.
    public struct Link: Sendable, Hashable {
        /// The URI reference as written (relative references are resolved by the caller).
        public var target: String
        /// The space-separated values of `rel`, lowercased.
        public var relations: [String]

        /// Creates a link.
        public init(target: String, relations: [String]) {
            self.target = target
            self.relations = relations
        }
    }

    /// The first `rel="next"` target of all `Link` fields of `headers`, resolved against `base`.
    ///
    /// The URL is returned whatever its scheme; callers decide what they follow.
    public static func next(in headers: HTTPHeaders, relativeTo base: URL) -> URL? {
        for value in headers.values(for: "Link") {
            for link in links(in: value) where link.relations.contains("next") {
                return URL(string: link.target, relativeTo: base)?.absoluteURL
            }
        }
        return nil
    }

    /// The link-values of one field value, in order. A malformed link-value is skipped up to the next `,` outside
    /// quotes; a `<` without its `>` ends the scan.
    public static func links(in value: String) -> [Link] {
        var scanner = Scanner(bytes: Array(value.utf8))
        var links: [Link] = []
        while true {
            scanner.skip { $0 == .space || $0 == .tab || $0 == .comma }
            guard let byte = scanner.peek() else { break }
            guard byte == .lessThan else {
                scanner.skipToNextValue()
                continue
            }
            scanner.position += 1
            guard let target = scanner.take(until: .greaterThan) else { break }
            var relations: [String] = []
            while true {
                scanner.skip { $0 == .space || $0 == .tab }
                guard scanner.peek() == .semicolon else {
                    if scanner.peek() != nil && scanner.peek() != .comma { scanner.skipToNextValue() }
                    break
                }
                scanner.position += 1
                scanner.skip { $0 == .space || $0 == .tab }
                let name = scanner.token()
                scanner.skip { $0 == .space || $0 == .tab }
                var parameter = ""
                if scanner.peek() == .equals {
                    scanner.position += 1
                    scanner.skip { $0 == .space || $0 == .tab }
                    parameter = scanner.peek() == .quote ? scanner.quoted() : scanner.token()
                }
                // RFC 8288 §3.3: only the first `rel` counts.
                if name.lowercased() == "rel", relations.isEmpty {
                    // Split on the bytes: a tab followed by a combining mark is one Character, yet still a separator.
                    relations = parameter.utf8.split(whereSeparator: { $0 == .space || $0 == .tab })
                        .map { String(decoding: $0, as: UTF8.self).lowercased() }
                }
            }
            links.append(Link(target: target, relations: relations))
        }
        return links
    }

    private struct Scanner {
        let bytes: [UInt8]
        var position = 0

        func peek() -> UInt8? { position < bytes.count ? bytes[position] : nil }

        mutating func skip(while predicate: (UInt8) -> Bool) {
            while position < bytes.count, predicate(bytes[position]) { position += 1 }
        }

        /// The text up to `terminator` (consumed), or nil when it never comes.
        mutating func take(until terminator: UInt8) -> String? {
            guard let end = bytes[position...].firstIndex(of: terminator) else {
                position = bytes.count
                return nil
            }
            defer { position = end + 1 }
            return String(decoding: bytes[position..<end], as: UTF8.self)
        }

        /// A parameter name or unquoted value: everything up to white space, `;`, `,` or `=`.
        mutating func token() -> String {
            let start = position
            skip { ![.space, .tab, .semicolon, .comma, .equals].contains($0) }
            return String(decoding: bytes[start..<position], as: UTF8.self)
        }

        /// A quoted string with backslash escapes; an unterminated one runs to the end.
        mutating func quoted() -> String {
            position += 1
            var out: [UInt8] = []
            while let byte = peek() {
                position += 1
                if byte == .quote { break }
                if byte == .backslash, let escaped = peek() {
                    out.append(escaped)
                    position += 1
                } else {
                    out.append(byte)
                }
            }
            return String(decoding: out, as: UTF8.self)
        }

        /// Past the next `,` that is not inside a quoted string (or to the end).
        mutating func skipToNextValue() {
            var inQuotes = false
            while let byte = peek() {
                position += 1
                if inQuotes, byte == .backslash {
                    if peek() != nil { position += 1 }
                } else if byte == .quote {
                    inQuotes.toggle()
                } else if byte == .comma, !inQuotes {
                    return
                }
            }
        }
    }
}

extension UInt8 {
    fileprivate static let space = UInt8(ascii: " ")
    fileprivate static let tab = UInt8(ascii: "\t")
    fileprivate static let comma = UInt8(ascii: ",")
    fileprivate static let semicolon = UInt8(ascii: ";")
    fileprivate static let equals = UInt8(ascii: "=")
    fileprivate static let quote = UInt8(ascii: "\"")
    fileprivate static let backslash = UInt8(ascii: "\\")
    fileprivate static let lessThan = UInt8(ascii: "<")
    fileprivate static let greaterThan = UInt8(ascii: ">")
}
