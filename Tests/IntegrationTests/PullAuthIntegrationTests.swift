import FerryTestSupport
import FerryHTTP
import Foundation
import Ledger
import OCIModel
import Synchronization
import Testing

/// A value several server threads and the test share.
final class Shared<Value: Sendable>: Sendable {
    private let storage: Mutex<Value>
    init(_ value: Value) { storage = Mutex(value) }
    func update<T>(_ body: (inout Value) -> T) -> T { storage.withLock { body(&$0) } }
    var value: Value { storage.withLock { $0 } }
}

/// `ferry pull` against registries that authenticate (htpasswd, tokens) or speak TLS.
@Suite struct PullAuthIntegrationTests {
    /// A registry with one small image `team/app:1` (and `team/app:2`), seeded by the caller's means.
    struct Seeded {
        let layoutDirectory: TemporaryDirectory
        let layout: OCILayoutBuilder
        let one: BuiltImage
        let two: BuiltImage

        init(seed: UInt64) throws {
            layoutDirectory = try TemporaryDirectory()
            layout = try OCILayoutBuilder(path: layoutDirectory.appending("layout"))
            one = try layout.image(.small(seed: seed))
            two = try layout.image(.small(seed: seed + 1, format: .docker))
        }
    }

    /// Fails the test if `secret` appears in the outputs or in any file of the store (the database and its WAL
    /// included).
    static func expectNoSecret(
        _ secret: String, in results: [FerryResult], store: String, sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        #expect(TestFiles.exists(store + "/ferry.db"), sourceLocation: sourceLocation)
        try expectNoSecrets([secret], in: results, filesUnder: [store], sourceLocation: sourceLocation)
    }

    @Test func htpasswdCredentialsFromTheMirrorListOrDockerConfigAndBadOnesFail() async throws {
        let password = "pw-\(UUID().uuidString)"
        let user = RegistryUser(username: "u", password: password)
        let registry = try await RegistryServer.start(RegistryServerOptions(auth: .htpasswd(user)))
        let seeded = try Seeded(seed: 81)
        try await RegistrySeeder(registry).push(seeded.one, from: seeded.layout, to: "team/app", tag: "1")
        let reference = "\(registry.host)/team/app:1"

        // Mirror list: username inline, password from the environment.
        let listed = try FerryWorkspace()
        try listed.writeConfig("""
            version: 1
            registries:
              "\(registry.host)":
                tls: plain-http
                credentials: {username: u, password-env: FERRY_TEST_PASSWORD}

            """)
        // --verbose: debug logs (every request) go to the captured stderr too, and are checked for the secret.
        let good = try await listed.pull(reference, ["--verbose"], environment: ["FERRY_TEST_PASSWORD": password])
        #expect(good.status == 0, "\(good)")
        #expect(good.stdoutLines.last == "Status: Downloaded newer image for \(reference)")
        #expect(good.stderr.contains("DEBUG HTTP"), "\(good)")

        // Docker's config.json, found through DOCKER_CONFIG (the mirror list names no credentials).
        let docker = try FerryWorkspace()
        try docker.writeConfig(plainHTTPList([registry.host]))
        let configDirectory = try docker.directory.makeSubdirectory("docker")
        try TestFiles.write(
            #"{"auths":{"\#(registry.host)":{"auth":"\#(Data("u:\(password)".utf8).base64EncodedString())"}}}"#,
            to: configDirectory + "/config.json")
        let fromConfig = try await docker.pull(reference, environment: ["DOCKER_CONFIG": configDirectory])
        #expect(fromConfig.status == 0, "\(fromConfig)")

        // A wrong password: every endpoint answers 401, and the registry's error is the final one.
        let wrong = "wrong-\(UUID().uuidString)"
        let bad = try await listed.pull(
            "\(registry.host)/team/app:1", ["--retry-delay", "0"], environment: ["FERRY_TEST_PASSWORD": wrong])
        #expect(bad.status == 1, "\(bad)")
        #expect(bad.stdout == "")
        #expect(bad.stderr == "Error: unauthorized: authentication required\n")

        try Self.expectNoSecret(password, in: [good, bad], store: listed.store)
        try Self.expectNoSecret(wrong, in: [bad], store: listed.store)
        try Self.expectNoSecret(password, in: [fromConfig], store: docker.store)
        withExtendedLifetime(registry) {}
    }

