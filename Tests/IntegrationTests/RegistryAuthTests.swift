import FerryTestSupport
import Foundation
import OCIModel
import Testing

@Suite struct RegistryAuthTests {
    @Test func tlsRegistryAnswersWithItsCAAndFailsWithout() async throws {
        let registry = try await RegistryServer.start(RegistryServerOptions(tls: true))
        #expect(registry.baseURL.hasPrefix("https://127.0.0.1:"))
        let caFile = try #require(registry.endpoint.caCertificatePath)
        let trusted = try await HTTPProbe(caCertificatePath: caFile).send("GET", registry.baseURL + "/v2/")
        #expect(trusted.status == 200)
        // curl exit code 60: the peer certificate cannot be authenticated with known CA certificates.
        await #expect {
            _ = try await HTTPProbe().send("GET", registry.baseURL + "/v2/")
        } throws: { error in
            guard case TestSupportError.httpFailed(_, let code, _) = error else { return false }
            return code == 60
        }

        let directory = try TemporaryDirectory()
        let layout = try OCILayoutBuilder(path: directory.appending("layout"))
        let image = try layout.image(.small(seed: 61))
        try await RegistrySeeder(registry).push(image, from: layout, to: "secure/app", tag: "1")
    }

    @Test func htpasswdRegistryRejectsBadCredentialsAndAcceptsGoodOnes() async throws {
        let good = RegistryUser(username: "ferry", password: "s3cret-pass")
        let registry = try await RegistryServer.start(RegistryServerOptions(auth: .htpasswd(good)))
        let client = HTTPProbe()
        let anonymous = try await client.send("GET", registry.baseURL + "/v2/")
        #expect(anonymous.status == 401)
        #expect(anonymous.header("WWW-Authenticate")?.hasPrefix("Basic realm=") == true)
        let bad = RegistryUser(username: "ferry", password: "wrong")
        let rejected = try await client.send(
            "GET", registry.baseURL + "/v2/", headers: ["Authorization": bad.authorizationHeader])
        #expect(rejected.status == 401)
        let accepted = try await client.send(
            "GET", registry.baseURL + "/v2/", headers: ["Authorization": good.authorizationHeader])
        #expect(accepted.status == 200)

        let directory = try TemporaryDirectory()
        let layout = try OCILayoutBuilder(path: directory.appending("layout"))
        let image = try layout.image(.small(seed: 62))
        try await RegistrySeeder(registry).push(image, from: layout, to: "private/app", tag: "1")
    }

    @Test func handIssuedTokensAreCheckedByTheRegistry() async throws {
        let keys = try TemporaryDirectory()
        let issuer = try await TokenIssuer.create(in: keys.path)
        let stranger = try await TokenIssuer.create(in: keys.path, name: "stranger", issuer: issuer.issuer)
        let realm = "http://127.0.0.1:9/token"
        let registry = try await RegistryServer.start(RegistryServerOptions(auth: .token(issuer, realm: realm)))
        let client = HTTPProbe()
        func status(_ method: String, _ path: String, token: String?) async throws -> Int {
            let headers = token.map { ["Authorization": "Bearer " + $0] } ?? [:]
            return try await client.send(method, registry.baseURL + path, headers: headers).status
        }

        let challenge = try await client.send("GET", registry.baseURL + "/v2/")
        #expect(challenge.status == 401)
        let header = try #require(challenge.header("WWW-Authenticate"))
        #expect(header.contains("Bearer realm=\"\(realm)\""))
        #expect(header.contains("service=\"\(issuer.service)\""))

        let pushPull = try issuer.token(access: [.repository("allowed/app", actions: ["pull", "push"])])
        #expect(try await status("GET", "/v2/", token: pushPull) == 200)
        #expect(try await status("POST", "/v2/allowed/app/blobs/uploads/", token: pushPull) == 202)

        // A token for another repository is refused for this one.
        let wrongRepository = try issuer.token(access: [.repository("other/app", actions: ["pull", "push"])])
        let refused = try await client.send(
            "POST", registry.baseURL + "/v2/allowed/app/blobs/uploads/",
            headers: ["Authorization": "Bearer " + wrongRepository])
        #expect(refused.status == 401)
        #expect(refused.header("WWW-Authenticate")?.contains("error=\"insufficient_scope\"") == true)
        // The action order in the challenge varies between runs (it comes from a Go map).
        #expect(refused.header("WWW-Authenticate")?.contains("scope=\"repository:allowed/app:") == true)
        // So are pull-only tokens for a push, tokens for another audience, and tokens from an untrusted signer.
        let pullOnly = try issuer.token(access: [.repository("allowed/app", actions: ["pull"])])
        #expect(try await status("POST", "/v2/allowed/app/blobs/uploads/", token: pullOnly) == 401)
        let otherAudience = try issuer.token(access: [.repository("allowed/app", actions: ["pull"])], audience: "x")
        #expect(try await status("GET", "/v2/", token: otherAudience) == 401)
        let untrusted = try stranger.token(access: [.repository("allowed/app", actions: ["pull"])])
        #expect(try await status("GET", "/v2/", token: untrusted) == 401)

        // Seeding a token-auth registry goes through the API with a minted token.
        let directory = try TemporaryDirectory()
        let layout = try OCILayoutBuilder(path: directory.appending("layout"))
        let image = try layout.image(.small(seed: 63, format: .docker))
        let seeder = RegistrySeeder(registry)
        try await seeder.pushOverHTTP(
            image, from: layout, to: "allowed/app", tag: "1", authorization: "Bearer " + pushPull)
        let served = try await client.send(
            "GET", registry.baseURL + "/v2/allowed/app/manifests/1",
            headers: ["Authorization": "Bearer " + pullOnly, "Accept": MediaType.dockerManifest.rawValue])
        #expect(served.status == 200)
        #expect(served.body == image.manifestBytes)
    }
}
