import FerryHTTP
import FerryTestSupport
import Foundation
import OCIModel
import Testing

@testable import OCIRegistry

/// Where credentials may travel when the registry names a token realm, and redirects ferry refuses to follow.
@Suite struct TokenRealmTests {
    static let alice = Credential.basic(username: "alice", password: "s3cret")
    static let aliceHeader = "Basic " + Data("alice:s3cret".utf8).base64EncodedString()
    static let bob = Credential.basic(username: "bob", password: "hunter2")

    /// Resolves a tag on `registry` (an https endpoint unless given) whose challenge names `realm`; returns the
    /// token request.
    static func tokenRequest(
        realm: String, registry: String = "https://registry.test", credentials: [String: Credential]
    ) async throws -> HTTPRequest {
        let realmHost = try #require(URL(string: realm)?.host)
        let image = TestImage(seed: "realm")
        let transport = ScriptedTransport { request in
            if request.url.host == realmHost, request.url.path == "/token" {
                return .response(HTTPResponse(status: 200, reason: "OK", body: Array(#"{"token":"t"}"#.utf8)))
            }
            guard request.headers["Authorization"] == "Bearer t" else {
                var response = HTTPResponse.registryError(401, code: "UNAUTHORIZED", message: "authentication required")
                response.headers.add("WWW-Authenticate", #"Bearer realm="\#(realm)",service="registry.test""#)
                return .response(response)
            }
            return .response(HTTPResponse(status: 200, reason: "OK", headers: [
                "Docker-Content-Digest": image.manifestDigest.description, "Content-Type": MediaType.ociManifest.rawValue,
                "Content-Length": "\(image.manifest.count)",
            ]))
        }
        let client = makeSession(transport, credentials: StaticCredentials(credentials))
            .client(for: RegistryEndpoint(baseURL: URL(string: registry)!, credentialHost: "registry.test"))
        _ = try await client.resolveTag("app", tag: "1.0")
        return try #require(transport.requests.first { $0.url.path == "/token" })
    }

    @Test func theRegistrysCredentialsGoToARealmOnItsOwnHost() async throws {
        let token = try await Self.tokenRequest(
            realm: "https://registry.test/token", credentials: ["registry.test": Self.alice])
        #expect(token.headers["Authorization"] == Self.aliceHeader)
        #expect(token.url.query?.contains("account=alice") == true)
    }

    @Test func theRegistrysCredentialsDoNotGoToARealmOnAnotherHost() async throws {
        let token = try await Self.tokenRequest(
            realm: "https://collector.example/token", credentials: ["registry.test": Self.alice])
        #expect(token.headers["Authorization"] == nil)
        #expect(token.url.query?.contains("account=") == false)
    }

    @Test func aRealmOnAnotherHostGetsTheCredentialsConfiguredForThatHost() async throws {
        let token = try await Self.tokenRequest(
            realm: "https://auth.test/token", credentials: ["registry.test": Self.alice, "auth.test": Self.bob])
        #expect(token.headers["Authorization"] == "Basic " + Data("bob:hunter2".utf8).base64EncodedString())
        #expect(token.url.query?.contains("account=bob") == true)
    }

    @Test func noCredentialsGoToAPlainHTTPRealmOnAnotherHostEvenConfiguredOnes() async throws {
        let token = try await Self.tokenRequest(
            realm: "http://auth.test/token", credentials: ["registry.test": Self.alice, "auth.test": Self.bob])
        #expect(token.headers["Authorization"] == nil)
    }

    @Test func noCredentialsGoToAPlainHTTPRealmOfAnHTTPSRegistry() async throws {
        let token = try await Self.tokenRequest(
            realm: "http://registry.test/token", credentials: ["registry.test": Self.alice])
        #expect(token.headers["Authorization"] == nil)
    }

    @Test func aPlainHTTPRegistryMayUseAPlainHTTPRealmOnItsHost() async throws {
        let token = try await Self.tokenRequest(
            realm: "http://registry.test:5001/token", registry: "http://registry.test:5000",
            credentials: ["registry.test": Self.alice])
        #expect(token.headers["Authorization"] == Self.aliceHeader)
    }

    @Test func dockerHubsTokenServiceGetsDockerHubsCredentials() async throws {
        let image = TestImage(seed: "hub")
        let transport = ScriptedTransport { request in
            if request.url.host == "auth.docker.io" {
                return .response(HTTPResponse(status: 200, reason: "OK", body: Array(#"{"token":"t"}"#.utf8)))
            }
            guard request.headers["Authorization"] == "Bearer t" else {
                var response = HTTPResponse.registryError(401, code: "UNAUTHORIZED", message: "authentication required")
                response.headers.add(
                    "WWW-Authenticate", #"Bearer realm="https://auth.docker.io/token",service="registry.docker.io""#)
                return .response(response)
            }
            return .response(HTTPResponse(status: 200, reason: "OK", headers: [
                "Docker-Content-Digest": image.manifestDigest.description, "Content-Type": MediaType.ociManifest.rawValue,
                "Content-Length": "\(image.manifest.count)",
            ]))
        }
        let hub = RegistryEndpoint(baseURL: URL(string: "https://registry-1.docker.io")!, credentialHost: "docker.io")
        let client = makeSession(transport, credentials: StaticCredentials(["docker.io": Self.alice])).client(for: hub)
        _ = try await client.resolveTag("library/alpine", tag: "3.20")
        #expect(transport.requests(to: "auth.docker.io").first?.headers["Authorization"] == Self.aliceHeader)
    }

    @Test(arguments: ["file:///etc/passwd", "ftp://auth.test/token", "gopher://auth.test/token", "https:///token"])
    func aRealmThatIsNotAnHTTPURLIsRefusedUnasked(realm: String) async {
        let transport = ScriptedTransport { _ in
            var response = HTTPResponse.registryError(401, code: "UNAUTHORIZED", message: "authentication required")
            response.headers.add("WWW-Authenticate", #"Bearer realm="\#(realm)",service="registry.test""#)
            return .response(response)
        }
        let credentials = StaticCredentials(["registry.test": Self.alice])
        let client = makeSession(transport, credentials: credentials).client(for: endpoint("https://registry.test"))
        await #expect(throws: RegistryError.request(
            method: .head, url: "https://registry.test/v2/app/manifests/1.0", cause: .unsupportedRealm(realm))
        ) {
            try await client.resolveTag("app", tag: "1.0")
        }
        #expect(transport.requests.allSatisfy { $0.url.host == "registry.test" })
        #expect(RequestFailure.unsupportedRealm("ftp://x").description
            == #"unsupported token realm "ftp://x": only http and https are asked"#)
    }

    @Test func aTokenServerRedirectIsNotFollowed() async {
        let transport = ScriptedTransport { request in
            if request.url.host == "auth.test" {
                return .response(HTTPResponse(status: 302, reason: "Found", headers: ["Location": "file:///etc/passwd"]))
            }
            var response = HTTPResponse.registryError(401, code: "UNAUTHORIZED", message: "authentication required")
            response.headers.add("WWW-Authenticate", #"Bearer realm="https://auth.test/token",service="registry.test""#)
            return .response(response)
        }
        let client = makeSession(transport).client(for: endpoint("https://registry.test"))
        await #expect(throws: RegistryError.request(
            method: .head, url: "https://registry.test/v2/app/manifests/1.0",
            cause: .tokenServer(status: 302, message: "received unexpected HTTP status: 302 Found"))
        ) {
            try await client.resolveTag("app", tag: "1.0")
        }
        #expect(transport.requests(to: "auth.test").count == 1)
    }
}

@Suite struct RedirectSchemeTests {
    static let schemes = ["file:///etc/passwd", "ftp://storage.test/blob", "gopher://storage.test/", "ldap://x/", "dict://x/"]

    static func redirecting(to location: String) -> ScriptedTransport {
        ScriptedTransport { _ in .response(HTTPResponse(status: 302, reason: "Found", headers: ["Location": location])) }
    }

    @Test(arguments: schemes)
    func aManifestRedirectToAnotherSchemeIsRefused(location: String) async {
        let transport = Self.redirecting(to: location)
        let client = makeSession(transport).client(for: endpoint("https://registry.test"))
        let digest = Digest.sha256(of: TestImage(seed: "m").manifest)
        await #expect(throws: RegistryError.request(
            method: .get, url: "https://registry.test/v2/app/manifests/\(digest)", cause: .badRedirect(location))
        ) {
            try await client.fetchManifest("app", digest: digest)
        }
        #expect(transport.requests.count == 1)
    }

    @Test(arguments: schemes)
    func aBlobRedirectToAnotherSchemeIsRefusedAndWritesNothing(location: String) async {
        let transport = Self.redirecting(to: location)
        let client = makeSession(transport).client(for: endpoint("https://registry.test"))
        let layer = TestImage(seed: "b").layers[0]
        let descriptor = Descriptor(mediaType: .ociLayer, digest: Digest.sha256(of: layer), size: Int64(layer.count))
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        await #expect(throws: RegistryError.request(
            method: .get, url: "https://registry.test/v2/app/blobs/\(descriptor.digest)", cause: .badRedirect(location))
        ) {
            try await client.downloadBlob("app", descriptor: descriptor, kind: .layer, to: directory + "/blob")
        }
        #expect(transport.requests.count == 1)
        #expect(!FileManager.default.fileExists(atPath: directory + "/blob"))
    }
}
