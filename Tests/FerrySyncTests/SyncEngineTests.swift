import FerryHTTP
import FerryPull
import FerryTestSupport
import Foundation
import LayoutStore
import Ledger
import Logging
import MirrorConfig
import OCIModel
import OCIRegistry
import Synchronization
import Testing

@testable import FerrySync

/// A run over a scripted transport, an in-memory reference store and a store in a temporary directory.
final class SyncHarness {
    let directory: TemporaryDirectoryPath
    let store: ContentStore
    let ledger: ReferenceStore
    let transport: ScriptedTransport

    /// A second harness over the same directory, reference store and transport, with a new store object (as the
    /// next process would have).
    init(sharing other: SyncHarness) throws {
        directory = other.directory
        store = ContentStore(root: other.store.root, writes: other.store.writes)
        ledger = other.ledger
        transport = other.transport
    }

    init(writes: StoreWrites = .immediate, _ script: @escaping ScriptedTransport.Script) throws {
        directory = TemporaryDirectoryPath()
        store = ContentStore(root: directory.path + "/store", writes: writes)
        try store.prepare()
        ledger = try ReferenceStore.inMemory()
        transport = ScriptedTransport(script)
    }

    func list(_ yaml: String) throws -> MirrorList {
        let path = directory.path + "/list.yaml"
        try Data(yaml.utf8).write(to: URL(fileURLWithPath: path))
        return try MirrorList.load(from: path, environment: [:])
    }

