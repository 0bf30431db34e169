import FerryHTTP
import Foundation

/// One place an image can be fetched from: a registry or a mirror, with a scheme and TLS settings.
public struct RegistryEndpoint: Sendable, Hashable, CustomStringConvertible {
    /// `scheme://host[:port]`, without a trailing slash.
    public let baseURL: URL
    /// True for a configured mirror: mirrors fall back on almost any error (PULL-SEMANTICS §1.4).
    public let isMirror: Bool
    /// TLS settings for https endpoints.
    public let tls: TLSOptions
    /// The host whose credentials this endpoint uses (`docker.io` for `registry-1.docker.io`; a mirror uses its
    /// own host, so registry credentials never travel to a mirror).
    public let credentialHost: String

    /// Creates an endpoint; `baseURL` must be `http` or `https` with a host.
    public init(baseURL: URL, isMirror: Bool = false, tls: TLSOptions = .verify, credentialHost: String? = nil) {
        var text = baseURL.absoluteString
        while text.hasSuffix("/") { text.removeLast() }
        self.baseURL = URL(string: text) ?? baseURL
        self.isMirror = isMirror
        self.tls = tls
        self.credentialHost = credentialHost ?? Self.hostAndPort(self.baseURL)
    }

    /// `http` or `https`.
    public var scheme: String { baseURL.scheme?.lowercased() ?? "https" }

    /// `host[:port]` as in the URL (Go's `URL.Host`).
    public var host: String { Self.hostAndPort(baseURL) }

    static func hostAndPort(_ url: URL) -> String {
        let name = url.host ?? ""
        let bracketed = name.contains(":") && !name.hasPrefix("[") ? "[\(name)]" : name
        if let port = url.port { return "\(bracketed):\(port)" }
        return bracketed
    }

    /// The URL of `path` (starting with `/v2/`) on this endpoint.
    public func url(_ path: String, query: [(String, String)] = []) -> URL {
        var text = baseURL.absoluteString + path
        if !query.isEmpty {
            text += "?" + query.map { "\(Self.escape($0.0))=\(Self.escape($0.1))" }.joined(separator: "&")
        }
        return URL(string: text)!
    }

    /// True when `url` has this endpoint's scheme, host and port: credentials may be sent there.
    public func isSameOrigin(_ url: URL) -> Bool {
        url.scheme?.lowercased() == scheme && url.host?.lowercased() == baseURL.host?.lowercased()
            && (url.port ?? Self.defaultPort(url.scheme)) == (baseURL.port ?? Self.defaultPort(baseURL.scheme))
    }

    /// The base URL.
    public var description: String { baseURL.absoluteString }

    static func defaultPort(_ scheme: String?) -> Int { scheme?.lowercased() == "http" ? 80 : 443 }

    static func escape(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~:/")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }
}

/// A URL for messages: no user info, no query string (which may carry upload session state or tokens).
func redacted(_ url: URL) -> String {
    guard var components = URLComponents(url: url, resolvingAgainstBaseURL: false) else { return "<url>" }
    components.user = nil
    components.password = nil
    components.query = nil
    components.fragment = nil
    return components.string ?? "<url>"
}