    /// A token-auth registry behind a counting proxy, its token server, and `team/app:1` and `:2`.
    struct TokenSetup {
        let keys: TemporaryDirectory
        let tokens: TokenServer
        let registry: RegistryServer
        let proxy: RegistryProxy
        let seeded: Seeded

        init(
            seed: UInt64, credentials: RegistryUser? = nil, refreshToken: String? = nil, expiresIn: Int = 300,
            issuedAgo: Int = 0
        ) async throws {
            keys = try TemporaryDirectory()
            let issuer = try await TokenIssuer.create(in: keys.path)
            tokens = try TokenServer(
                issuer: issuer, expiresIn: expiresIn, issuedAgo: issuedAgo, credentials: credentials,
                refreshToken: refreshToken)
            registry = try await RegistryServer.start(RegistryServerOptions(auth: .token(issuer, realm: tokens.realm)))
            seeded = try Seeded(seed: seed)
            let push = "Bearer " + (try issuer.token(access: [.repository("team/app", actions: ["pull", "push"])]))
            let seeder = RegistrySeeder(registry)
            try await seeder.pushOverHTTP(seeded.one, from: seeded.layout, to: "team/app", tag: "1", authorization: push)
            try await seeder.pushOverHTTP(seeded.two, from: seeded.layout, to: "team/app", tag: "2", authorization: push)
            proxy = try RegistryProxy(for: registry)
        }
    }

    @Test func tokenAuthFetchesOneTokenPerScopeForTheWholeRun() async throws {
        let password = "pw-\(UUID().uuidString)"
        let setup = try await TokenSetup(seed: 83, credentials: RegistryUser(username: "u", password: password))
        let workspace = try FerryWorkspace()
        try workspace.writeConfig("""
            version: 1
            registries:
              "\(setup.proxy.host)":
                tls: plain-http
                credentials: {username: u, password-env: FERRY_TEST_PASSWORD}
            images:
              - source: \(setup.proxy.host)/team/app
                tags: ["1", "2"]

            """)
        let environment = ["FERRY_TEST_PASSWORD": password]

        let pull = try await workspace.pull("\(setup.proxy.host)/team/app:1", ["--verbose"], environment: environment)
        #expect(pull.status == 0, "\(pull)")
        #expect(setup.tokens.requests.count == 1)
        // The credentials go to the token server (Basic, with account=), never to the registry.
        #expect(setup.tokens.requests.first?.query?.contains("account=u") == true)
        #expect(setup.proxy.requests.allSatisfy { $0.headers["Authorization"]?.hasPrefix("Basic") != true })

        let before = setup.tokens.requests.count
        let sync = try await workspace.sync(["--verbose"], environment: environment)
        #expect(sync.status == 0, "\(sync)")
        // Two tags of one repository in one run: one token, fetched once and reused.
        let fetched = setup.tokens.requests.dropFirst(before)
        #expect(fetched.count == 1)
        #expect(fetched.map { TokenServer.scopes(of: $0) } == [["repository:team/app:pull"]])
        #expect(fetched.map { $0.query?.contains("service=ferry-test-registry") } == [true])
        let observations = try await workspace.withLedger { ledger in
            let run = try #require(try await ledger.latestRun())
            return try await ledger.observations(run: run.id)
        }
        #expect(observations.map(\.outcome).sorted { $0.rawValue < $1.rawValue } == [.pulled, .upToDate])
        try Self.expectNoSecret(password, in: [pull, sync], store: workspace.store)
        for token in setup.tokens.issuedTokens { try Self.expectNoSecret(token, in: [pull, sync], store: workspace.store) }
    }

