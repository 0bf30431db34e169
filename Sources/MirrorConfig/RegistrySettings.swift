import Foundation
import OCIModel

/// How ferry talks TLS to a registry.
public enum TLSMode: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// HTTPS with certificate verification (default).
    case verify
    /// HTTPS without certificate verification.
    case insecureSkipVerify = "insecure-skip-verify"
    /// Plain HTTP, no TLS.
    case plainHTTP = "plain-http"

    /// The spelling used in the mirror list.
    public var description: String { rawValue }
}

/// Where a credential part comes from: the name of an environment variable or the path of a file, never a value.
public enum CredentialReference: Hashable, Sendable, CustomStringConvertible {
    /// Read from this environment variable when needed.
    case environment(String)
    /// Read from this file when needed (trailing newline trimmed by the reader).
    case file(String)

    /// `env:NAME` or `file:PATH`.
    public var description: String {
        switch self {
        case .environment(let name): "env:\(name)"
        case .file(let path): "file:\(path)"
        }
    }
}

/// Where the user name comes from. A literal user name is allowed; it is still never printed.
public enum UsernameSource: Hashable, Sendable, CustomStringConvertible {
    /// Written in the mirror list (`username:`).
    case literal(String)
    /// From an environment variable or a file.
    case reference(CredentialReference)

    /// `literal` (the name itself is not shown), `env:NAME` or `file:PATH`.
    public var description: String {
        switch self {
        case .literal: "literal"
        case .reference(let reference): reference.description
        }
    }
}

/// The secret half of explicit credentials: a password or a token, from the environment or a file.
public enum CredentialSecret: Hashable, Sendable, CustomStringConvertible {
    /// A password (`password-env` / `password-file`).
    case password(CredentialReference)
    /// A registry token (`token-env` / `token-file`), sent as a bearer or identity token.
    case token(CredentialReference)

    /// `password:env:NAME`, `token:file:PATH`, …
    public var description: String {
        switch self {
        case .password(let reference): "password:\(reference)"
        case .token(let reference): "token:\(reference)"
        }
    }
}

/// Where a registry's credentials come from. Resolving them is the registry client's job, not this module's.
public enum CredentialSource: Hashable, Sendable, CustomStringConvertible {
    /// `~/.docker/config.json`: `auths`, `credHelpers`, `credsStore` (default).
    case dockerConfig
    /// A user name (required with a password, optional with a token) and one secret.
    case explicit(username: UsernameSource?, secret: CredentialSecret)

    /// `docker-config`, or `username:env:USER,password:file:/run/secrets/x` (names and paths only).
    public var description: String {
        switch self {
        case .dockerConfig:
            return "docker-config"
        case .explicit(let username, let secret):
            let user = username.map { ["username:\($0)"] } ?? []
            return (user + [secret.description]).joined(separator: ",")
        }
    }
}

/// Per-host settings from `registries:`, used both when pulling from and pushing to that host.
public struct RegistrySettings: Hashable, Sendable {
    /// The normalized host (`docker.io`, not `index.docker.io`), with port when given.
    public let host: String
    /// Mirrors tried first, in order, deduplicated, each ending with `/`; then the host itself.
    public let mirrors: [URL]
    /// TLS mode for the host itself (mirrors carry their scheme); nil when not set, which means Docker's default:
    /// verify, except for loopback hosts (`localhost`, `127.0.0.0/8`, `::1`), tried with https then plain http.
    public let tls: TLSMode?
    /// A PEM bundle of extra CA certificates.
    public let caFile: String?
    /// A PEM client certificate for mutual TLS (always given together with ``clientKey``).
    public let clientCertificate: String?
    /// The PEM private key of ``clientCertificate``.
    public let clientKey: String?
    /// Where credentials come from.
    public let credentials: CredentialSource
    /// At most this many requests per second to the host (all kinds); nil: no pacing.
    public let requestsPerSecond: Double?
    /// At most this many requests in flight to the host at once; nil: bounded by `--jobs` only.
    public let maxConcurrent: Int?
    /// Where the entry was written; nil for the defaults of an unlisted host.
    public let location: SourceLocation?

    /// Creates settings; the defaults are those of a host the mirror list does not mention.
    public init(
        host: String, mirrors: [URL] = [], tls: TLSMode? = nil, caFile: String? = nil,
        clientCertificate: String? = nil, clientKey: String? = nil, credentials: CredentialSource = .dockerConfig,
        requestsPerSecond: Double? = nil, maxConcurrent: Int? = nil, location: SourceLocation? = nil
    ) {
        self.host = host
        self.mirrors = mirrors
        self.tls = tls
        self.caFile = caFile
        self.clientCertificate = clientCertificate
        self.clientKey = clientKey
        self.credentials = credentials
        self.requestsPerSecond = requestsPerSecond
        self.maxConcurrent = maxConcurrent
        self.location = location
    }

    /// Folds `index.docker.io` to `docker.io`, as reference parsing does, so keys and references agree.
    public static func normalizedHost(_ host: String) -> String {
        host == ImageReference.legacyDefaultDomain ? ImageReference.defaultDomain : host
    }
}
