import FerryTestSupport
import Foundation
import Testing

/// Credentials never appear in what ferry writes: stdout, stderr (`--verbose`, `--log-format json`), the reports,
/// `metrics.prom`, `ferry.db` and its WAL, checked byte for byte after real syncs against an htpasswd registry and a
/// token-auth registry with every kind of credential source of the mirror list, with good and with wrong secrets.
@Suite struct SecretsIntegrationTests {
    /// Every secret of a test, and their encodings that would travel in a header.
    struct Secrets {
        let basicPassword = "basic-pw-\(UUID().uuidString)"
        let tokenPassword = "token-pw-\(UUID().uuidString)"
        let refreshToken = "refresh-\(UUID().uuidString)"
        let wrongPassword = "wrong-pw-\(UUID().uuidString)"
        let wrongRefreshToken = "wrong-refresh-\(UUID().uuidString)"

        /// The plain values and the Basic header values built from them.
        func needles(users: [String]) -> [String] {
            let plain = [basicPassword, tokenPassword, refreshToken, wrongPassword, wrongRefreshToken]
            let basic = users.flatMap { user in
                [basicPassword, tokenPassword, wrongPassword].map { Data("\(user):\($0)".utf8).base64EncodedString() }
            }
            return plain + basic
        }
    }

    @Test func noCredentialOfARealSyncReachesOutputReportsMetricsOrTheDatabase() async throws {
        let secrets = Secrets()
        let basic = try await RegistryServer.start(
            RegistryServerOptions(auth: .htpasswd(RegistryUser(username: "basic-user", password: secrets.basicPassword))))
        let seeded = try PullAuthIntegrationTests.Seeded(seed: 1101)
        try await RegistrySeeder(basic).push(seeded.one, from: seeded.layout, to: "team/app", tag: "1")
        // One token-auth registry under two host names (directly and through the proxy), so that one name uses
        // a password and the other an identity (refresh) token.
        let token = try await PullAuthIntegrationTests.TokenSetup(
            seed: 1103, credentials: RegistryUser(username: "token-user", password: secrets.tokenPassword),
            refreshToken: secrets.refreshToken)
        let (tokenHost, refreshHost) = (token.registry.host, token.proxy.host)
        let workspace = try FerryWorkspace()
        let passwordFile = workspace.directory.appending("basic-password")
        let refreshFile = workspace.directory.appending("refresh-token")
        try TestFiles.write(secrets.basicPassword + "\n", to: passwordFile)
        try TestFiles.write(secrets.refreshToken, to: refreshFile)
        try workspace.writeConfig("""
            version: 1
            registries:
              "\(basic.host)":
                tls: plain-http
                credentials: {username-env: FERRY_BASIC_USER, password-file: "\(passwordFile)"}
              "\(tokenHost)":
                tls: plain-http
                credentials: {username: token-user, password-env: FERRY_TOKEN_PASSWORD}
              "\(refreshHost)":
                tls: plain-http
                credentials: {token-file: "\(refreshFile)"}
            images:
              - source: \(basic.host)/team/app:1
              - source: \(tokenHost)/team/app:1
              - source: \(refreshHost)/team/app:2

            """)
        let good = ["FERRY_BASIC_USER": "basic-user", "FERRY_TOKEN_PASSWORD": secrets.tokenPassword]
        let reportCopies = workspace.directory.appending("report-copies")
        let sync = ["sync", "--config", workspace.config, "--verbose", "--report-dir", reportCopies]

        let verbose = try await workspace.runBinary(sync, environment: good)
        #expect(verbose.status == 0, "\(verbose)")
        #expect(verbose.stderr.contains("DEBUG HTTP"), "\(verbose)")
        #expect(verbose.stdoutLines.last?.contains("3 references (3 pulled, ") == true, "\(verbose)")
        // Each name got its token its own way: Basic for the password, the refresh token in a form.
        #expect(token.tokens.requests.map(\.method).sorted() == ["GET", "POST"])
        let json = try await workspace.runBinary(sync + ["--log-format", "json"], environment: good)
        #expect(json.status == 0, "\(json)")
        #expect(json.stdoutLines.last?.contains(#""up-to-date":3"#) == true, "\(json)")

        try TestFiles.write(secrets.wrongPassword, to: passwordFile)
        try TestFiles.write(secrets.wrongRefreshToken, to: refreshFile)
        let wrong = try await workspace.runBinary(
            sync + ["--retry-delay", "0"],
            environment: ["FERRY_BASIC_USER": "basic-user", "FERRY_TOKEN_PASSWORD": secrets.wrongPassword])
        #expect(wrong.status == 1, "\(wrong)")
        // The registry's own refusal, and the token server's, as Docker words them.
        func refused(_ host: String, _ tag: String) -> String {
            "Head \"http://\(host)/v2/team/app/manifests/\(tag)\": unauthorized: incorrect username or password"
        }
        #expect(Self.failure(wrong, "\(basic.host)/team/app:1") == "unauthorized: authentication required", "\(wrong)")
        #expect(Self.failure(wrong, "\(tokenHost)/team/app:1") == refused(tokenHost, "1"), "\(wrong)")
        #expect(Self.failure(wrong, "\(refreshHost)/team/app:2") == refused(refreshHost, "2"), "\(wrong)")

        // What other commands print from the reference store of those runs.
        var rendered: [FerryResult] = []
        for arguments in [
            ["report", "--format", "json"], ["report", "--format", "html"], ["report", "--inventory"], ["ls", "--json"],
        ] {
            let result = try await workspace.runBinary(arguments)
            #expect(result.status == 0, "\(arguments): \(result)")
            rendered.append(result)
        }
        for file in [
            "reports/latest.json", "reports/latest.md", "reports/latest.html", "metrics.prom", "ferry.db", "ferry.db-wal",
        ] {
            #expect(TestFiles.exists(workspace.store + "/" + file), "\(file) is missing, so it was not searched")
        }
        #expect(try TestFiles.list(reportCopies).count == 9)
        let issued = token.tokens.issuedTokens
        #expect(issued.count >= 4)
        try expectNoSecrets(
            secrets.needles(users: ["basic-user", "token-user"]) + issued, in: [verbose, json, wrong] + rendered,
            filesUnder: [workspace.store, reportCopies])
    }

