import FerryPull
import FerryPush
import Foundation
import MirrorConfig
import OCIModel
import OCIRegistry

extension EndpointResolver {
    /// Endpoint rules from the mirror list's `registries:` section: mirrors, TLS mode, CA and client certificates.
    public init(mirrorList: MirrorList, extraMirrors: [String: [URL]] = [:]) {
        var hosts: [String: HostSettings] = [:]
        for (host, settings) in mirrorList.registries {
            hosts[host] = HostSettings(
                mirrors: settings.mirrors.map(Self.withoutTrailingSlash), tls: settings.tls.map(HostSettings.TLSMode.init),
                caFile: settings.caFile, clientCertificate: settings.clientCertificate, clientKey: settings.clientKey)
        }
        // A registry target's own tls/ca-file count for its host when registries: does not mention it.
        for target in mirrorList.targets.values {
            guard case .registry(let host, _) = target.destination, hosts[host] == nil else { continue }
            hosts[host] = HostSettings(tls: target.tls.map(HostSettings.TLSMode.init), caFile: target.caFile)
        }
        for (host, mirrors) in extraMirrors {
            hosts[host, default: HostSettings()].mirrors =
                mirrors.map(Self.withoutTrailingSlash) + (hosts[host]?.mirrors ?? [])
        }
        self.init(hosts: hosts)
    }

    static func withoutTrailingSlash(_ url: URL) -> URL {
        var text = url.absoluteString
        while text.hasSuffix("/") { text.removeLast() }
        return URL(string: text) ?? url
    }
}

extension HostSettings.TLSMode {
    /// The pull-side TLS mode for a mirror list TLS mode.
    init(_ mode: MirrorConfig.TLSMode) {
        switch mode {
        case .verify: self = .verify
        case .insecureSkipVerify: self = .insecureSkipVerify
        case .plainHTTP: self = .plainHTTP
        }
    }
}

/// Credentials as the mirror list says: per host either Docker's config (`docker-config`, the default) or explicit
/// `*-env` / `*-file` sources, read when a registry asks. Values are never logged or put in errors.
public struct MirrorListCredentials: CredentialProvider {
    private let list: MirrorList
    private let environment: [String: String]
    private let dockerConfig: DockerConfigCredentials

    /// Credentials for `list`, reading variables from `environment` and Docker's config from its usual place.
    public init(list: MirrorList, environment: [String: String]) {
        self.list = list
        self.environment = environment
        self.dockerConfig = DockerConfigCredentials(environment: environment)
    }

    /// The credential for `host` per its `credentials:` setting.
    public func credential(for host: String) async throws(CredentialError) -> Credential? {
        switch list.settings(for: host).credentials {
        case .dockerConfig:
            return try await dockerConfig.credential(for: host)
        case .explicit(let usernameSource, let secret):
            let username = try usernameSource.map { (source) throws(CredentialError) in
                switch source {
                case .literal(let name): return name
                case .reference(let reference): return try read(reference, host: host)
                }
            }
            switch secret {
            case .password(let reference):
                return .basic(username: username ?? "", password: try read(reference, host: host))
            case .token(let reference):
                return .identityToken(username: username ?? "", token: try read(reference, host: host))
            }
        }
    }

    private func read(_ reference: CredentialReference, host: String) throws(CredentialError) -> String {
        switch reference {
        case .environment(let name):
            guard let value = environment[name], !value.isEmpty else {
                throw .sourceMissing(host: host, source: "environment variable \(name) is not set")
            }
            return value
        case .file(let path):
            guard let data = FileManager.default.contents(atPath: path) else {
                throw .sourceMissing(host: host, source: "cannot read \(path)")
            }
            // Secret files written by `echo` end with a newline that is not part of the secret.
            return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .newlines)
        }
    }
}

extension PushTarget {
    /// The push target for a mirror-list target.
    public init(_ target: Target) {
        switch target.destination {
        case .registry(let host, let prefix): self.init(name: target.name, destination: .registry(host: host, prefix: prefix))
        case .layout(let path): self.init(name: target.name, destination: .layout(path: path))
        }
    }
}
