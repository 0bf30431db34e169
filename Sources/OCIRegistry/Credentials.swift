import Foundation

/// A credential for one registry host. Its description never shows secrets.
public enum Credential: Sendable, Hashable, CustomStringConvertible {
    /// User name and password (or personal access token), sent as Basic auth or to the token server.
    case basic(username: String, password: String)
    /// An OAuth refresh ("identity") token, exchanged at the token server with `grant_type=refresh_token`.
    case identityToken(username: String, token: String)

    /// The user name, for the token request's `account` parameter and the cache key.
    public var username: String {
        switch self {
        case .basic(let username, _), .identityToken(let username, _): username
        }
    }

    /// Redacted: `credentials for <user>`.
    public var description: String { "credentials for \(username.isEmpty ? "<token>" : username)" }
}

/// Where credentials come from. Implementations must never log or return secrets in errors.
public protocol CredentialProvider: Sendable {
    /// The credential for `host` (`host[:port]`, with `docker.io` for Docker Hub), or nil for anonymous access.
    func credential(for host: String) async throws(CredentialError) -> Credential?
}

/// Why credentials could not be read; names the source, never the secret.
public enum CredentialError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The docker config file exists but does not parse.
    case invalidConfig(path: String, message: String)
    /// A credential helper failed.
    case helperFailed(helper: String, host: String, message: String)
    /// A credential source named by the mirror list is missing (unset variable, unreadable file).
    case sourceMissing(host: String, source: String)

    /// A message naming the source.
    public var description: String {
        switch self {
        case .invalidConfig(let path, let message): "\(path): invalid docker config: \(message)"
        case .helperFailed(let helper, let host, let message):
            "credential helper docker-credential-\(helper) failed for \(host): \(message)"
        case .sourceMissing(let host, let source): "credentials for \(host): \(source)"
        }
    }
}

/// No credentials for any host.
public struct AnonymousCredentials: CredentialProvider {
    /// Creates the provider.
    public init() {}
    /// Always nil.
    public func credential(for host: String) async throws(CredentialError) -> Credential? { nil }
}

/// Fixed credentials per host (from the mirror list's env/file sources, resolved by the caller).
public struct StaticCredentials: CredentialProvider {
    private let byHost: [String: Credential]

    /// Credentials keyed by `host[:port]`.
    public init(_ byHost: [String: Credential]) { self.byHost = byHost }

    /// The credential registered for `host`.
    public func credential(for host: String) async throws(CredentialError) -> Credential? { byHost[host] }
}

/// Asks each provider in turn and returns the first credential found.
public struct ChainedCredentials: CredentialProvider {
    private let providers: [any CredentialProvider]

    /// Providers in priority order.
    public init(_ providers: [any CredentialProvider]) { self.providers = providers }

    /// The first provider's non-nil answer.
    public func credential(for host: String) async throws(CredentialError) -> Credential? {
        for provider in providers {
            if let credential = try await provider.credential(for: host) { return credential }
        }
        return nil
    }
}

/// Credentials from Docker's `config.json`: `credHelpers` for the host, else `credsStore`, else `auths`.
///
/// The file is `$DOCKER_CONFIG/config.json` or `~/.docker/config.json`. Docker Hub's entry is keyed
/// `https://index.docker.io/v1/`; other hosts by `host`, `https://host` or `http://host` (with or without a path).
// https://github.com/docker/cli/blob/master/cli/config/configfile/file.go
public struct DockerConfigCredentials: CredentialProvider {
    private let path: String
    private let environment: [String: String]

    /// Reads the config at `path`, or at Docker's default location when nil.
    public init(path: String? = nil, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.environment = environment
        if let path {
            self.path = path
        } else if let dir = environment["DOCKER_CONFIG"], !dir.isEmpty {
            self.path = dir + "/config.json"
        } else {
            self.path = (environment["HOME"] ?? NSHomeDirectory()) + "/.docker/config.json"
        }
    }

    private struct ConfigFile: Decodable {
        struct AuthEntry: Decodable {
            var auth: String?
            var username: String?
            var password: String?
            var identitytoken: String?
        }
        var auths: [String: AuthEntry]?
        var credHelpers: [String: String]?
        var credsStore: String?
    }

    /// The key Docker uses for `host` in `auths` and helper requests.
    static func serverKey(for host: String) -> String {
        host == "docker.io" ? "https://index.docker.io/v1/" : host
    }

