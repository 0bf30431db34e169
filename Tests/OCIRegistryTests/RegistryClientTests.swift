import FerryHTTP
import FerryTestSupport
import Foundation
import OCIModel
import Testing

@testable import OCIRegistry

@Suite struct ManifestTests {
    @Test func unchangedTagCostsOneHead() async throws {
        let registry = InMemoryRegistry(host: "registry.test")
        let image = registry.addImage(repository: "team/app", tag: "1.0", seed: "a")
        let transport = ScriptedTransport { registry.handle($0) }
        let client = makeSession(transport).client(for: endpoint("https://registry.test"))
        let resolution = try await client.resolveTag("team/app", tag: "1.0")
        #expect(resolution.descriptor.digest == image.manifest)
        #expect(resolution.descriptor.mediaType == .ociManifest)
        #expect(resolution.manifest == nil)
        #expect(transport.requests.map(\.method) == [.head])
        let accept = try #require(transport.requests.first?.headers["Accept"])
        for type in MediaType.acceptedManifestTypes { #expect(accept.contains(type.rawValue)) }
    }

    @Test func headWithoutDigestFallsBackToGetAndKeepsTheBody() async throws {
        let registry = InMemoryRegistry(host: "registry.test")
        let image = registry.addImage(repository: "app", tag: "1.0", seed: "b")
        let transport = ScriptedTransport { request in
            var reply = registry.handle(request)
            if request.method == .head, case .response(var response) = reply {
                response.headers.remove("Docker-Content-Digest")
                reply = .response(response)
            }
            return reply
        }
        let client = makeSession(transport).client(for: endpoint("https://registry.test"))
        let resolution = try await client.resolveTag("app", tag: "1.0")
        #expect(resolution.descriptor.digest == image.manifest)
        #expect(resolution.manifest?.digest == image.manifest)
        #expect(transport.requests.map(\.method) == [.head, .get])
    }

    @Test func missingTagIsFetchedWithGetForTheErrorDetails() async {
        let registry = InMemoryRegistry(host: "registry.test")
        registry.addImage(repository: "app", tag: "1.0", seed: "c")
        let transport = ScriptedTransport { registry.handle($0) }
        let client = makeSession(transport).client(for: endpoint("https://registry.test"))
        await #expect(throws: RegistryError.registry(
            [DistributionError(code: .manifestUnknown, message: "manifest unknown", detail: #"{"Tag":"nope"}"#)],
            status: 404)
        ) {
            try await client.resolveTag("app", tag: "nope")
        }
        #expect(transport.requests.map(\.method) == [.head, .get])
    }

    @Test func manifestByDigestIsVerifiedAgainstTheRequestedDigest() async throws {
        let registry = InMemoryRegistry(host: "registry.test")
        let image = registry.addImage(repository: "app", tag: "1.0", seed: "d")
        let transport = ScriptedTransport { request in
            var reply = registry.handle(request)
            if request.method == .get, case .response(var response) = reply {
                response.body[response.body.count - 2] = UInt8(ascii: "3")  // "schemaVersion":3
                reply = .response(response)
            }
            return reply
        }
        let client = makeSession(transport).client(for: endpoint("https://registry.test"))
        await #expect(throws: RegistryError.verificationFailed(.manifest, image.manifest)) {
            try await client.fetchManifest("app", digest: image.manifest)
        }
    }

