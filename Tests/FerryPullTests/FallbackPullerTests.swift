import FerryHTTP
import FerrySystem
import FerryTestSupport
import Foundation
import LayoutStore
import Logging
import OCIModel
import OCIRegistry
import Synchronization
import Testing

@testable import FerryPull

/// A store in a fresh temporary directory plus a puller over a scripted transport.
struct PullHarness {
    let directory: String
    let store: ContentStore
    let transport: ScriptedTransport
    let puller: FallbackPuller

    init(hosts: [String: HostSettings] = [:], _ script: @escaping ScriptedTransport.Script) throws {
        directory = NSTemporaryDirectory() + "ferry-pull-\(UUID().uuidString)"
        store = ContentStore(root: directory)
        try store.prepare()
        transport = ScriptedTransport(script)
        let session = RegistrySession(
            transport: transport, retry: RetryPolicy(retries: 2, baseDelay: .zero, maxDelay: .zero, jitter: false),
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        puller = FallbackPuller(
            session: session, store: store, blobs: BlobFetcher(store: store), resolver: EndpointResolver(hosts: hosts))
    }

    func remove() { try? FileManager.default.removeItem(atPath: directory) }

    func pull(_ text: String, platforms: PlatformSelection = .single(Platform(os: "linux", architecture: "amd64")))
        async throws(PullFailure) -> FallbackPuller.Success
    {
        try await puller.pull(PullRequest(reference: try! ImageReference(parsing: text), platforms: platforms))
    }
}

@Suite struct FallbackPullerTests {
    static let mirrored = ["docker.io": HostSettings(mirrors: [URL(string: "https://mirror.test")!])]

    @Test func deadMirrorFallsBackToUpstreamAndProvenanceSaysWhy() async throws {
        let hub = InMemoryRegistry(host: "registry-1.docker.io")
        let image = hub.addImage(repository: "library/alpine", tag: "3.20", seed: "alpine")
        let harness = try PullHarness(hosts: Self.mirrored) { request in
            if request.url.host == "mirror.test" { return .failure(.connect(host: "mirror.test:443", message: "connection refused")) }
            return hub.handle(request)
        }
        defer { harness.remove() }
        let result = try await harness.pull("alpine:3.20")
        #expect(result.image.manifestDigest == image.manifest)
        #expect(result.image.imageID == image.config)
        #expect(result.provenance.servedBy == "https://registry-1.docker.io")
        #expect(result.provenance.attempts.count == 1)
        #expect(result.provenance.attempts.first?.endpoint == "https://mirror.test")
        #expect(result.provenance.attempts.first?.fellBack == true)
        #expect(result.provenance.attempts.first?.error.contains("connection refused") == true)
        #expect(try harness.store.reference(named: "docker.io/library/alpine:3.20")?.digest == image.manifest)
    }

    @Test func aMirrorThatRefusesConnectionsIsAskedOnceAndNotRetried() async throws {
        let hub = InMemoryRegistry(host: "registry-1.docker.io")
        hub.addImage(repository: "library/alpine", tag: "3.20", seed: "a320")
        hub.addImage(repository: "library/alpine", tag: "3.21", seed: "a321")
        let refused = TransportError.connect(
            host: "mirror.test:443", message: "connect: connection refused", cause: SystemErrno(ECONNREFUSED))
        let harness = try PullHarness(hosts: Self.mirrored) { request in
            request.url.host == "mirror.test" ? .failure(refused) : hub.handle(request)
        }
        defer { harness.remove() }
        let first = try await harness.pull("alpine:3.20")
        // Connection refused is definitive for a mirror: no retry, straight to the next endpoint.
        #expect(harness.transport.requests(to: "mirror.test").count == 1)
        #expect(first.provenance.servedBy == "https://registry-1.docker.io")
        #expect(first.provenance.attempts.map(\.fellBack) == [true])
        _ = try await harness.pull("alpine:3.21")
        #expect(harness.transport.requests(to: "mirror.test").count == 1)
    }

    @Test func aRegistryThatRefusesConnectionsKeepsItsRetries() async throws {
        let refused = TransportError.connect(
            host: "registry.example:443", message: "connect: connection refused", cause: SystemErrno(ECONNREFUSED))
        let harness = try PullHarness { _ in .failure(refused) }
        defer { harness.remove() }
        await #expect(throws: PullFailure.self) { _ = try await harness.pull("registry.example/app:1") }
        // No mirror to fall back to: the registry's own retries (2 in the harness) stay.
        #expect(harness.transport.requests(to: "registry.example").count == 3)
    }

