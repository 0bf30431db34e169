import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// How a test registry authenticates clients.
public enum RegistryServerAuth: Sendable {
    /// Anonymous access.
    case none
    /// HTTP Basic against a bcrypt htpasswd file holding these credentials.
    case htpasswd(RegistryUser)
    /// Bearer tokens signed by `issuer`; clients are sent to `realm` (a URL the caller serves) for tokens.
    case token(TokenIssuer, realm: String)
}

/// What kind of test registry to start.
public struct RegistryServerOptions: Sendable {
    /// Serve HTTPS with a freshly generated self-signed certificate.
    public var tls: Bool
    /// Client authentication.
    public var auth: RegistryServerAuth
    /// The storage root; a directory inside the registry's own directory when nil.
    public var storageDirectory: String?
    /// How long to wait for the "listening on" log line.
    public var startTimeout: Double
    /// Log only warnings (the access log stays on): at info level the registry spends a third of its CPU on its
    /// own request logs, which a benchmark would count against the client. Readiness is then a TCP connect.
    public var quietLog: Bool

    /// Creates options.
    public init(
        tls: Bool = false, auth: RegistryServerAuth = .none, storageDirectory: String? = nil, startTimeout: Double = 30,
        quietLog: Bool = false
    ) {
        self.tls = tls
        self.auth = auth
        self.storageDirectory = storageDirectory
        self.startTimeout = startTimeout
        self.quietLog = quietLog
    }
}

/// The files a registry needs (config, certificate, htpasswd) written into one directory.
struct RegistryConfiguration: Sendable {
    let directory: String
    let storageRoot: String
    let options: RegistryServerOptions
    let certificate: SelfSignedCertificate?
    let certDirectory: String?
    let htpasswdPath: String?
    let httpSecret: String

    var configPath: String { directory + "/config.yml" }

    /// Writes everything that does not depend on the port.
    static func prepare(in directory: String, options: RegistryServerOptions) async throws -> RegistryConfiguration {
        _ = try ProcessRunner.requireTool("docker-registry")
        let storageRoot = options.storageDirectory ?? directory + "/storage"
        try TestFiles.makeDirectory(storageRoot)
        var certificate: SelfSignedCertificate?
        var certDirectory: String?
        if options.tls {
            let generated = try await SelfSignedCertificate.generate(
                in: directory, name: "registry-tls", commonName: "ferry-test-registry")
            // skopeo's --cert-dir reads every *.crt in a directory as a CA.
            let caDirectory = directory + "/ca"
            try TestFiles.makeDirectory(caDirectory)
            try TestFiles.write(try TestFiles.read(generated.certificatePath), to: caDirectory + "/ca.crt")
            certificate = generated
            certDirectory = caDirectory
        }
        var htpasswdPath: String?
        if case .htpasswd(let credentials) = options.auth {
            _ = try ProcessRunner.requireTool("htpasswd")
            let result = try await ProcessRunner.runChecked(
                "htpasswd", ["-Bbn", credentials.username, credentials.password])
            let path = directory + "/htpasswd"
            try TestFiles.write(result.stdout, to: path)
            htpasswdPath = path
        }
        // A fixed secret silences the "No HTTP secret provided" warning and keeps upload state valid across restarts.
        let secret = (0..<16).map { _ in String(UInt8.random(in: 0...255), radix: 16) }.joined()
        return RegistryConfiguration(
            directory: directory, storageRoot: storageRoot, options: options, certificate: certificate,
            certDirectory: certDirectory, htpasswdPath: htpasswdPath, httpSecret: secret)
    }

    /// Writes `config.yml` for `port`.
    func write(port: Int) throws {
        var lines = [
            "version: 0.1",
            "log:",
            "  level: \(options.quietLog ? "warn" : "info")",
            "  formatter: text",
            "  accesslog:",
            "    disabled: false",
            "storage:",
            "  filesystem:",
            "    rootdirectory: \(Self.quoted(storageRoot))",
            "  delete:",
            "    enabled: true",
            "  maintenance:",
            "    uploadpurging:",
            "      enabled: false",
            "http:",
            "  addr: 127.0.0.1:\(port)",
            "  secret: \(Self.quoted(httpSecret))",
        ]
        if let certificate {
            lines += [
                "  tls:",
                "    certificate: \(Self.quoted(certificate.certificatePath))",
                "    key: \(Self.quoted(certificate.privateKeyPath))",
            ]
        }
        switch options.auth {
        case .none:
            break
        case .htpasswd:
            lines += [
                "auth:",
                "  htpasswd:",
                "    realm: ferry-test",
                "    path: \(Self.quoted(htpasswdPath ?? ""))",
            ]
        case .token(let issuer, let realm):
            lines += [
                "auth:",
                "  token:",
                "    realm: \(Self.quoted(realm))",
                "    service: \(Self.quoted(issuer.service))",
                "    issuer: \(Self.quoted(issuer.issuer))",
                "    rootcertbundle: \(Self.quoted(issuer.certificatePath))",
            ]
        }
        try TestFiles.write(lines.joined(separator: "\n") + "\n", to: configPath)
    }

    func endpoint(port: Int) -> RegistryServerEndpoint {
        var credentials: RegistryUser?
        if case .htpasswd(let basic) = options.auth { credentials = basic }
        return RegistryServerEndpoint(
            port: port, usesTLS: options.tls, caCertificatePath: certificate?.certificatePath,
            certDirectory: certDirectory, credentials: credentials, storageRoot: storageRoot)
    }

    /// A YAML double-quoted scalar.
    static func quoted(_ text: String) -> String {
        "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }

    /// A port that was free on 127.0.0.1 a moment ago: bind port 0, read the port back, close.
    /// Another process may take it before the registry binds, which is why starting retries.
    static func freePort() throws -> Int {
        let socketFD = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socketFD >= 0 else { throw TestSupportError.spawnFailed(command: "socket", errno: errno) }
        defer { close(socketFD) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(socketFD, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0 else { throw TestSupportError.spawnFailed(command: "bind 127.0.0.1:0", errno: errno) }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socketFD, $0, &length) }
        }
        guard named == 0 else { throw TestSupportError.spawnFailed(command: "getsockname", errno: errno) }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// The inherited environment without `REGISTRY_*` variables: distribution lets those override any config key,
    /// and a stray `REGISTRY_HTTP_ADDR=:5000` would make the registry listen on every interface.
    static var environment: [String: String] {
        ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("REGISTRY_") }
    }

    /// True for the log line the registry prints once its listener is bound.
    static func isReadyLine(_ line: String) -> Bool { line.contains("msg=\"listening on ") }

    /// True for a log line after which the registry exits.
    static func isFatalLine(_ line: String) -> Bool {
        line.contains("level=fatal") || line.contains("level=panic") || line.hasPrefix("panic:")
    }

    /// True when the failure was a lost race for the port, worth a retry on another one.
    static func isPortInUse(_ text: String) -> Bool { text.contains("address already in use") }
}
