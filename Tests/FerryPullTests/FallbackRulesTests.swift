import FerryHTTP
import Foundation
import OCIModel
import OCIRegistry
import Testing

@testable import FerryPull

@Suite struct ContinueOnErrorTests {
    static func code(_ code: RegistryErrorCode, bare: Bool = false) -> PullError {
        .registry(.registry([DistributionError(code: code, message: bare ? nil : "msg", detail: bare ? nil : "{}")], status: 400))
    }

    // (error, mirror, falls back?) — PULL-SEMANTICS §1.4, row by row.
    static let table: [(String, PullError, Bool, Bool)] = [
        ("UNAUTHORIZED non-mirror", code(.unauthorized), false, true),
        ("MANIFEST_UNKNOWN non-mirror", code(.manifestUnknown), false, true),
        ("NAME_UNKNOWN non-mirror", code(.nameUnknown), false, true),
        ("bare MANIFEST_UNKNOWN non-mirror", code(.manifestUnknown, bare: true), false, true),
        ("DENIED non-mirror stops", code(.denied), false, false),
        ("TOOMANYREQUESTS non-mirror stops", code(.tooManyRequests), false, false),
        ("UNSUPPORTED non-mirror stops", code(.unsupported), false, false),
        ("UNKNOWN non-mirror stops", code(.unknown), false, false),
        ("vendor code non-mirror stops", code(RegistryErrorCode(rawValue: "VENDOR")), false, false),
        ("DENIED mirror", code(.denied), true, true),
        ("TOOMANYREQUESTS mirror", code(.tooManyRequests), true, true),
        ("unexpected body non-mirror", .registry(.unexpectedResponse(status: 404, parseError: "x", body: "")), false, true),
        ("unexpected status non-mirror", .registry(.unexpectedStatus(statusLine: "500 Internal Server Error")), false, true),
        ("transport non-mirror", .registry(.request(method: .get, url: "u", cause: .transport(.connect(host: "h", message: "refused")))), false, true),
        ("config pull non-mirror stops", .configPull(.unexpectedStatus(statusLine: "500 Internal Server Error")), false, false),
        ("config pull mirror", .configPull(.unexpectedStatus(statusLine: "500 Internal Server Error")), true, true),
        ("no matching manifest non-mirror", .noMatchingManifest("linux/s390x"), false, true),
        ("verification non-mirror", .registry(.verificationFailed(.layer, Digest.sha256(of: []))), false, true),
        ("unsupported format non-mirror", .unsupportedManifestFormat, false, true),
        ("ESRCH text non-mirror stops", .noSupport("write: no such process"), false, false),
        ("ESRCH text mirror stops", .noSupport("No Such Process"), true, false),
        ("store error stops", .store(.missingBlob(Digest.sha256(of: []))), true, false),
        ("cancel stops", .cancelled, true, false),
    ]

    @Test(arguments: table.indices)
    func row(_ index: Int) {
        let (name, error, mirror, expected) = Self.table[index]
        #expect(continueOnError(error, mirror: mirror) == expected, "\(name)")
    }

    @Test func allowV1FallbackOnlyForTheNotHereCodesAndMissingBasicCredentials() {
        let notHere = RegistryError.registry([DistributionError(code: .nameUnknown)], status: 404)
        guard case .fallback(let fallback)? = allowV1Fallback(notHere) else {
            Issue.record("NAME_UNKNOWN must fall back")
            return
        }
        #expect(fallback.transportOK)
        #expect(!fallback.confirmedV2)
        let noCredentials = RegistryError.request(method: .head, url: "u", cause: .noBasicAuthCredentials)
        guard case .fallback(let basic)? = allowV1Fallback(noCredentials) else {
            Issue.record("no basic credentials must fall back")
            return
        }
        #expect(!basic.transportOK)
        #expect(allowV1Fallback(.registry([DistributionError(code: .denied)], status: 403)) == nil)
        #expect(allowV1Fallback(.unexpectedStatus(statusLine: "500")) == nil)
    }
}

