import FerryTestSupport
import Foundation
import Ledger
import OCIModel
import Testing

/// `ferry pull` against a real registry, through a counting proxy: Docker's status lines, request counts,
/// media types and platforms, fallback provenance, verification and what other tools read from the store.
@Suite(.demoRegistry) struct PullIntegrationTests {
    /// A workspace whose mirror list makes `hosts` plain HTTP (no https attempt is ever made).
    static func workspace(_ hosts: [String], extra: String = "") throws -> FerryWorkspace {
        let workspace = try FerryWorkspace()
        try workspace.writeConfig(plainHTTPList(hosts, extra: extra))
        return workspace
    }

    /// Docker's layer lines for every layer of `images`, as a set (ferry prints them as transfers go).
    static func layerLines(_ images: [BuiltImage]) -> Set<String> {
        Set(images.flatMap(\.layers).flatMap {
            ["\($0.digest.shortHex): Pulling fs layer", "\($0.digest.shortHex): Pull complete"]
        })
    }

    /// Every blob digest of `artifact`: top manifest, child manifests, configs and layers.
    static func digests(_ artifact: BuiltArtifact) -> Set<Digest> {
        var digests: Set<Digest> = [artifact.digest]
        for image in artifact.images { digests.insert(image.manifestDigest) }
        return digests.union(artifact.blobs.map(\.digest))
    }

    /// "METHOD path" of the requests after the first `from`.
    static func requests(_ proxy: RegistryProxy, from: Int) -> [String] {
        proxy.requests.dropFirst(from).map { "\($0.method) \($0.path)" }
    }

    /// The observation of the latest run (one for a pull).
    static func lastObservation(_ workspace: FerryWorkspace) async throws -> ObservationRecord {
        try await workspace.withLedger { ledger in
            let run = try #require(try await ledger.latestRun())
            return try #require(try await ledger.observations(run: run.id).first)
        }
    }

    /// `demo/app` is an OCI image, `demo/tool` a Docker schema-2 image.
    static let images = [("demo/app", "1.1.0", MediaType.ociManifest), ("demo/tool", "1.0.0", MediaType.dockerManifest)]