    @Test func aDeadMirrorCostsItsRetriesOnceAndIsSkippedAfterwards() async throws {
        let hub = InMemoryRegistry(host: "registry-1.docker.io")
        hub.addImage(repository: "library/alpine", tag: "3.20", seed: "a320")
        hub.addImage(repository: "library/alpine", tag: "3.21", seed: "a321")
        let harness = try PullHarness(hosts: Self.mirrored) { request in
            if request.url.host == "mirror.test" { return .failure(.connect(host: "mirror.test:443", message: "connection refused")) }
            return hub.handle(request)
        }
        defer { harness.remove() }
        _ = try await harness.pull("alpine:3.20")
        // 1 attempt + 2 retries (the harness's policy).
        #expect(harness.transport.requests(to: "mirror.test").count == 3)
        let second = try await harness.pull("alpine:3.21")
        #expect(harness.transport.requests(to: "mirror.test").count == 3)
        #expect(second.provenance.attempts.first?.error.contains("connection refused") == true)
        #expect(second.provenance.attempts.first?.fellBack == true)
    }

    @Test func mirror404FallsBackToUpstream() async throws {
        let hub = InMemoryRegistry(host: "registry-1.docker.io")
        let mirror = InMemoryRegistry(host: "mirror.test")
        let image = hub.addImage(repository: "library/alpine", tag: "3.20", seed: "alpine")
        let harness = try PullHarness(hosts: Self.mirrored) { request in
            request.url.host == "mirror.test" ? mirror.handle(request) : hub.handle(request)
        }
        defer { harness.remove() }
        let result = try await harness.pull("alpine:3.20")
        #expect(result.image.manifestDigest == image.manifest)
        #expect(result.provenance.attempts.map(\.error) == ["name unknown: repository name not known to registry"])
    }

    @Test func mirrorServesWhenItHasTheImage() async throws {
        let mirror = InMemoryRegistry(host: "mirror.test")
        let image = mirror.addImage(repository: "library/alpine", tag: "3.20", seed: "alpine")
        let harness = try PullHarness(hosts: Self.mirrored) { request in
            request.url.host == "mirror.test" ? mirror.handle(request) : .failure(.connect(host: "hub", message: "unreachable"))
        }
        defer { harness.remove() }
        let result = try await harness.pull("alpine:3.20")
        #expect(result.image.manifestDigest == image.manifest)
        #expect(result.provenance.servedBy == "https://mirror.test")
        #expect(result.provenance.servedByMirror)
        #expect(harness.transport.requests.allSatisfy { $0.url.host == "mirror.test" })
    }

    @Test func deniedOnANonMirrorStopsAndIsTranslated() async throws {
        // 127.0.0.1 gets https then http; DENIED on https must stop before http.
        let harness = try PullHarness { _ in
            .response(.registryError(403, code: "DENIED", message: "requested access to the resource is denied", detail: "{}"))
        }
        defer { harness.remove() }
        do {
            _ = try await harness.pull("127.0.0.1:5000/team/app:1.0")
            Issue.record("expected a failure")
        } catch {
            #expect(error.message
                == "pull access denied for 127.0.0.1:5000/team/app, repository does not exist or may require 'docker login': denied: requested access to the resource is denied")
            #expect(error.kind == .notFound)
            #expect(error.provenance.attempts.map(\.fellBack) == [false])
        }
        #expect(Set(harness.transport.requests.map(\.url.scheme)) == ["https"])
    }

    @Test func httpsTransportFailureTriesPlainHTTPForAnInsecureHost() async throws {
        let registry = InMemoryRegistry(host: "127.0.0.1")
        let image = registry.addImage(repository: "team/app", tag: "1.0", seed: "app")
        let harness = try PullHarness { request in
            if request.url.scheme == "https" { return .failure(.tls(host: "127.0.0.1:5000", message: "wrong version number")) }
            return registry.handle(request)
        }
        defer { harness.remove() }
        let result = try await harness.pull("127.0.0.1:5000/team/app:1.0")
        #expect(result.image.manifestDigest == image.manifest)
        #expect(result.provenance.servedBy == "http://127.0.0.1:5000")
    }