    /// The error a `failed` console line gives for `reference`.
    static func failure(_ result: FerryResult, _ reference: String) -> String? {
        let prefix = SyncIntegrationTests.prefix("failed", reference)
        return result.stdoutLines.first { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) }
    }

    /// moby refuses userinfo in a mirror URL and prints it with the password masked; a password that ends the URL's
    /// authority early (`/`, `?`, `#`), which moby would echo, is masked too, and nothing else ferry prints has it.
    @Test(arguments: [
        ("m-pw-\(UUID().uuidString)", "username/password not allowed in URI %@"),
        ("m/pw?\(UUID().uuidString)#", "%@ is not a valid URI"),
        ("4711/\(UUID().uuidString)", "path, query, or fragment at end of the URI %@"),
    ])
    func aMirrorURLWithAPasswordIsRefusedWithoutEchoingIt(password: String, problem template: String) async throws {
        let workspace = try FerryWorkspace()
        try workspace.writeConfig("""
            version: 1
            registries:
              "127.0.0.1:5000":
                mirrors: ["https://mirror-user:${FERRY_MIRROR_PASSWORD}@127.0.0.1:5001"]
            images:
              - source: 127.0.0.1:5000/team/app:1

            """)
        let environment = ["FERRY_MIRROR_PASSWORD": password]
        let problem = "invalid mirror: "
            + template.replacingOccurrences(of: "%@", with: #""https://mirror-user:xxxxx@127.0.0.1:5001""#)
        var results: [FerryResult] = []
        for arguments in [
            ["validate", "--config", workspace.config], ["sync", "--config", workspace.config, "--verbose"],
            ["sync", "--config", workspace.config, "--log-format", "json", "--verbose"],
        ] {
            let result = try await workspace.runBinary(arguments, environment: environment)
            #expect(result.status == 65, "\(arguments): \(result)")
            #expect(result.stdout == "")
            let summary = arguments[0] == "validate" ? "1 error in 1 file" : "Error: 1 error in 1 file"
            #expect(result.stderrLines == ["\(workspace.config):4:15: \(problem)", summary], "\(arguments)")
            results.append(result)
        }
        let pull = try await workspace.runBinary([
            "pull", "127.0.0.1:5000/team/app:1", "--mirror", "https://mirror-user:\(password)@127.0.0.1:5001",
        ])
        #expect(pull.status == 65, "\(pull)")
        #expect(pull.stderrLines == ["Error: \(problem)"])
        // Refused before anything is touched: no store to search.
        #expect(!TestFiles.exists(workspace.store))
        try expectNoSecrets([password], in: results + [pull], filesUnder: [])
    }
}
