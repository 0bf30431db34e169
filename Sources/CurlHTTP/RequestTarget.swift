import Foundation

/// The parts of a request URL that may appear in logs and error messages.
///
/// User info and query strings can carry credentials (pre-signed storage redirects put signatures in the
/// query), so neither is ever shown; ``scrub(_:)`` also removes them from text that curl produced.
struct RequestTarget: Sendable {
    /// The host without port, IPv6 literals in brackets.
    let hostName: String
    /// `host:port`, with the scheme's default port filled in.
    let endpoint: String
    /// `scheme://host[:port]/path`.
    let display: String
    private let secrets: [String]

    init(_ url: URL) {
        let components = URLComponents(url: url, resolvingAgainstBaseURL: true)
        let host = components?.host ?? url.host ?? ""
        let bracketed = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
        let scheme = (components?.scheme ?? url.scheme ?? "").lowercased()
        let port = components?.port ?? (scheme == "https" ? 443 : 80)
        hostName = bracketed
        endpoint = "\(bracketed):\(port)"

        var shown = URLComponents()
        shown.scheme = scheme
        shown.percentEncodedHost = components?.percentEncodedHost
        shown.port = components?.port
        shown.percentEncodedPath = components?.percentEncodedPath ?? ""
        display = shown.string ?? "\(scheme)://\(bracketed)"

        secrets = [
            components?.percentEncodedUser, components?.user, components?.percentEncodedPassword,
            components?.password, components?.percentEncodedQuery, components?.query,
        ].compactMap { $0 }.filter { !$0.isEmpty }.sorted { $0.count > $1.count }
    }

    /// `text` with any user name, password or query string of the URL replaced by `***`.
    func scrub(_ text: String) -> String {
        var text = text
        for secret in secrets where text.contains(secret) {
            text = text.replacingOccurrences(of: secret, with: "***")
        }
        return text
    }
}