@Suite struct TranslationTests {
    static let reference = try! ImageReference(parsing: "foo:1.0")
    static let provenance = Provenance(servedBy: nil, servedByMirror: false, attempts: [])

    @Test(arguments: [
        (RegistryErrorCode.denied, "requested access to the resource is denied",
         "pull access denied for foo, repository does not exist or may require 'docker login': denied: requested access to the resource is denied"),
        (.manifestUnknown, "manifest unknown", "manifest for foo:1.0 not found: manifest unknown: manifest unknown"),
        (.nameUnknown, "repository name not known to registry",
         "repository foo not found: name unknown: repository name not known to registry"),
        (.tooManyRequests, "You have reached your pull rate limit.",
         "toomanyrequests: You have reached your pull rate limit."),
    ])
    func translate(code: RegistryErrorCode, message: String, expected: String) {
        let error = PullError.registry(.registry([DistributionError(code: code, message: message, detail: "{}"),
                                                  DistributionError(code: .unknown, message: "extra", detail: "{}")], status: 404))
        let failure = PullFailure.translate(error, reference: Self.reference, provenance: Self.provenance)
        #expect(failure.message == expected)
        #expect(failure.kind == ([.denied, .manifestUnknown, .nameUnknown].contains(code) ? .notFound : .unknown))
    }

    @Test func otherErrorsKeepTheirText() {
        let failure = PullFailure.translate(.noMatchingManifest("linux/s390x"), reference: Self.reference, provenance: Self.provenance)
        #expect(failure.message == "no matching manifest for linux/s390x in the manifest list entries")
        #expect(failure.kind == .unknown)
        #expect(PullFailure.translate(.cancelled, reference: Self.reference, provenance: Self.provenance).message == "context canceled")
        #expect(PullError.configPull(.unexpectedStatus(statusLine: "500 Internal Server Error")).description
            == "error pulling image configuration: received unexpected HTTP status: 500 Internal Server Error")
        #expect(PullError.invalidManifestClass("application/vnd.docker.plugin.v1+json", "plugin").description
            == #"Encountered remote "application/vnd.docker.plugin.v1+json"(plugin) when fetching"#)
    }
}

@Suite struct LoopStateTests {
    let https = RegistryEndpoint(baseURL: URL(string: "https://registry.test:5000")!)

    @Test func noSupportErrorsNeverReplaceARealError() {
        var state = LoopState()
        _ = state.handle(.fallback(FallbackError(error: .noSupport("v1 only"), confirmedV2: false, transportOK: false)), endpoint: https)
        #expect(state.lastError == .noSupport("v1 only"))
        _ = state.handle(.fallback(FallbackError(error: .noMatchingManifest("x"), confirmedV2: false, transportOK: false)), endpoint: https)
        _ = state.handle(.fallback(FallbackError(error: .noSupport("later"), confirmedV2: false, transportOK: false)), endpoint: https)
        #expect(state.lastError == .noMatchingManifest("x"))
    }

    @Test func transportOKOnHTTPSConfirmsTLS() {
        var state = LoopState()
        _ = state.handle(.fallback(FallbackError(error: .unsupportedManifestFormat, confirmedV2: true, transportOK: true)), endpoint: https)
        #expect(state.confirmedTLS == ["registry.test:5000"])
        #expect(state.confirmedV2)
        var other = LoopState()
        _ = other.handle(.fallback(FallbackError(error: .unsupportedManifestFormat, confirmedV2: false, transportOK: false)), endpoint: https)
        #expect(other.confirmedTLS.isEmpty)
    }
}