    @Test(arguments: images)
    func pullByTagPrintsDockerStatusLinesAndARepeatCostsOneHead(
        repository: String, tag: String, mediaType: MediaType
    ) async throws {
        let demo = try DemoRegistry.get()
        let proxy = try RegistryProxy(for: demo.registry)
        let workspace = try Self.workspace([proxy.host])
        let image = try demo.image(repository, tag)
        #expect(image.manifest.mediaType == mediaType)
        let reference = "\(proxy.host)/\(repository):\(tag)"

        let first = try await workspace.pull(reference)
        #expect(first.status == 0, "\(first)")
        let lines = first.stdoutLines
        #expect(lines.first == "\(tag): Pulling from \(repository)")
        #expect(Set(lines.dropFirst().dropLast(2)) == Self.layerLines([image]))
        #expect(lines.suffix(2) == ["Digest: \(image.manifestDigest)", "Status: Downloaded newer image for \(reference)"])
        #expect(first.stderr == "")
        #expect(try workspace.storedBlobs() == Self.digests(.image(image)))
        #expect(Self.requests(proxy, from: 0).filter { $0.contains("/manifests/") } == [
            "HEAD /v2/\(repository)/manifests/\(tag)", "GET /v2/\(repository)/manifests/\(image.manifestDigest)",
        ])
        let stored = try await Self.lastObservation(workspace)
        #expect(stored.outcome == .pulled)
        #expect(stored.mediaType == mediaType)

        let before = proxy.requests.count
        let second = try await workspace.pull(reference)
        #expect(second.status == 0, "\(second)")
        #expect(second.stdoutLines == [
            "\(tag): Pulling from \(repository)", "Digest: \(image.manifestDigest)",
            "Status: Image is up to date for \(reference)",
        ])
        #expect(Self.requests(proxy, from: before) == ["HEAD /v2/\(repository)/manifests/\(tag)"])
        let observation = try await Self.lastObservation(workspace)
        #expect(observation.outcome == .upToDate)
        #expect(observation.servedBy == proxy.baseURL)
        #expect(observation.imageID == image.imageID)
    }

    @Test(arguments: images)
    func pullByDigestAndARepeatCostsNothing(repository: String, tag: String, mediaType: MediaType) async throws {
        let demo = try DemoRegistry.get()
        let proxy = try RegistryProxy(for: demo.registry)
        let workspace = try Self.workspace([proxy.host])
        let image = try demo.image(repository, tag)
        let reference = "\(proxy.host)/\(repository)@\(image.manifestDigest)"

        let first = try await workspace.pull(reference)
        #expect(first.status == 0, "\(first)")
        #expect(first.stdoutLines.first == "\(reference): Pulling from \(repository)")
        #expect(Set(first.stdoutLines.dropFirst().dropLast(2)) == Self.layerLines([image]))
        #expect(first.stdoutLines.suffix(2) == [
            "Digest: \(image.manifestDigest)", "Status: Downloaded newer image for \(reference)",
        ])
        // By digest there is nothing to resolve: no HEAD, one GET of the manifest, then the blobs.
        #expect(Self.requests(proxy, from: 0).filter { $0.contains("/manifests/") } == [
            "GET /v2/\(repository)/manifests/\(image.manifestDigest)"
        ])
        #expect(try workspace.storedBlobs() == Self.digests(.image(image)))
        #expect(try await Self.lastObservation(workspace).mediaType == mediaType)

        let before = proxy.requests.count
        let second = try await workspace.pull(reference)
        #expect(second.status == 0, "\(second)")
        #expect(second.stdoutLines == [
            "\(reference): Pulling from \(repository)", "Digest: \(image.manifestDigest)",
            "Status: Image is up to date for \(reference)",
        ])
        #expect(Self.requests(proxy, from: before) == [])
        #expect(try await Self.lastObservation(workspace).servedBy == "store")
    }

    @Test func pullByTagAndDigestFetchesByDigestWithoutHead() async throws {
        let demo = try DemoRegistry.get()
        let proxy = try RegistryProxy(for: demo.registry)
        let workspace = try Self.workspace([proxy.host])
        let image = try demo.image("demo/app", "1.0.0")
        let reference = "\(proxy.host)/demo/app:1.0.0@\(image.manifestDigest)"

        let result = try await workspace.pull(reference)
        #expect(result.status == 0, "\(result)")
        #expect(result.stdoutLines.first == "\(reference): Pulling from demo/app")
        #expect(Set(result.stdoutLines.dropFirst().dropLast(2)) == Self.layerLines([image]))
        #expect(result.stdoutLines.suffix(2) == [
            "Digest: \(image.manifestDigest)", "Status: Downloaded newer image for \(reference)",
        ])
        #expect(proxy.requests("HEAD").isEmpty)
        #expect(try workspace.storedBlobs() == Self.digests(.image(image)))
    }

    /// `demo/multi` is an OCI index, `demo/multi-docker` a Docker manifest list; both over amd64, arm64/v8, arm/v7.
    @Test(arguments: ["demo/multi", "demo/multi-docker"], [false, true])
    func pullAnIndexForOnePlatformOrAll(repository: String, allPlatforms: Bool) async throws {
        let demo = try DemoRegistry.get()
        let proxy = try RegistryProxy(for: demo.registry)
        let workspace = try Self.workspace([proxy.host])
        let index = try demo.index(repository, "1.0.0")
        let arm64 = try #require(index.child(for: FixturePlatform.linuxARM64))
        let kept = allPlatforms ? index.children : [arm64]
        let reference = "\(proxy.host)/\(repository):1.0.0"

        let result = try await workspace.pull(reference, allPlatforms ? ["--all-platforms"] : ["--platform", "linux/arm64"])
        #expect(result.status == 0, "\(result)")
        #expect(result.stdoutLines.first == "1.0.0: Pulling from \(repository)")
        #expect(Set(result.stdoutLines.dropFirst().dropLast(2)) == Self.layerLines(kept))
        // The index digest is what a tag of an index resolves to, as in Docker.
        #expect(result.stdoutLines.suffix(2) == [
            "Digest: \(index.digest)", "Status: Downloaded newer image for \(reference)",
        ])
        #expect(try workspace.storedBlobs() == Set([index.digest] + kept.map(\.manifestDigest) + kept.flatMap(\.blobs).map(\.digest)))
        let observation = try await Self.lastObservation(workspace)
        #expect(observation.manifestDigest == index.digest)
        #expect(observation.mediaType == index.index.mediaType)
        #expect(observation.platforms.map(\.digest) == kept.map(\.manifestDigest))
        #expect(observation.platforms.map(\.imageID) == kept.map(\.imageID))
        // For an index the image IDs are per platform; the observation itself carries none.
        #expect(observation.imageID == nil)
    }

    @Test func deadMirrorFallsBackToTheRegistryAndProvenanceIsRecorded() async throws {
        let demo = try DemoRegistry.get()
        let proxy = try RegistryProxy(for: demo.registry)
        // A port that was just listening and is now closed: connections are refused.
        let closed = try TestHTTPServer { _ in .text("") }
        let deadPort = closed.port
        closed.stop()
        let dead = "http://127.0.0.1:\(deadPort)"
        let workspace = try Self.workspace([], extra: """
              "\(proxy.host)":
                tls: plain-http
                mirrors: ["\(dead)"]

            """)
        let image = try demo.image("demo/app", "1.0.0")
        let reference = "\(proxy.host)/demo/app:1.0.0"

        let result = try await workspace.pull(reference, ["--retry-delay", "0"])
        #expect(result.status == 0, "\(result)")
        #expect(result.stdoutLines.suffix(2) == [
            "Digest: \(image.manifestDigest)", "Status: Downloaded newer image for \(reference)",
        ])
        let observation = try await Self.lastObservation(workspace)
        #expect(observation.servedBy == proxy.baseURL)
        #expect(observation.attempts == [
            EndpointAttempt(
                endpoint: dead,
                error: "Head \"\(dead)/v2/demo/app/manifests/1.0.0\": dial tcp 127.0.0.1:\(deadPort): connect: connection refused",
                fellBack: true)
        ])
    }

    @Test func mirrorWithoutTheImageFallsBackToTheRegistry() async throws {
        let demo = try DemoRegistry.get()
        let proxy = try RegistryProxy(for: demo.registry)
        let empty = try await RegistryServer.start()
        let workspace = try Self.workspace([], extra: """
              "\(proxy.host)":
                tls: plain-http
                mirrors: ["\(empty.baseURL)"]

            """)
        let image = try demo.image("demo/tool", "1.1.0")
        let reference = "\(proxy.host)/demo/tool:1.1.0"

        let result = try await workspace.pull(reference)
        #expect(result.status == 0, "\(result)")
        #expect(result.stdoutLines.suffix(1) == ["Status: Downloaded newer image for \(reference)"])
        #expect(try workspace.storedBlobs() == Self.digests(.image(image)))
        let observation = try await Self.lastObservation(workspace)
        #expect(observation.servedBy == proxy.baseURL)
        #expect(observation.attempts == [
            EndpointAttempt(
                endpoint: empty.baseURL, error: "manifest unknown: manifest unknown", fellBack: true)
        ])
        _ = try await empty.waitForRequest { $0.path == "/v2/demo/tool/manifests/1.1.0" && $0.status == 404 }
    }

    @Test func missingTagOrRepositoryFailsWithDockersText() async throws {
        let demo = try DemoRegistry.get()
        let proxy = try RegistryProxy(for: demo.registry)
        let workspace = try Self.workspace([proxy.host])

        let noTag = try await workspace.pull("\(proxy.host)/demo/app:9.9.9")
        #expect(noTag.status == 1, "\(noTag)")
        #expect(noTag.stdout == "")
        #expect(noTag.stderr == "Error: manifest for \(proxy.host)/demo/app:9.9.9 not found: manifest unknown: manifest unknown\n")

        let noRepository = try await workspace.pull("\(proxy.host)/demo/nothing-here")
        #expect(noRepository.status == 1, "\(noRepository)")
        #expect(noRepository.stderr == """
            Error: manifest for \(proxy.host)/demo/nothing-here:latest not found: manifest unknown: manifest unknown

            """)
        let observation = try await Self.lastObservation(workspace)
        #expect(observation.reference == "\(proxy.host)/demo/nothing-here:latest")
        #expect(observation.outcome == .failed)
        #expect(try workspace.storedBlobs().isEmpty)
    }

    @Test func tamperedLayerFailsVerificationAndNothingOfItIsKept() async throws {
        let registry = try await RegistryServer.start()
        let directory = try TemporaryDirectory()
        let layout = try OCILayoutBuilder(path: directory.appending("layout"))
        let image = try layout.image(.small(seed: 71))
        try await RegistrySeeder(registry).push(image, from: layout, to: "team/app", tag: "1")
        let tampered = image.layers[1].digest
        try registry.endpoint.storage.corruptBlob(tampered)
        let workspace = try Self.workspace([registry.host])

        let result = try await workspace.pull("\(registry.host)/team/app:1")
        #expect(result.status == 1, "\(result)")
        #expect(result.stderr == "Error: filesystem layer verification failed for digest \(tampered)\n")
        #expect(!(try workspace.storedBlobs()).contains(tampered))
        #expect(try workspace.temporaryFiles().filter { $0.contains(tampered.hex) } == [])
        let observation = try await Self.lastObservation(workspace)
        #expect(observation.outcome == .failed)
        #expect(observation.error == "filesystem layer verification failed for digest \(tampered)")
        withExtendedLifetime(registry) {}
    }

    @Test func skopeoAndUmociReadWhatFerryStored() async throws {
        let demo = try DemoRegistry.get()
        let proxy = try RegistryProxy(for: demo.registry)
        let workspace = try Self.workspace([proxy.host])
        let image = try demo.image("demo/app", "1.2.0")
        let reference = "\(proxy.host)/demo/app:1.2.0"
        #expect(try await workspace.pull(reference).status == 0)

        let skopeo = try await ProcessRunner.runChecked(
            "skopeo", ["--insecure-policy", "inspect", "oci:\(workspace.store):\(reference)"])
        struct Inspect: Decodable {
            var Digest: String
            var Layers: [String]
        }
        let inspected = try JSONDecoder().decode(Inspect.self, from: Data(skopeo.stdout))
        #expect(inspected.Digest == image.manifestDigest.description)
        #expect(inspected.Layers == image.layers.map(\.digest.description))

        let umoci = try await ProcessRunner.runChecked("umoci", ["stat", "--json", "--image", "\(workspace.store):\(reference)"])
        struct Stat: Decodable {
            struct Entry: Decodable { var layer: Layer? }
            struct Layer: Decodable { var digest: String }
            var history: [Entry]?
        }
        #expect(umoci.status.isSuccess)
        let stat = try JSONDecoder().decode(Stat.self, from: Data(umoci.stdout))
        #expect(stat.history?.compactMap(\.layer?.digest) == image.layers.map(\.digest.description))

        // An index kept for one platform: skopeo picks that child when asked for its platform.
        let index = try demo.index("demo/multi", "1.0.0")
        let indexReference = "\(proxy.host)/demo/multi:1.0.0"
        #expect(try await workspace.pull(indexReference, ["--platform", "linux/arm64"]).status == 0)
        let child = try await ProcessRunner.runChecked(
            "skopeo", ["--insecure-policy", "--override-arch", "arm64", "--override-variant", "v8", "inspect",
                       "oci:\(workspace.store):\(indexReference)"])
        struct Platform: Decodable {
            var Architecture: String
            var Layers: [String]
        }
        let arm64 = try #require(index.child(for: FixturePlatform.linuxARM64))
        let platform = try JSONDecoder().decode(Platform.self, from: Data(child.stdout))
        #expect(platform.Architecture == "arm64")
        #expect(platform.Layers == arm64.layers.map(\.digest.description))
    }

    @Test func skopeoIgnoresDockerTypedEntriesOfTheStore() async throws {
        // skopeo 1.9's oci: transport only considers index.json entries with OCI media types, so a Docker image
        // ferry stored byte for byte (as Docker media types) is invisible to it. ferry keeps the registry's bytes
        // and digests rather than converting; this test pins the limitation down.
        let demo = try DemoRegistry.get()
        let proxy = try RegistryProxy(for: demo.registry)
        let workspace = try Self.workspace([proxy.host])
        let reference = "\(proxy.host)/demo/tool:1.1.0"
        #expect(try await workspace.pull(reference).status == 0)

        let skopeo = try await ProcessRunner.run(
            "skopeo", ["--insecure-policy", "inspect", "oci:\(workspace.store):\(reference)"])
        #expect(skopeo.status == .exited(1))
        #expect(skopeo.stderrText.contains(
            #"level=fatal msg="Error parsing image name \"oci:\#(workspace.store):\#(reference)\": "#
                + #"no descriptor found for reference \"\#(reference)\"""#), "\(skopeo.stderrText)")
    }
}