    /// The credential for `host`, or nil when the config has none (or does not exist).
    public func credential(for host: String) async throws(CredentialError) -> Credential? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        let config: ConfigFile
        do {
            config = try JSONDecoder().decode(ConfigFile.self, from: data)
        } catch {
            throw .invalidConfig(path: path, message: "not valid JSON")
        }
        let key = Self.serverKey(for: host)
        if let helper = config.credHelpers?[host] ?? config.credHelpers?[key], !helper.isEmpty {
            return try await CredentialHelper(name: helper, environment: environment).get(serverURL: key, host: host)
        }
        if let store = config.credsStore, !store.isEmpty {
            if let credential = try await CredentialHelper(name: store, environment: environment).get(
                serverURL: key, host: host)
            {
                return credential
            }
        }
        guard let auths = config.auths else { return nil }
        let entry = auths[key] ?? auths.first { Self.normalizedHost($0.key) == host }?.value
        guard let entry else { return nil }
        return try decode(entry, host: host)
    }

    private func decode(_ entry: ConfigFile.AuthEntry, host: String) throws(CredentialError) -> Credential? {
        var username = entry.username ?? ""
        var password = entry.password ?? ""
        if let auth = entry.auth, !auth.isEmpty {
            guard let decoded = Data(base64Encoded: auth).map({ String(decoding: $0, as: UTF8.self) }),
                let colon = decoded.firstIndex(of: ":")
            else {
                throw .invalidConfig(path: path, message: "auths entry for \(host) has an invalid auth value")
            }
            username = String(decoded[..<colon])
            password = String(decoded[decoded.index(after: colon)...])
        }
        if let token = entry.identitytoken, !token.isEmpty {
            return .identityToken(username: username, token: token)
        }
        if username.isEmpty && password.isEmpty { return nil }
        return .basic(username: username, password: password)
    }

    /// `https://host:5000/v1/` → `host:5000`; Docker Hub's legacy keys → `docker.io`.
    static func normalizedHost(_ key: String) -> String {
        var text = Substring(key)
        if let scheme = text.range(of: "://") { text = text[scheme.upperBound...] }
        if let slash = text.firstIndex(of: "/") { text = text[..<slash] }
        let host = String(text)
        if host == "index.docker.io" || host == "registry-1.docker.io" { return "docker.io" }
        return host
    }
}

/// Runs `docker-credential-<name> get`, the protocol Docker's credential helpers speak.
// https://github.com/docker/docker-credential-helpers
struct CredentialHelper {
    var name: String
    var environment: [String: String]

    func get(serverURL: String, host: String) async throws(CredentialError) -> Credential? {
        let executable = "docker-credential-\(name)"
        guard let path = Self.find(executable, environment: environment) else {
            throw .helperFailed(helper: name, host: host, message: "\(executable) not found in PATH")
        }
        let output: (status: Int32, stdout: Data, stderr: Data)
        do {
            output = try await Self.run(path, arguments: ["get"], input: Data(serverURL.utf8))
        } catch {
            throw .helperFailed(helper: name, host: host, message: "\(error)")
        }
        let stdout = String(decoding: output.stdout, as: UTF8.self)
        guard output.status == 0 else {
            // Helpers print this when they hold nothing for the server: anonymous access, not an error.
            if stdout.contains("credentials not found") { return nil }
            let reason = String(decoding: output.stderr.isEmpty ? output.stdout : output.stderr, as: UTF8.self)
            throw .helperFailed(helper: name, host: host, message: reason.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        struct Reply: Decodable {
            var Username: String?
            var Secret: String?
        }
        guard let reply = try? JSONDecoder().decode(Reply.self, from: output.stdout) else {
            throw .helperFailed(helper: name, host: host, message: "unreadable reply")
        }
        let username = reply.Username ?? ""
        let secret = reply.Secret ?? ""
        if secret.isEmpty { return nil }
        if username == "<token>" { return .identityToken(username: "", token: secret) }
        return .basic(username: username, password: secret)
    }

    static func find(_ executable: String, environment: [String: String]) -> String? {
        let searchPath = environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for directory in searchPath.split(separator: ":") {
            let candidate = "\(directory)/\(executable)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// Runs a helper off the cooperative pool: Process spawns and the termination handler resumes us.
    static func run(_ path: String, arguments: [String], input: Data) async throws -> (
        status: Int32, stdout: Data, stderr: Data
    ) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        let stdin = Pipe()
        let stdout = Pipe()
        let stderr = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        return try await withCheckedThrowingContinuation { continuation in
            process.terminationHandler = { finished in
                let out = stdout.fileHandleForReading.readDataToEndOfFile()
                let err = stderr.fileHandleForReading.readDataToEndOfFile()
                continuation.resume(returning: (finished.terminationStatus, out, err))
            }
            do {
                try process.run()
                stdin.fileHandleForWriting.write(input)
                try? stdin.fileHandleForWriting.close()
            } catch {
                continuation.resume(throwing: error)
            }
        }
    }
}