@Suite struct EndpointResolverTests {
    @Test func dockerHubGetsMirrorsThenTheOfficialRegistryNeverHTTP() {
        let resolver = EndpointResolver(hosts: ["docker.io": HostSettings(mirrors: [
            URL(string: "https://mirror.example")!, URL(string: "http://plain.example:5000")!,
            URL(string: "https://mirror.example")!,
        ])])
        let endpoints = resolver.endpoints(for: "docker.io")
        #expect(endpoints.map(\.description) == [
            "https://mirror.example", "http://plain.example:5000", "https://registry-1.docker.io",
        ])
        #expect(endpoints.map(\.isMirror) == [true, true, false])
        #expect(endpoints.map(\.credentialHost) == ["mirror.example", "plain.example:5000", "docker.io"])
    }

    @Test(arguments: [
        ("registry.example", ["https://registry.example"], [true]),
        ("registry.example:5000", ["https://registry.example:5000"], [true]),
        ("localhost:5000", ["https://localhost:5000", "http://localhost:5000"], [false]),
        ("127.0.0.1:5000", ["https://127.0.0.1:5000", "http://127.0.0.1:5000"], [false]),
        ("127.8.9.1", ["https://127.8.9.1", "http://127.8.9.1"], [false]),
        ("[::1]:5000", ["https://[::1]:5000", "http://[::1]:5000"], [false]),
        ("128.0.0.1", ["https://128.0.0.1"], [true]),
    ])
    func defaults(host: String, expected: [String], verify: [Bool]) {
        let endpoints = EndpointResolver().endpoints(for: host)
        #expect(endpoints.map(\.description) == expected)
        #expect(endpoints.first?.tls.verifyPeer == verify.first)
    }

    @Test func tlsSettingOverridesTheDefault() {
        let resolver = EndpointResolver(hosts: [
            "127.0.0.1:5000": HostSettings(tls: .plainHTTP),
            "localhost:5001": HostSettings(tls: .verify, caFile: "/ca.pem"),
            "r.example": HostSettings(tls: .insecureSkipVerify),
        ])
        #expect(resolver.endpoints(for: "127.0.0.1:5000").map(\.description) == ["http://127.0.0.1:5000"])
        let verify = resolver.endpoints(for: "localhost:5001")
        #expect(verify.map(\.description) == ["https://localhost:5001"])
        #expect(verify.first?.tls == TLSOptions(verifyPeer: true, caFile: "/ca.pem"))
        #expect(resolver.endpoints(for: "r.example").first?.tls.verifyPeer == false)
    }
}

@Suite struct PlatformSelectionTests {
    static func entry(_ platform: String, _ seed: String) -> Descriptor {
        let parts = platform.split(separator: "/").map(String.init)
        return Descriptor(mediaType: .ociManifest, digest: Digest.sha256(of: Array(seed.utf8)), size: 1,
                          platform: Platform(os: parts[0], architecture: parts[1], variant: parts.count > 2 ? parts[2] : nil))
    }

    static let entries = [
        entry("linux/amd64", "a"), entry("linux/arm64", "b"), entry("linux/arm/v6", "c"), entry("linux/amd64", "d"),
    ]

    @Test func firstMatchInListOrderWins() throws {
        let chosen = try EndpointPuller.select(Self.entries, for: .single(Platform(parsing: "linux/x86_64")))
        #expect(chosen == [Self.entries[0]])
        #expect(try EndpointPuller.select(Self.entries, for: .single(Platform(parsing: "linux/arm64/v8"))) == [Self.entries[1]])
    }

    @Test func armIgnoresTheVariantWhenNothingMatchesExactly() throws {
        #expect(try EndpointPuller.select(Self.entries, for: .single(Platform(parsing: "linux/arm/v7"))) == [Self.entries[2]])
    }

    @Test func noMatchNamesTheNormalisedPlatform() {
        #expect(throws: PullError.noMatchingManifest("linux/s390x")) {
            try EndpointPuller.select(Self.entries, for: .single(Platform(parsing: "linux/s390x")))
        }
        #expect(PullError.noMatchingManifest("linux/s390x").description
            == "no matching manifest for linux/s390x in the manifest list entries")
    }

    @Test func listKeepsIndexOrderAndSkipsMissingPlatforms() throws {
        let chosen = try EndpointPuller.select(
            Self.entries, for: .list([Platform(parsing: "linux/arm64"), Platform(parsing: "linux/amd64"), Platform(parsing: "linux/ppc64le")]))
        #expect(chosen == [Self.entries[0], Self.entries[1]])
        #expect(try EndpointPuller.select(Self.entries, for: .all) == Self.entries)
    }
}