    @Test func hostConfirmedToSpeakTLSSkipsPlainHTTP() async throws {
        // https answers with an unparsable 404 body: transport confirmed, falls back, so http is skipped.
        let harness = try PullHarness { request in
            .response(HTTPResponse(status: 404, reason: "Not Found", body: Array("<html/>".utf8)))
        }
        defer { harness.remove() }
        do {
            _ = try await harness.pull("127.0.0.1:5000/team/app:1.0")
            Issue.record("expected a failure")
        } catch {
            #expect(error.provenance.attempts.map(\.skipped) == [false, true])
            #expect(error.message.hasPrefix("error parsing HTTP 404 response body"))
        }
        #expect(harness.transport.requests.allSatisfy { $0.url.scheme == "https" })
    }

    @Test func reservedNameIsRefusedBeforeAnyRequest() async throws {
        let harness = try PullHarness { _ in .failure(.connect(host: "x", message: "unused")) }
        defer { harness.remove() }
        for name in ["scratch", "library/scratch", "docker.io/library/scratch"] {
            await #expect(throws: PullFailure(kind: .invalidParameter, message: "'scratch' is a reserved name",
                                              provenance: Provenance(servedBy: nil, servedByMirror: false, attempts: []))) {
                try await harness.pull(name)
            }
        }
        #expect(harness.transport.requests.isEmpty)
    }

    @Test func configPullFailureOnANonMirrorStops() async throws {
        let registry = InMemoryRegistry(host: "127.0.0.1")
        let image = registry.addImage(repository: "app", tag: "1.0", seed: "cfg")
        let harness = try PullHarness { request in
            if request.url.path.hasSuffix("/blobs/\(image.config)") {
                return .response(HTTPResponse(status: 500, reason: "Internal Server Error"))
            }
            return registry.handle(request)
        }
        defer { harness.remove() }
        do {
            _ = try await harness.pull("127.0.0.1:5000/app:1.0")
            Issue.record("expected a failure")
        } catch {
            #expect(error.message == "error pulling image configuration: received unexpected HTTP status: 500 Internal Server Error")
            #expect(error.provenance.attempts.map(\.fellBack) == [false])
        }
    }

    @Test func tamperedLayerFallsBackAndNothingLandsInBlobs() async throws {
        let mirror = InMemoryRegistry(host: "mirror.test")
        let hub = InMemoryRegistry(host: "registry-1.docker.io")
        let image = TestImage(seed: "tamper")
        for registry in [mirror, hub] {
            for blob in image.blobs { registry.addBlob(blob) }
            registry.addManifest(image.manifest, mediaType: .ociManifest, repository: "library/app", tag: "1")
        }
        let layerDigest = Digest.sha256(of: image.layers[1])
        mirror.tamperBlob(layerDigest, with: Array(image.layers[1].reversed()))
        let harness = try PullHarness(hosts: Self.mirrored) { request in
            request.url.host == "mirror.test" ? mirror.handle(request) : hub.handle(request)
        }
        defer { harness.remove() }
        let result = try await harness.pull("app:1")
        #expect(result.provenance.servedBy == "https://registry-1.docker.io")
        #expect(result.provenance.attempts.first?.error == "filesystem layer verification failed for digest \(layerDigest)")
        #expect(try FileSystemHelpers.readBlob(harness.store, layerDigest) == image.layers[1])
    }

    @Test func tamperedLayerOnTheOnlyEndpointFailsAndLeavesNoBlob() async throws {
        let registry = InMemoryRegistry(host: "registry.example")
        let image = registry.addImage(repository: "app", tag: "1", seed: "tamper2")
        let testImage = TestImage(seed: "tamper2")
        let layerDigest = Digest.sha256(of: testImage.layers[0])
        registry.tamperBlob(layerDigest, with: Array(testImage.layers[0].reversed()))
        let harness = try PullHarness { registry.handle($0) }
        defer { harness.remove() }
        do {
            _ = try await harness.pull("registry.example/app:1")
            Issue.record("expected a failure")
        } catch {
            #expect(error.message == "filesystem layer verification failed for digest \(layerDigest)")
        }
        #expect(!harness.store.hasBlob(layerDigest))
        #expect(harness.store.hasBlob(image.config))
        let staged = try TestFiles.list(harness.directory + "/tmp")
        #expect(staged.isEmpty)
        #expect(try harness.store.reference(named: "registry.example/app:1") == nil)
    }

    @Test func unchangedTagCostsOneRequestAndStoredDigestNone() async throws {
        let registry = InMemoryRegistry(host: "registry.example")
        let image = registry.addImage(repository: "app", tag: "1", seed: "cache")
        let harness = try PullHarness { registry.handle($0) }
        defer { harness.remove() }
        let first = try await harness.pull("registry.example/app:1")
        #expect(first.image.blobsDownloaded == 3)
        #expect(try harness.store.reference(named: "registry.example/app:1")?.digest == image.manifest)
        harness.transport.resetLog()
        let second = try await harness.pull("registry.example/app:1")
        #expect(harness.transport.requests.map(\.method) == [.head])
        #expect(second.image.manifestFromCache)
        #expect(second.image.blobsDownloaded == 0)
        harness.transport.resetLog()
        let pinned = try await harness.pull("registry.example/app@\(image.manifest)")
        #expect(harness.transport.requests.isEmpty)
        #expect(pinned.image.imageID == image.config)
    }

    @Test func indexKeepsItsBytesAndTheSelectedChildren() async throws {
        let registry = InMemoryRegistry(host: "registry.example")
        let platforms = [Platform(os: "linux", architecture: "amd64"), Platform(os: "linux", architecture: "arm64", variant: "v8"),
                         Platform(os: "linux", architecture: "arm", variant: "v7")]
        let index = registry.addIndex(repository: "multi", tag: "1", seed: "multi", platforms: platforms)
        let harness = try PullHarness { registry.handle($0) }
        defer { harness.remove() }
        let single = try await harness.pull("registry.example/multi:1", platforms: .single(Platform(parsing: "linux/arm64")))
        #expect(single.image.manifestDigest == index.index)
        #expect(single.image.imageID == index.children[1].2)
        #expect(harness.store.hasBlob(index.index))
        #expect(!harness.store.hasBlob(index.children[0].1))
        let all = try await harness.pull("registry.example/multi:1", platforms: .all)
        #expect(all.image.children.map(\.digest) == index.children.map(\.1))
        #expect(all.image.imageID == nil)
        for child in index.children { #expect(harness.store.hasBlob(child.2)) }
    }

    @Test func missingPlatformFallsBackAndReportsTheNoMatchText() async throws {
        let registry = InMemoryRegistry(host: "registry.example")
        registry.addIndex(repository: "multi", tag: "1", seed: "m", platforms: [Platform(os: "linux", architecture: "amd64")])
        let harness = try PullHarness { registry.handle($0) }
        defer { harness.remove() }
        await #expect(throws: PullFailure(
            kind: .unknown, message: "no matching manifest for linux/s390x in the manifest list entries",
            provenance: Provenance(servedBy: nil, servedByMirror: false, attempts: [EndpointAttempt(
                endpoint: "https://registry.example", isMirror: false,
                error: "no matching manifest for linux/s390x in the manifest list entries", fellBack: true, skipped: false)]))
        ) {
            try await harness.pull("registry.example/multi:1", platforms: .single(Platform(parsing: "linux/s390x")))
        }
    }

    @Test func cancellationNeverFallsBack() async throws {
        let harness = try PullHarness(hosts: Self.mirrored) { _ in .failure(.cancelled) }
        defer { harness.remove() }
        do {
            _ = try await harness.pull("alpine:3.20")
            Issue.record("expected a failure")
        } catch {
            #expect(error.kind == .cancelled)
            #expect(error.message == "context canceled")
        }
        #expect(harness.transport.requests.count == 1)
    }

    @Test func dockerTwentyTenFallbackGetsTheManifestByTag() async throws {
        let registry = InMemoryRegistry(host: "registry.example")
        let image = registry.addImage(repository: "app", tag: "1", seed: "odd")
        let harness = try PullHarness { request in
            if request.method == .get, request.url.path.hasSuffix("/manifests/\(image.manifest)") {
                return .response(.registryError(404, code: "MANIFEST_UNKNOWN", message: "manifest unknown", detail: "{}"))
            }
            return registry.handle(request)
        }
        defer { harness.remove() }
        let result = try await harness.pull("registry.example/app:1")
        #expect(result.image.manifestDigest == image.manifest)
    }
}

enum FileSystemHelpers {
    static func readBlob(_ store: ContentStore, _ digest: Digest) throws -> [UInt8] {
        Array(try Data(contentsOf: URL(fileURLWithPath: store.blobPath(digest))))
    }
}
