import FerryHTTP
import Foundation
import OCIModel
import OCIRegistry

/// How ferry talks to one registry host, from the mirror list's `registries:` (or defaults).
public struct HostSettings: Sendable, Hashable {
    /// Transport security for the host.
    public enum TLSMode: String, Sendable, Hashable, Codable {
        /// https only, certificate verified (against `caFile` when given).
        case verify
        /// https only, certificate not verified.
        case insecureSkipVerify = "insecure-skip-verify"
        /// http only.
        case plainHTTP = "plain-http"
    }

    /// Mirrors tried before the registry, in order.
    public var mirrors: [URL]
    /// Explicit TLS mode; nil means Docker's default (verify, or insecure for loopback hosts).
    public var tls: TLSMode?
    /// A CA bundle to verify the host with.
    public var caFile: String?
    /// Client certificate for mutual TLS.
    public var clientCertificate: String?
    /// Client key for mutual TLS.
    public var clientKey: String?

    /// Creates settings.
    public init(
        mirrors: [URL] = [], tls: TLSMode? = nil, caFile: String? = nil, clientCertificate: String? = nil,
        clientKey: String? = nil
    ) {
        self.mirrors = mirrors
        self.tls = tls
        self.caFile = caFile
        self.clientCertificate = clientCertificate
        self.clientKey = clientKey
    }
}

/// Builds the ordered endpoint list for a registry domain (PULL-SEMANTICS §1.2), with the mirror list's
/// per-host settings layered on top.
///
/// * Docker Hub: its mirrors in order, then `https://registry-1.docker.io`; never plain HTTP.
/// * Any other host: its mirrors (ferry allows mirrors for every registry, not only Hub), then `https://host`,
///   then `http://host` only when the host is insecure.
/// * Insecure by default: `localhost`, `127.0.0.0/8` and `::1`; an insecure host's https endpoint skips
///   certificate verification. A host's `tls:` setting overrides the default: `verify` and
///   `insecure-skip-verify` mean https only, `plain-http` means http only.
/// * A mirror given without a scheme gets `https://`; `http://` mirrors are plain text; a mirror's TLS follows
///   its own host's settings.
public struct EndpointResolver: Sendable {
    /// Settings per registry host (`docker.io`, `host:port`).
    public var hosts: [String: HostSettings]

    /// Creates a resolver.
    public init(hosts: [String: HostSettings] = [:]) {
        self.hosts = hosts
    }

    /// Docker Hub's API endpoint.
    public static let dockerHubEndpoint = URL(string: "https://registry-1.docker.io")!

    /// The endpoints for `domain`, mirrors first.
    public func endpoints(for domain: String) -> [RegistryEndpoint] {
        let settings = hosts[domain] ?? HostSettings()
        var result: [RegistryEndpoint] = []
        var seen: Set<String> = []
        for mirror in settings.mirrors {
            guard let endpoint = mirrorEndpoint(mirror), seen.insert(endpoint.description).inserted else { continue }
            result.append(endpoint)
        }
        if domain == ImageReference.defaultDomain {
            result.append(RegistryEndpoint(
                baseURL: Self.dockerHubEndpoint, tls: tlsOptions(settings, verify: true), credentialHost: domain))
            return result
        }
        let insecure = Self.isInsecureByDefault(domain)
        switch settings.tls {
        case .plainHTTP?:
            result.append(RegistryEndpoint(baseURL: URL(string: "http://\(domain)")!, credentialHost: domain))
        case .insecureSkipVerify?:
            result.append(RegistryEndpoint(
                baseURL: URL(string: "https://\(domain)")!, tls: tlsOptions(settings, verify: false),
                credentialHost: domain))
        case .verify?:
            result.append(RegistryEndpoint(
                baseURL: URL(string: "https://\(domain)")!, tls: tlsOptions(settings, verify: true),
                credentialHost: domain))
        case nil:
            result.append(RegistryEndpoint(
                baseURL: URL(string: "https://\(domain)")!, tls: tlsOptions(settings, verify: !insecure),
                credentialHost: domain))
            if insecure {
                result.append(RegistryEndpoint(baseURL: URL(string: "http://\(domain)")!, credentialHost: domain))
            }
        }
        return result
    }

    private func mirrorEndpoint(_ url: URL) -> RegistryEndpoint? {
        guard let host = url.host else { return nil }
        let hostKey = url.port.map { "\(host):\($0)" } ?? host
        let settings = hosts[hostKey] ?? HostSettings()
        if url.scheme?.lowercased() == "http" {
            return RegistryEndpoint(baseURL: url, isMirror: true, credentialHost: hostKey)
        }
        let verify: Bool
        switch settings.tls {
        case .insecureSkipVerify?: verify = false
        case .verify?, .plainHTTP?: verify = true
        case nil: verify = !Self.isInsecureByDefault(hostKey)
        }
        return RegistryEndpoint(
            baseURL: url, isMirror: true, tls: tlsOptions(settings, verify: verify), credentialHost: hostKey)
    }

    private func tlsOptions(_ settings: HostSettings, verify: Bool) -> TLSOptions {
        TLSOptions(verifyPeer: verify, caFile: settings.caFile, clientCertificate: settings.clientCertificate,
                   clientKey: settings.clientKey)
    }

    /// True for `localhost`, `127.0.0.0/8` and `::1`, with or without a port (Docker adds 127.0.0.0/8 always).
    public static func isInsecureByDefault(_ hostAndPort: String) -> Bool {
        var host = hostAndPort
        if host.hasPrefix("[") {
            if let close = host.firstIndex(of: "]") { host = String(host[host.index(after: host.startIndex)..<close]) }
        } else if let colon = host.lastIndex(of: ":") {
            host = String(host[..<colon])
        }
        if host == "localhost" || host == "::1" { return true }
        let octets = host.split(separator: ".")
        guard octets.count == 4, octets.allSatisfy({ UInt8($0) != nil }) else { return false }
        return octets[0] == "127"
    }
}
