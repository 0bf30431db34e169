import OCIModel
import Foundation

/// Why a mirror URL was rejected; the texts are moby's `ValidateMirror` (`registry/config.go`).
public enum MirrorURLError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The text does not parse as a URI; what may be userinfo in it is concealed (`user:xxxxx`).
    case notAValidURI(String)
    /// The scheme is neither `http` nor `https`.
    case unsupportedScheme(scheme: String, uri: String)
    /// The URI has a path other than `/`, a query or a fragment.
    case pathQueryOrFragment(uri: String)
    /// The URI carries userinfo; `uri` has the password replaced by `xxxxx`, as moby prints it.
    case credentialsInURI(uri: String)

    /// moby's error text.
    public var description: String {
        switch self {
        case .notAValidURI(let text): "invalid mirror: \(goQuoted(text)) is not a valid URI"
        case .unsupportedScheme(let scheme, let uri):
            "invalid mirror: unsupported scheme \(goQuoted(scheme)) in \(goQuoted(uri))"
        case .pathQueryOrFragment(let uri):
            "invalid mirror: path, query, or fragment at end of the URI \(goQuoted(uri))"
        case .credentialsInURI(let uri): "invalid mirror: username/password not allowed in URI \(goQuoted(uri))"
        }
    }
}

/// Registry mirror URL validation.
public enum MirrorURL {
    /// Validates a mirror URL with moby's `ValidateMirror` rules and returns it normalised.
    ///
    /// A text without `://` gets `https://` first (as moby does for configured mirrors). The scheme must be `http` or
    /// `https`; the path may only be empty or `/`; a query, a fragment (even an empty `?` or `#`) or userinfo are
    /// refused. The result always ends with `/` (moby's stored form), and its scheme is lowercase.
    /// - SeeAlso: https://github.com/moby/moby/blob/master/registry/config.go (`ValidateMirror`)
    public static func validate(_ text: String) throws(MirrorURLError) -> URL {
        if text.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
            throw .notAValidURI(concealingUserinfo(text))
        }
        let full = text.contains("://") ? text : "https://" + text
        let schemeEnd = full.firstIndex(of: ":")!
        let scheme = String(full[..<schemeEnd])
        guard isScheme(scheme) else {
            // Go's url.Parse reads such a text as a relative path with no scheme.
            throw .unsupportedScheme(scheme: "", uri: concealingUserinfo(full))
        }
        let lowerScheme = scheme.lowercased()
        var rest = full[full.index(after: schemeEnd)...]
        var fragment: Substring?
        if let hash = rest.firstIndex(of: "#") {
            fragment = rest[rest.index(after: hash)...]
            rest = rest[..<hash]
        }
        var query: Substring?
        if let question = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: question)...]
            rest = rest[..<question]
        }
        guard rest.hasPrefix("//") else { throw .notAValidURI(concealingUserinfo(text)) }
        rest = rest.dropFirst(2)
        let authorityEnd = rest.firstIndex(of: "/") ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        let path = rest[authorityEnd...]
        var userinfo: Substring?
        var host = authority
        if let at = authority.lastIndex(of: "@") {
            userinfo = authority[..<at]
            host = authority[authority.index(after: at)...]
        }
        guard isHost(host) else { throw .notAValidURI(concealingUserinfo(text)) }
        func display(_ user: Substring?) -> String {
            var out = lowerScheme + "://"
            if let user { out += user + "@" }
            out += host + path
            if let query { out += "?" + query }
            if let fragment { out += "#" + fragment }
            // No userinfo before the host, but an `@` further on: a password with `/`, `?` or `#` split it there.
            return user == nil ? concealingUserinfo(out) : out
        }
        guard lowerScheme == "http" || lowerScheme == "https" else {
            throw .unsupportedScheme(scheme: lowerScheme, uri: display(userinfo.map(masked)))
        }
        if (!path.isEmpty && path != "/") || query != nil || fragment != nil {
            throw .pathQueryOrFragment(uri: display(userinfo.map(masked)))
        }
        if let userinfo {
            throw .credentialsInURI(uri: display(masked(userinfo)))
        }
        let normalized = lowerScheme + "://" + host + "/"
        guard let url = URL(string: normalized), url.host != nil else { throw .notAValidURI(concealingUserinfo(text)) }
        return url
    }

    /// `text` with what may be userinfo (between the scheme and the last `@`) shown as `user:xxxxx`, or `xxxxx` when
    /// it has no `:`. For texts whose userinfo did not parse as such, which moby echoes: a password holding `/`, `?`
    /// or `#` ends the authority early, and the rest must not reach an error message.
    private static func concealingUserinfo(_ text: String) -> String {
        guard let at = text.lastIndex(of: "@") else { return text }
        var start = text.range(of: "://")?.upperBound ?? text.startIndex
        if start > at { start = text.startIndex }
        let userinfo = text[start..<at]
        let shown = userinfo.contains(":") ? userinfo.prefix { $0 != ":" } + ":xxxxx" : "xxxxx"
        return String(text[..<start]) + shown + String(text[at...])
    }

    /// `user:xxxxx`, as moby replaces the password before printing.
    private static func masked(_ userinfo: Substring) -> Substring {
        let user = userinfo.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        return user + ":xxxxx"
    }

    /// `[A-Za-z][A-Za-z0-9+.-]*`.
    private static func isScheme(_ text: String) -> Bool {
        guard let first = text.utf8.first, isAlpha(first) else { return false }
        return text.utf8.allSatisfy { isAlpha($0) || isDigit($0) || $0 == 0x2B || $0 == 0x2E || $0 == 0x2D }
    }

    /// A registered name or IPv4 address, or a bracketed IPv6 address, with an optional numeric port.
    private static func isHost(_ text: Substring) -> Bool {
        var name = text
        var port: Substring = ""
        if text.first == "[" {
            guard let close = text.firstIndex(of: "]") else { return false }
            let inner = text[text.index(after: text.startIndex)..<close]
            guard !inner.isEmpty, inner.utf8.allSatisfy({ isHexDigit($0) || $0 == 0x3A || $0 == 0x2E }) else {
                return false
            }
            let after = text[text.index(after: close)...]
            guard after.isEmpty || after.first == ":" else { return false }
            return after.isEmpty || after.dropFirst().utf8.allSatisfy(isDigit)
        }
        if let colon = text.lastIndex(of: ":") {
            name = text[..<colon]
            port = text[text.index(after: colon)...]
            guard port.utf8.allSatisfy(isDigit) else { return false }
        }
        guard !name.isEmpty else { return false }
        return name.utf8.allSatisfy {
            isAlpha($0) || isDigit($0) || $0 == 0x2D || $0 == 0x2E || $0 == 0x5F || $0 == 0x7E
        }
    }

    private static func isAlpha(_ b: UInt8) -> Bool { (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) }
    private static func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }
    private static func isHexDigit(_ b: UInt8) -> Bool {
        isDigit(b) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66)
    }
}

