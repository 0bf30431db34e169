import FerryHTTP
import FerryPull
import FerryTestSupport
import Foundation
import LayoutStore
import Ledger
import Logging
import OCIModel
import OCIRegistry
import Testing

@testable import FerryPush

/// A source store filled by pulling from one in-memory registry, and a pusher aimed at another.
final class PushHarness {
    let directory = NSTemporaryDirectory() + "ferry-push-\(UUID().uuidString)"
    let source = InMemoryRegistry(host: "source.test")
    let destination = InMemoryRegistry(host: "dest.test")
    let store: ContentStore
    let ledger: ReferenceStore
    let transport: ScriptedTransport
    let session: RegistrySession
    let runID: RunID

    init() async throws {
        store = ContentStore(root: directory + "/store")
        try store.prepare()
        ledger = try ReferenceStore.inMemory()
        let source = self.source
        let destination = self.destination
        transport = ScriptedTransport { request in
            request.url.host == "dest.test" ? destination.handle(request) : source.handle(request)
        }
        session = RegistrySession(
            transport: transport, retry: RetryPolicy(retries: 1, baseDelay: .zero, maxDelay: .zero, jitter: false),
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        runID = try await ledger.beginRun(RunStart(startedAt: Date(), command: "push"))
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    func pull(_ text: String, platforms: FerryPull.PlatformSelection = .all) async throws -> Descriptor {
        let puller = FallbackPuller(session: session, store: store, blobs: BlobFetcher(store: store), resolver: EndpointResolver())
        let result = try await puller.pull(PullRequest(reference: try ImageReference(parsing: text), platforms: platforms))
        return Descriptor(mediaType: result.image.mediaType, digest: result.image.manifestDigest, size: result.image.size)
    }

    func pusher(chunkSize: Int64 = RegistryClient.chunkSize) -> ImagePusher {
        ImagePusher(session: session, store: store, ledger: ledger, resolver: EndpointResolver(), chunkSize: chunkSize)
    }

    static let target = PushTarget(name: "internal", destination: .registry(host: "dest.test", prefix: "mirror"))
}

@Suite struct ImagePusherTests {
    @Test func pushesByteForByteAndASecondPushCostsOneHead() async throws {
        let harness = try await PushHarness()
        let image = harness.source.addImage(repository: "team/app", tag: "1.0", seed: "app")
        let descriptor = try await harness.pull("source.test/team/app:1.0")
        let reference = try ImageReference(parsing: "source.test/team/app:1.0")
        harness.transport.resetLog()
        let first = await harness.pusher().push(reference, descriptor: descriptor, to: PushHarness.target, runID: harness.runID)
        #expect(first.outcome == .pushed)
        #expect(first.error == nil)
        #expect(first.destination == "dest.test/mirror/source.test/team/app:1.0")
        #expect(first.blobsUploaded == 3)
        let repository = "mirror/source.test/team/app"
        #expect(harness.destination.storedManifest(repository, "1.0") == harness.source.storedManifest("team/app", "1.0"))
        #expect(harness.destination.storedManifest(repository, image.manifest.description) != nil)
        // Manifests: by digest, then by tag.
        let manifestPuts = harness.transport.requests.filter { $0.method == .put && $0.url.path.contains("/manifests/") }
        #expect(manifestPuts.map { $0.url.lastPathComponent } == [image.manifest.description, "1.0"])

        harness.transport.resetLog()
        let second = await harness.pusher().push(reference, descriptor: descriptor, to: PushHarness.target, runID: harness.runID)
        #expect(second.outcome == .upToDate)
        #expect(harness.transport.requests.map(\.method) == [.head])
        let recorded = try await harness.ledger.pushes(run: harness.runID)
        #expect(recorded.map(\.outcome) == [.pushed, .upToDate])
    }

    @Test func blobsPushedToOneRepositoryAreMountedIntoAnother() async throws {
        let harness = try await PushHarness()
        harness.source.addImage(repository: "team/app", tag: "1.0", seed: "shared")
        let descriptor = try await harness.pull("source.test/team/app:1.0")
        let pusher = harness.pusher()
        let one = PushTarget(name: "one", destination: .registry(host: "dest.test", prefix: "one"))
        let two = PushTarget(name: "two", destination: .registry(host: "dest.test", prefix: "two"))
        let reference = try ImageReference(parsing: "source.test/team/app:1.0")
        _ = await pusher.push(reference, descriptor: descriptor, to: one, runID: harness.runID)
        harness.transport.resetLog()
        let mounted = await pusher.push(reference, descriptor: descriptor, to: two, runID: harness.runID)
        #expect(mounted.error == nil)
        #expect(mounted.outcome == .pushed)
        #expect(mounted.blobsMounted == 3)
        #expect(mounted.blobsUploaded == 0)
        let mounts = harness.transport.requests.filter { $0.url.query?.contains("mount=") == true }
        #expect(mounts.count == 3)
        #expect(mounts.allSatisfy { $0.url.query?.contains("from=one/source.test/team/app") == true })
    }

    @Test func registryIgnoringTheMountGetsAnUploadInTheOfferedSession() async throws {
        let harness = try await PushHarness()
        harness.source.addImage(repository: "team/app", tag: "1.0", seed: "nomount")
        harness.destination.setMountsHonoured(false)
        let descriptor = try await harness.pull("source.test/team/app:1.0")
        let reference = try ImageReference(parsing: "source.test/team/app:1.0")
        let pusher = harness.pusher()
        _ = await pusher.push(reference, descriptor: descriptor, to: PushTarget(name: "a", destination: .registry(host: "dest.test", prefix: "a")), runID: harness.runID)
        let second = await pusher.push(reference, descriptor: descriptor, to: PushTarget(name: "b", destination: .registry(host: "dest.test", prefix: "b")), runID: harness.runID)
        #expect(second.outcome == .pushed)
        #expect(second.blobsUploaded == 3)
        #expect(second.blobsMounted == 0)
    }

    @Test func largeBlobsGoInChunks() async throws {
        let harness = try await PushHarness()
        harness.source.addImage(repository: "team/big", tag: "1", seed: "big", layerSize: 10_000)
        let descriptor = try await harness.pull("source.test/team/big:1")
        harness.transport.resetLog()
        let record = await harness.pusher(chunkSize: 4096).push(
            try ImageReference(parsing: "source.test/team/big:1"), descriptor: descriptor, to: PushHarness.target,
            runID: harness.runID)
        #expect(record.outcome == .pushed)
        let patches = harness.transport.requests.filter { $0.method == .patch }
        // Two 10 000-byte layers in 4096-byte chunks: 2 full chunks each, the rest with the final PUT.
        #expect(patches.count == 4)
        // Layers upload in parallel: check each upload session's chunks in order.
        let sessions = Dictionary(grouping: patches) { $0.url.path }
        #expect(sessions.count == 2)
        for chunks in sessions.values {
            #expect(chunks.map { $0.headers["Content-Range"] } == ["0-4095", "4096-8191"])
        }
    }

    @Test func partialIndexIsRefusedWithAnExplanation() async throws {
        let harness = try await PushHarness()
        harness.source.addIndex(
            repository: "team/multi", tag: "1", seed: "multi",
            platforms: [Platform(os: "linux", architecture: "amd64"), Platform(os: "linux", architecture: "arm64", variant: "v8")])
        let descriptor = try await harness.pull("source.test/team/multi:1", platforms: .list([Platform(os: "linux", architecture: "amd64")]))
        let record = await harness.pusher().push(
            try ImageReference(parsing: "source.test/team/multi:1"), descriptor: descriptor, to: PushHarness.target,
            runID: harness.runID)
        #expect(record.outcome == .failed)
        #expect(record.error?.contains("the store holds only some of its platforms (missing linux/arm64/v8)") == true)
        #expect(record.error?.contains("MANIFEST_BLOB_UNKNOWN".lowercased().replacingOccurrences(of: "_", with: " ")) == true)
    }

    @Test func fullIndexPushesChildrenFirst() async throws {
        let harness = try await PushHarness()
        let index = harness.source.addIndex(
            repository: "team/multi", tag: "1", seed: "multi2",
            platforms: [Platform(os: "linux", architecture: "amd64"), Platform(os: "linux", architecture: "arm64", variant: "v8")])
        let descriptor = try await harness.pull("source.test/team/multi:1", platforms: .all)
        harness.transport.resetLog()
        let record = await harness.pusher().push(
            try ImageReference(parsing: "source.test/team/multi:1"), descriptor: descriptor, to: PushHarness.target,
            runID: harness.runID)
        #expect(record.outcome == .pushed)
        let puts = harness.transport.requests.filter { $0.method == .put && $0.url.path.contains("/manifests/") }
        #expect(puts.map { $0.url.lastPathComponent } == index.children.map(\.1.description) + [index.index.description, "1"])
    }

    @Test func layoutTargetGetsAVerifiedCopyReadableAsAStore() async throws {
        let harness = try await PushHarness()
        let image = harness.source.addImage(repository: "team/app", tag: "1.0", seed: "layout")
        let descriptor = try await harness.pull("source.test/team/app:1.0")
        let path = harness.directory + "/usb"
        let target = PushTarget(name: "usb", destination: .layout(path: path))
        let reference = try ImageReference(parsing: "source.test/team/app:1.0")
        let first = await harness.pusher().push(reference, descriptor: descriptor, to: target, runID: harness.runID)
        #expect(first.outcome == .pushed)
        #expect(first.destination == "oci:\(path):source.test/team/app:1.0")
        let copy = ContentStore(root: path)
        #expect(try copy.reference(named: "source.test/team/app:1.0")?.digest == image.manifest)
        #expect(copy.hasBlob(image.config))
        let second = await harness.pusher().push(reference, descriptor: descriptor, to: target, runID: harness.runID)
        #expect(second.outcome == .upToDate)
    }

    @Test(arguments: [
        ("docker.io/library/alpine:3.20", "registry.internal:5000", "mirror", "registry.internal:5000/mirror/docker.io/library/alpine:3.20"),
        ("127.0.0.1:5000/demo/app:1.0", "r.example", "mirror", "r.example/mirror/127.0.0.1_5000/demo/app:1.0"),
        ("quay.io/prometheus/node-exporter:v1", "r.example", nil, "r.example/quay.io/prometheus/node-exporter:v1"),
        ("ghcr.io/a/b@sha256:" + String(repeating: "a", count: 64), "r.example", "m/n", "r.example/m/n/ghcr.io/a/b@sha256:" + String(repeating: "a", count: 64)),
        ("[::1]:5000/x/y:1", "r.example", nil, "r.example/ipv6---1_5000/x/y:1"),
    ] as [(String, String, String?, String)])
    func destinationKeepsTheFullSourcePath(source: String, host: String, prefix: String?, expected: String) throws {
        let target = PushTarget(name: "t", destination: .registry(host: host, prefix: prefix))
        #expect(try target.destinationReference(for: try ImageReference(parsing: source)).string == expected)
    }

    @Test func invalidDestinationNamesBothReferences() throws {
        let target = PushTarget(name: "t", destination: .registry(host: "r.example", prefix: "Bad_Prefix"))
        #expect(throws: PushError.invalidDestination(
            source: "docker.io/library/alpine:3.20", destination: "r.example/Bad_Prefix/docker.io/library/alpine:3.20",
            reason: "repository name must be lowercase")
        ) {
            try target.destinationReference(for: try ImageReference(parsing: "alpine:3.20"))
        }
    }
}