    func run(
        _ yaml: String, dryRun: Bool = false, stop: StopSignal = StopSignal(),
        observer: any SyncObserver = SilentSyncObserver(), recording: RecordingPolicy = RecordingPolicy(),
        revalidateAll: Bool = false, jobs: Int = 3
    ) async throws -> SyncSummary {
        let list = try list(yaml)
        // As `ferry sync` does: the quotas earlier runs learned, and the list's per-host limits.
        let governor = RateGovernor(known: try await ledger.rateLimits().map(SyncEngine.state))
        let session = RegistrySession(
            transport: transport, credentials: AnonymousCredentials(),
            retry: RetryPolicy(retries: 1, baseDelay: .zero, maxDelay: .zero, jitter: false), governor: governor,
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        let puller = FallbackPuller(
            session: session, store: store, blobs: BlobFetcher(store: store), resolver: EndpointResolver(mirrorList: list))
        let engine = SyncEngine(
            list: list, puller: puller, ledger: ledger,
            options: SyncEngine.Options(
                dryRun: dryRun, jobs: jobs, toolVersion: "test", recording: recording, revalidateAll: revalidateAll),
            stop: stop,
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        return try await engine.run(observer: observer)
    }

    func row(_ summary: SyncSummary, _ reference: String) -> SyncRow? {
        summary.rows.first { $0.reference.string == reference }
    }
}

/// A temporary directory removed when released.
final class TemporaryDirectoryPath: Sendable {
    let path = NSTemporaryDirectory() + "ferry-sync-\(UUID().uuidString)"
    init() { try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
    deinit { try? FileManager.default.removeItem(atPath: path) }
}

@Suite struct SyncEngineTests {
    static let listYAML = """
        version: 1
        images:
          - source: registry.test/team/app
            include: ['1\\.\\d+']
            latest: 2
          - source: registry.test/team/tool:stable
          - source: registry.test/team/multi:1
            platforms: [linux/arm64]
        """

    static func registry() -> (InMemoryRegistry, [String: Digest]) {
        let registry = InMemoryRegistry(host: "registry.test")
        var digests: [String: Digest] = [:]
        digests["app:1.0"] = registry.addImage(repository: "team/app", tag: "1.0", seed: "app1.0").manifest
        digests["app:1.1"] = registry.addImage(repository: "team/app", tag: "1.1", seed: "app1.1").manifest
        digests["app:1.2"] = registry.addImage(repository: "team/app", tag: "1.2", seed: "app1.2").manifest
        registry.addImage(repository: "team/app", tag: "dev", seed: "dev")
        digests["tool:stable"] = registry.addImage(repository: "team/tool", tag: "stable", seed: "tool").manifest
        digests["multi:1"] = registry.addIndex(
            repository: "team/multi", tag: "1", seed: "multi",
            platforms: [Platform(os: "linux", architecture: "amd64"), Platform(os: "linux", architecture: "arm64", variant: "v8")]
        ).index
        return (registry, digests)
    }

    @Test func firstSyncPullsEverythingSecondIsAllUpToDateWithOneHeadPerTag() async throws {
        let (registry, digests) = Self.registry()
        let harness = try SyncHarness { registry.handle($0) }
        let first = try await harness.run(Self.listYAML)
        #expect(first.exitStatus == 0)
        #expect(first.rows.map(\.reference.string).sorted() == [
            "registry.test/team/app:1.1", "registry.test/team/app:1.2", "registry.test/team/multi:1",
            "registry.test/team/tool:stable",
        ])
        #expect(first.rows.allSatisfy { $0.outcome == .pulled })
        #expect(harness.row(first, "registry.test/team/app:1.2")?.digest == digests["app:1.2"])

        harness.transport.resetLog()
        let second = try await harness.run(Self.listYAML)
        #expect(second.exitStatus == 0)
        #expect(second.rows.allSatisfy { $0.outcome == .upToDate })
        let requests = harness.transport.requests
        #expect(requests.filter { $0.url.path.contains("/blobs/") }.isEmpty)
        #expect(requests.filter { $0.method == .head }.count == 4)
        // Referrers (default all): one referrers-API probe for the registry (404 here), then one tag listing per
        // repository in which to look for the fallback and cosign tags (team/app's is the selector's, reused);
        // none exists, so nothing more.
        #expect(requests.filter { $0.url.path.contains("/referrers/") }.count == 1)
        #expect(requests.filter { $0.url.path.hasSuffix("/tags/list") }.count == 1 + 2)
        #expect(requests.count == 5 + 1 + 2)
    }

    @Test func movedTagIsUpdatedWithOldAndNewDigests() async throws {
        let (registry, digests) = Self.registry()
        let harness = try SyncHarness { registry.handle($0) }
        _ = try await harness.run(Self.listYAML)
        let moved = registry.addImage(repository: "team/tool", tag: "stable", seed: "tool-v2").manifest
        let second = try await harness.run(Self.listYAML)
        let row = try #require(harness.row(second, "registry.test/team/tool:stable"))
        #expect(row.outcome == .updated)
        #expect(row.previousDigest == digests["tool:stable"])
        #expect(row.digest == moved)
        #expect(second.exitStatus == 0)
    }

    @Test func immutableTagMovedIsDriftExitTwo() async throws {
        let (registry, digests) = Self.registry()
        let harness = try SyncHarness { registry.handle($0) }
        let yaml = """
            version: 1
            images:
              - source: registry.test/team/tool:stable
                immutable: true
            """
        _ = try await harness.run(yaml)
        let moved = registry.addImage(repository: "team/tool", tag: "stable", seed: "tool-v2").manifest
        let second = try await harness.run(yaml)
        #expect(second.exitStatus == 2)
        let row = try #require(second.rows.first)
        #expect(row.outcome == .drift)
        #expect(row.driftEvents.map(\.kind) == [.tagMoved])
        #expect(row.driftEvents.first?.oldValue == digests["tool:stable"])
        #expect(row.driftEvents.first?.newValue == moved)
    }

    @Test func mirrorServingAStaleDigestIsMirrorDivergence() async throws {
        let upstream = InMemoryRegistry(host: "registry.test")
        let mirror = InMemoryRegistry(host: "mirror.test")
        let fresh = upstream.addImage(repository: "team/tool", tag: "stable", seed: "fresh").manifest
        let stale = mirror.addImage(repository: "team/tool", tag: "stable", seed: "stale").manifest
        let harness = try SyncHarness { request in
            request.url.host == "mirror.test" ? mirror.handle(request) : upstream.handle(request)
        }
        let summary = try await harness.run("""
            version: 1
            registries:
              registry.test:
                mirrors: [https://mirror.test]
            images:
              - source: registry.test/team/tool:stable
                verify-upstream: true
            """)
        #expect(summary.exitStatus == 2)
        let row = try #require(summary.rows.first)
        #expect(row.digest == stale)
        #expect(row.servedBy == "https://mirror.test")
        let event = try #require(row.driftEvents.first)
        #expect(event.kind == .mirrorDivergence)
        #expect(event.oldValue == stale)
        #expect(event.newValue == fresh)
        #expect(event.endpoint == "https://mirror.test")
        #expect(event.upstreamEndpoint == "https://registry.test")
    }

    @Test func oneUnreachableSourceFailsTheOthersSyncExitOne() async throws {
        let (registry, _) = Self.registry()
        let harness = try SyncHarness { request in
            request.url.host == "down.test" ? .failure(.connect(host: "down.test:443", message: "connection refused"))
                : registry.handle(request)
        }
        let summary = try await harness.run("""
            version: 1
            images:
              - source: registry.test/team/tool:stable
              - source: down.test/team/gone:1
              - source: down.test/team/listed
                include: ['.*']
            """)
        #expect(summary.exitStatus == 1)
        #expect(summary.failures == 2)
        #expect(harness.row(summary, "registry.test/team/tool:stable")?.outcome == .pulled)
        let failed = try #require(harness.row(summary, "down.test/team/gone:1"))
        #expect(failed.outcome == .failed)
        #expect(failed.error?.contains("connection refused") == true)
        let listing = try #require(harness.row(summary, "down.test/team/listed"))
        #expect(listing.error?.hasPrefix("listing tags: ") == true)
        let recorded = try await harness.ledger.observations(run: summary.runID)
        #expect(recorded.filter { $0.outcome == .failed }.count == 2)
    }

    @Test func dryRunFetchesNoBlobAndMovesNoTag() async throws {
        let (registry, digests) = Self.registry()
        let harness = try SyncHarness { registry.handle($0) }
        let summary = try await harness.run(Self.listYAML, dryRun: true)
        #expect(summary.status == .dryRun)
        let requests = harness.transport.requests
        #expect(requests.filter { $0.url.path.contains("/blobs/") }.isEmpty)
        #expect(requests.filter { $0.method == .get }.map(\.url.path) == ["/v2/team/app/tags/list"])
        #expect(harness.row(summary, "registry.test/team/tool:stable")?.digest == digests["tool:stable"])
        #expect(summary.rows.allSatisfy { $0.outcome == .pulled })
        let tag = try await harness.ledger.tag(repository: try RepositoryName(parsing: "registry.test/team/tool"), tag: "stable")
        #expect(tag == nil)
        #expect(try harness.store.references().isEmpty)
    }

    @Test func stopSignalInterruptsCleanlyAndRecordsTheRun() async throws {
        let (registry, _) = Self.registry()
        let stop = StopSignal()
        let harness = try SyncHarness { request in
            if request.url.path.contains("/team/multi/") {
                stop.request(15)
                return .failure(.cancelled)
            }
            return registry.handle(request)
        }
        let summary = try await harness.run("""
            version: 1
            images:
              - source: registry.test/team/multi:1
            """, stop: stop)
        #expect(summary.status == .interrupted)
        #expect(summary.exitStatus == 143)
        #expect(summary.signal == 15)
        #expect(summary.interrupted == 1)
        let run = try await harness.ledger.run(summary.runID)
        #expect(run?.status == .interrupted)
        #expect(run?.exitStatus == 143)
    }

    @Test func duplicateReferencesAcrossEntriesMergeTheirRequests() {
        let source = try! ImageReference(parsing: "registry.test/a:1")
        let first = SyncItem(reference: source, source: source, platforms: .list([Platform(os: "linux", architecture: "amd64")]),
                             immutable: false, verifyUpstream: true, targets: ["x"])
        let second = SyncItem(reference: source, source: source.nameOnly, platforms: .list([Platform(os: "linux", architecture: "arm64", variant: "v8")]),
                              immutable: true, verifyUpstream: false, targets: ["y", "x"])
        let merged = SyncPlan.merge(first, second)
        #expect(merged.immutable && merged.verifyUpstream)
        #expect(merged.targets == ["x", "y"])
        #expect(merged.platforms == .list([Platform(os: "linux", architecture: "amd64"), Platform(os: "linux", architecture: "arm64", variant: "v8")]))
    }
}