    /// `expires_in` and `issued_at` decide how long a token is reused: a token the server says expired before it
    /// arrived is never reused, so every authorized request carries a token fetched for it (one fetch may serve
    /// requests that wait for it at the same moment), and the pull still succeeds.
    @Test func aTokenExpiredByItsIssuedAtIsFetchedAfreshForEachRequest() async throws {
        let setup = try await TokenSetup(seed: 89, expiresIn: 60, issuedAgo: 120)
        let workspace = try FerryWorkspace()
        try workspace.writeConfig(plainHTTPList([setup.proxy.host]))

        let result = try await workspace.pull("\(setup.proxy.host)/team/app:1")
        #expect(result.status == 0, "\(result)")
        let issued = setup.tokens.issuedTokens
        let used = setup.proxy.requests.compactMap { $0.headers["Authorization"] }
        // HEAD, manifest, config and at least one layer: more than one token, and every token fetched was used.
        #expect(used.count >= 4)
        #expect(issued.count >= 2)
        #expect(Set(used) == Set(issued.map { "Bearer " + $0 }))
        #expect(try workspace.storedBlobs().isSuperset(of: setup.seeded.one.blobs.map(\.digest)))
    }

    /// The control for the test above: the same server with a fresh `issued_at` hands out one token for the pull.
    @Test func aTokenWithinItsLifetimeServesTheWholePull() async throws {
        let setup = try await TokenSetup(seed: 89, expiresIn: 60)
        let workspace = try FerryWorkspace()
        try workspace.writeConfig(plainHTTPList([setup.proxy.host]))

        let result = try await workspace.pull("\(setup.proxy.host)/team/app:1")
        #expect(result.status == 0, "\(result)")
        #expect(setup.tokens.issuedTokens.count == 1)
        #expect(Set(setup.proxy.requests.compactMap { $0.headers["Authorization"] }).count == 1)
    }