    @Test func oversizedManifestIsRefused() async {
        let transport = ScriptedTransport { _ in
            .response(HTTPResponse(status: 200, reason: "OK", headers: ["Content-Type": MediaType.ociManifest.rawValue],
                                   body: [UInt8](repeating: 0x20, count: (4 << 20) + 1)))
        }
        let client = makeSession(transport).client(for: endpoint("https://registry.test"))
        await #expect(throws: RegistryError.manifestTooLarge(url: "https://registry.test/v2/app/manifests/big", limit: 4 << 20)) {
            try await client.fetchManifest("app", tag: "big")
        }
    }

    @Test func schema1IsRefusedWithAClearMessage() async {
        let body = #"{"schemaVersion":1,"name":"app","tag":"old","fsLayers":[]}"#
        let transport = ScriptedTransport { request in
            .response(HTTPResponse(status: 200, reason: "OK", headers: [
                "Content-Type": MediaType.dockerSchema1Signed.rawValue,
                "Docker-Content-Digest": Digest.sha256(of: Array(body.utf8)).description,
                "Content-Length": "\(body.utf8.count)",
            ], body: request.method == .head ? [] : Array(body.utf8)))
        }
        let client = makeSession(transport).client(for: endpoint("https://registry.test"))
        do {
            _ = try await client.resolveTag("app", tag: "old")
            Issue.record("schema 1 accepted")
        } catch {
            #expect(error == .schema1("registry.test/app:old"))
            #expect(error.description.contains("schema 1 manifest, which ferry does not support"))
        }
    }

    @Test func tagListFollowsLinkPagination() async throws {
        let transport = ScriptedTransport { request in
            let query = request.url.query ?? ""
            let tags = query.contains("last=b") ? #"["c"]"# : #"["a","b"]"#
            var headers: HTTPHeaders = ["Content-Type": "application/json"]
            if !query.contains("last=b") { headers.add("Link", #"</v2/app/tags/list?last=b&n=2>; rel="next""#) }
            return .response(HTTPResponse(status: 200, reason: "OK", headers: headers,
                                          body: Array(#"{"name":"app","tags":\#(tags)}"#.utf8)))
        }
        let client = makeSession(transport).client(for: endpoint("https://registry.test"))
        #expect(try await client.listTags("app") == ["a", "b", "c"])
        #expect(transport.requests.map { $0.url.absoluteString } == [
            "https://registry.test/v2/app/tags/list", "https://registry.test/v2/app/tags/list?last=b&n=2",
        ])
    }
}

@Suite struct AuthTests {
    @Test func bearerChallengeIsLearnedOnceAndTokensAreCachedPerScope() async throws {
        let registry = InMemoryRegistry(host: "registry.test", auth: .bearer(realmHost: "auth.test", service: "registry.test"))
        registry.addImage(repository: "app", tag: "1.0", seed: "e")
        registry.addImage(repository: "app", tag: "2.0", seed: "f")
        let transport = ScriptedTransport { registry.handle($0) }
        let client = makeSession(transport).client(for: endpoint("https://registry.test"))
        _ = try await client.resolveTag("app", tag: "1.0")
        _ = try await client.resolveTag("app", tag: "2.0")
        let tokenRequests = transport.requests(to: "auth.test")
        #expect(tokenRequests.count == 1)
        let query = try #require(tokenRequests.first?.url.query)
        #expect(query.contains("service=registry.test"))
        #expect(query.contains("scope=repository:app:pull"))
        #expect(!query.contains("account="))
        #expect(tokenRequests.first?.headers["Authorization"] == nil)
        // 401 teaches the challenge, then HEAD with token; the second tag reuses the token.
        #expect(transport.requests(to: "registry.test").map { $0.headers["Authorization"] } == [nil, "Bearer token-1", "Bearer token-1"])
    }

    @Test func a401OnACachedTokenDropsItAndRetriesOnce() async throws {
        let registry = InMemoryRegistry(host: "registry.test", auth: .bearer(realmHost: "auth.test", service: "registry.test"))
        registry.addImage(repository: "app", tag: "1.0", seed: "g")
        let transport = ScriptedTransport { registry.handle($0) }
        let client = makeSession(transport).client(for: endpoint("https://registry.test"))
        _ = try await client.resolveTag("app", tag: "1.0")
        registry.revokeTokens()
        _ = try await client.resolveTag("app", tag: "1.0")
        #expect(transport.requests(to: "auth.test").count == 2)
        #expect(transport.requests(to: "registry.test").compactMap { $0.headers["Authorization"] }.suffix(2)
            == ["Bearer token-1", "Bearer token-2"])
    }

    @Test func basicCredentialsGoToTheTokenServer() async throws {
        let registry = InMemoryRegistry(host: "registry.test", auth: .bearer(realmHost: "auth.test", service: "registry.test"))
        registry.addImage(repository: "app", tag: "1.0", seed: "h")
        let transport = ScriptedTransport { registry.handle($0) }
        // The realm is on another host, so it gets the credentials configured for that host (TokenRealmTests).
        let credentials = StaticCredentials(["auth.test": .basic(username: "alice", password: "s3cret")])
        let client = makeSession(transport, credentials: credentials).client(for: endpoint("https://registry.test"))
        _ = try await client.resolveTag("app", tag: "1.0")
        let token = try #require(transport.requests(to: "auth.test").first)
        #expect(token.headers["Authorization"] == "Basic " + Data("alice:s3cret".utf8).base64EncodedString())
        #expect(token.url.query?.contains("account=alice") == true)
    }

    @Test func basicChallengeWithoutCredentialsFails() async {
        let registry = InMemoryRegistry(host: "registry.test", auth: .basic(username: "u", password: "p"))
        let transport = ScriptedTransport { registry.handle($0) }
        let client = makeSession(transport).client(for: endpoint("https://registry.test"))
        // The first request teaches the Basic challenge; the retry then has no credential to send.
        await #expect(throws: RegistryError.request(
            method: .head, url: "https://registry.test/v2/app/manifests/1.0", cause: .noBasicAuthCredentials)
        ) {
            try await client.resolveTag("app", tag: "1.0")
        }
    }

    @Test func basicChallengeWithCredentialsSucceeds() async throws {
        let registry = InMemoryRegistry(host: "registry.test", auth: .basic(username: "u", password: "p"))
        registry.addImage(repository: "app", tag: "1.0", seed: "i")
        let transport = ScriptedTransport { registry.handle($0) }
        let credentials = StaticCredentials(["registry.test": .basic(username: "u", password: "p")])
        let client = makeSession(transport, credentials: credentials).client(for: endpoint("https://registry.test"))
        _ = try await client.resolveTag("app", tag: "1.0")
        #expect(transport.requests.last?.headers["Authorization"] == "Basic dTpw")
    }

    @Test func tokenServerRefusalReadsLikeDocker() async {
        let transport = ScriptedTransport { request in
            if request.url.host == "auth.test" {
                return .response(HTTPResponse(status: 401, reason: "Unauthorized",
                                              body: Array(#"{"details":"incorrect username or password"}"#.utf8)))
            }
            var response = HTTPResponse.registryError(401, code: "UNAUTHORIZED", message: "authentication required")
            response.headers.add("WWW-Authenticate", #"Bearer realm="https://auth.test/token",service="s""#)
            return .response(response)
        }
        let credentials = StaticCredentials(["registry.test": .basic(username: "u", password: "wrong")])
        let client = makeSession(transport, credentials: credentials).client(for: endpoint("https://registry.test"))
        do {
            _ = try await client.resolveTag("app", tag: "1.0")
            Issue.record("expected a failure")
        } catch {
            #expect(error.description
                == #"Head "https://registry.test/v2/app/manifests/1.0": unauthorized: incorrect username or password"#)
            #expect(!error.description.contains("wrong"))
        }
    }

    @Test func tokenResponseRules() throws {
        let now = Date(timeIntervalSince1970: 1_000_000)
        let accessWins = try RegistryClient.decodeToken(
            Array(#"{"token":"t","access_token":"a","expires_in":10}"#.utf8), requestedAt: now)
        #expect(accessWins.value == "a")
        #expect(accessWins.expiry == now.addingTimeInterval(60))  // floored at 60 s
        let issued = try RegistryClient.decodeToken(
            Array(#"{"token":"t","expires_in":300,"issued_at":"2026-11-29T10:00:00Z"}"#.utf8), requestedAt: now)
        #expect(issued.expiry == ISO8601DateFormatterForTests.date("2026-11-29T10:05:00Z"))
        #expect(throws: RequestFailure.noToken) { try RegistryClient.decodeToken(Array(#"{"expires_in":300}"#.utf8), requestedAt: now) }
        #expect(RequestFailure.noToken.description == "authorization server did not include a token in the response")
    }
}

@Suite struct RedirectAndRetryTests {
    @Test func redirectToAnotherHostCarriesNoCredentials() async throws {
        let registry = InMemoryRegistry(host: "registry.test", auth: .bearer(realmHost: "auth.test", service: "s"))
        let image = TestImage(seed: "j")
        let layer = image.layers[0]
        let digest = Digest.sha256(of: layer)
        let transport = ScriptedTransport { request in
            if request.url.host == "storage.test" {
                return .response(HTTPResponse(status: 200, reason: "OK", body: layer))
            }
            if request.url.path.contains("/blobs/"), request.headers["Authorization"] != nil {
                return .response(HTTPResponse(status: 307, reason: "Temporary Redirect",
                                              headers: ["Location": "https://storage.test/blob?sig=abc"]))
            }
            return registry.handle(request)
        }
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let client = makeSession(transport).client(for: endpoint("https://registry.test"))
        let descriptor = Descriptor(mediaType: .ociLayer, digest: digest, size: Int64(layer.count))
        try await client.downloadBlob("app", descriptor: descriptor, kind: .layer, to: directory + "/blob")
        let storage = try #require(transport.requests(to: "storage.test").first)
        #expect(storage.headers["Authorization"] == nil)
        #expect(FileManager.default.contents(atPath: directory + "/blob") == Data(layer))
    }

    @Test func sameOriginRedirectKeepsTheToken() async throws {
        let image = TestImage(seed: "k")
        let layer = image.layers[0]
        let transport = ScriptedTransport { request in
            if request.url.path.hasPrefix("/v2/other/") {
                return .response(HTTPResponse(status: 200, reason: "OK", body: layer))
            }
            return .response(HTTPResponse(status: 307, reason: "Temporary Redirect",
                                          headers: ["Location": "/v2/other/blobs/x"]))
        }
        let client = makeSession(transport, credentials: AnonymousCredentials()).client(for: endpoint("https://registry.test"))
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let descriptor = Descriptor(mediaType: .ociLayer, digest: Digest.sha256(of: layer), size: Int64(layer.count))
        try await client.downloadBlob("app", descriptor: descriptor, kind: .layer, to: directory + "/blob")
        #expect(transport.requests.map(\.url.path) == ["/v2/app/blobs/\(descriptor.digest)", "/v2/other/blobs/x"])
    }

    @Test func redirectLoopStopsAfterTen() async {
        let transport = ScriptedTransport { _ in
            .response(HTTPResponse(status: 302, reason: "Found", headers: ["Location": "/v2/loop"]))
        }
        let client = makeSession(transport).client(for: endpoint("https://registry.test"))
        await #expect(throws: RegistryError.request(
            method: .get, url: "https://registry.test/v2/app/tags/list", cause: .tooManyRedirects)
        ) {
            try await client.listTags("app")
        }
        #expect(transport.requests.count == 11)
    }

    @Test(arguments: [500, 502, 503, 504, 408, 429])
    func transientStatusesAreRetried(status: Int) async throws {
        let registry = InMemoryRegistry(host: "registry.test")
        registry.addImage(repository: "app", tag: "1.0", seed: "l")
        let failures = Counter()
        let transport = ScriptedTransport { request in
            if failures.next() < 2 { return .response(HTTPResponse(status: status)) }
            return registry.handle(request)
        }
        let client = makeSession(transport).client(for: endpoint("https://registry.test"))
        _ = try await client.resolveTag("app", tag: "1.0")
        #expect(transport.requests.count == 3)
    }

    @Test func connectionErrorsAreRetriedThenReported() async {
        let transport = ScriptedTransport { _ in .failure(.connect(host: "registry.test:443", message: "connection refused")) }
        let client = makeSession(transport, retries: 3).client(for: endpoint("https://registry.test"))
        await #expect(throws: RegistryError.request(
            method: .head, url: "https://registry.test/v2/app/manifests/1.0",
            cause: .transport(.connect(host: "registry.test:443", message: "connection refused")))
        ) {
            try await client.resolveTag("app", tag: "1.0")
        }
        #expect(transport.requests.count == 4)
    }

    @Test func tlsErrorsAreNotRetried() async {
        let transport = ScriptedTransport { _ in .failure(.tls(host: "registry.test:443", message: "self-signed certificate")) }
        let client = makeSession(transport).client(for: endpoint("https://registry.test"))
        await #expect(throws: RegistryError.self) { try await client.resolveTag("app", tag: "1.0") }
        #expect(transport.requests.count == 1)
    }

    @Test func longRetryAfterIsNotWaitedFor() async {
        let transport = ScriptedTransport { _ in
            var response = HTTPResponse.registryError(429, code: "TOOMANYREQUESTS", message: "rate limit")
            response.headers.add("Retry-After", "21600")
            return .response(response)
        }
        let client = makeSession(transport).client(for: endpoint("https://registry.test"))
        await #expect(throws: RegistryError.self) { try await client.fetchManifest("app", tag: "1.0") }
        #expect(transport.requests.count == 1)
    }

    @Test func shortRetryAfterIsHonoured() async throws {
        let registry = InMemoryRegistry(host: "registry.test")
        registry.addImage(repository: "app", tag: "1.0", seed: "m")
        let once = Counter()
        let transport = ScriptedTransport { request in
            if once.next() == 0 {
                return .response(HTTPResponse(status: 429, reason: "Too Many Requests", headers: ["Retry-After": "0"]))
            }
            return registry.handle(request)
        }
        let client = makeSession(transport).client(for: endpoint("https://registry.test"))
        _ = try await client.fetchManifest("app", tag: "1.0")
        #expect(transport.requests.count == 2)
    }
}

/// A thread-safe counter for scripts.
final class Counter: Sendable {
    private let value = Mutex(0)
    func next() -> Int {
        value.withLock { current in
            defer { current += 1 }
            return current
        }
    }
}

import Synchronization