    @Test func aRevokedCachedTokenIsReplacedOnceAndThePullSucceeds() async throws {
        let setup = try await TokenSetup(seed: 85)
        let tokens = setup.tokens
        let challenge =
            #"Bearer realm="\#(tokens.realm)",service="\#(tokens.issuer.service)",error="invalid_token""#
        // The first token works for one request, then the registry (the proxy, standing in) refuses it, as
        // after a revocation or a signing-key rotation.
        let uses = Shared(0)
        setup.proxy.intercept { request in
            guard let first = tokens.issuedTokens.first, request.headers["Authorization"] == "Bearer " + first
            else { return nil }
            guard uses.update({ uses in uses += 1; return uses }) > 1 else { return nil }
            return TestHTTPResponse(
                status: 401, headers: ["WWW-Authenticate": challenge, "Content-Type": "application/json"],
                body: .bytes(Array(#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#.utf8)))
        }
        let workspace = try FerryWorkspace()
        try workspace.writeConfig(plainHTTPList([setup.proxy.host]))

        let result = try await workspace.pull("\(setup.proxy.host)/team/app:1")
        #expect(result.status == 0, "\(result)")
        #expect(tokens.issuedTokens.count == 2)
        let second = try #require(tokens.issuedTokens.last)
        // The request refused with the revoked token was sent again with the fresh one, and everything after it.
        let authorized = setup.proxy.requests.compactMap { $0.headers["Authorization"] }
        #expect(authorized.count >= 3)
        #expect(authorized.prefix(2).allSatisfy { $0 == "Bearer " + tokens.issuedTokens[0] })
        #expect(authorized.dropFirst(2).allSatisfy { $0 == "Bearer " + second })
        #expect(try workspace.storedBlobs().isSuperset(of: setup.seeded.one.blobs.map(\.digest)))
    }

    /// A TLS registry with `secure/app:1`.
    static func tlsRegistry() async throws -> (RegistryServer, Seeded) {
        let registry = try await RegistryServer.start(RegistryServerOptions(tls: true))
        let seeded = try Seeded(seed: 87)
        try await RegistrySeeder(registry).push(seeded.one, from: seeded.layout, to: "secure/app", tag: "1")
        return (registry, seeded)
    }

    static func tlsWorkspace(_ registry: RegistryServer, _ settings: String) throws -> FerryWorkspace {
        let workspace = try FerryWorkspace()
        try workspace.writeConfig("version: 1\nregistries:\n  \"\(registry.host)\":\n" + settings)
        return workspace
    }

    static func lastObservation(_ workspace: FerryWorkspace) async throws -> ObservationRecord {
        try await workspace.withLedger { ledger in
            let run = try #require(try await ledger.latestRun())
            return try #require(try await ledger.observations(run: run.id).first)
        }
    }

    @Test func tlsRegistryWithItsCAOrWithoutVerificationAndNeither() async throws {
        let (registry, seeded) = try await Self.tlsRegistry()
        let reference = "\(registry.host)/secure/app:1"
        let caFile = try #require(registry.endpoint.caCertificatePath)

        let withCA = try Self.tlsWorkspace(registry, "    tls: verify\n    ca-file: \"\(caFile)\"\n")
        let verified = try await withCA.pull(reference)
        #expect(verified.status == 0, "\(verified)")
        #expect(verified.stdoutLines.last == "Status: Downloaded newer image for \(reference)")
        #expect(try await Self.lastObservation(withCA).servedBy == registry.baseURL)

        let skip = try Self.tlsWorkspace(registry, "    tls: insecure-skip-verify\n")
        let skipped = try await skip.pull(reference)
        #expect(skipped.status == 0, "\(skipped)")

        let strict = try Self.tlsWorkspace(registry, "    tls: verify\n")
        let refused = try await strict.pull(reference)
        #expect(refused.status == 1, "\(refused)")
        #expect(refused.stderr == """
            Error: Head "\(registry.baseURL)/v2/secure/app/manifests/1": tls: \(registry.host): \
            SSL certificate problem: self-signed certificate

            """)
        #expect(try strict.storedBlobs().isEmpty)
        #expect(try skip.storedBlobs() == Set([seeded.one.manifestDigest] + seeded.one.blobs.map(\.digest)))
    }

    @Test func loopbackRegistriesAreInsecureByDefault() async throws {
        // Docker treats 127.0.0.0/8 as an insecure registry: https without certificate verification first, then
        // plain http. Without a tls key in the mirror list, ferry does the same. So on 127.0.0.1:
        // * a TLS registry with an untrusted certificate serves over https, and plain http is never tried;
        // * a plain-HTTP registry fails the https attempt (recorded, transport error) and serves over http.
        let (secure, _) = try await Self.tlsRegistry()
        let secureWorkspace = try FerryWorkspace()
        try secureWorkspace.writeConfig("version: 1\n")
        let overTLS = try await secureWorkspace.pull("\(secure.host)/secure/app:1")
        #expect(overTLS.status == 0, "\(overTLS)")
        let secureObservation = try await Self.lastObservation(secureWorkspace)
        #expect(secureObservation.servedBy == secure.baseURL)
        #expect(secureObservation.attempts.isEmpty)
        _ = try await secure.waitForRequest { $0.path == "/v2/secure/app/manifests/1" }
        #expect(!secure.output.text.contains("http: TLS handshake error"))

        let plain = try await RegistryServer.start()
        let seeded = try Seeded(seed: 89)
        try await RegistrySeeder(plain).push(seeded.one, from: seeded.layout, to: "plain/app", tag: "1")
        let plainWorkspace = try FerryWorkspace()
        try plainWorkspace.writeConfig("version: 1\n")
        let overHTTP = try await plainWorkspace.pull("\(plain.host)/plain/app:1")
        #expect(overHTTP.status == 0, "\(overHTTP)")
        let plainObservation = try await Self.lastObservation(plainWorkspace)
        #expect(plainObservation.servedBy == plain.baseURL)
        #expect(plainObservation.attempts.map(\.endpoint) == ["https://\(plain.host)"])
        #expect(plainObservation.attempts.map(\.fellBack) == [true])
        #expect(plainObservation.attempts.first?.error.hasPrefix(
            "Head \"https://\(plain.host)/v2/plain/app/manifests/1\": tls: \(plain.host): ") == true)
    }
}
