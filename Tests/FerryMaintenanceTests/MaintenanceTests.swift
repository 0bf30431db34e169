import FerryHTTP
import FerryPull
import FerrySystem
import FerryTestSupport
import Foundation
import LayoutStore
import Ledger
import Logging
import OCIModel
import OCIRegistry
import Testing

@testable import FerryMaintenance

/// A store filled from an in-memory registry, with the reference store tracking tags like a sync would.
final class StoreHarness {
    let directory = NSTemporaryDirectory() + "ferry-maint-\(UUID().uuidString)"
    let registry = InMemoryRegistry(host: "registry.test")
    let store: ContentStore
    let ledger: ReferenceStore
    let puller: FallbackPuller
    let transport: ScriptedTransport

    init() throws {
        store = ContentStore(root: directory)
        try store.prepare()
        ledger = try ReferenceStore.inMemory()
        let registry = self.registry
        transport = ScriptedTransport { registry.handle($0) }
        let session = RegistrySession(
            transport: transport, retry: .none, logger: Logger(label: "t", factory: { _ in SwiftLogNoOpLogHandler() }))
        puller = FallbackPuller(session: session, store: store, blobs: BlobFetcher(store: store), resolver: EndpointResolver())
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    /// Pulls and records like `ferry pull`.
    func pull(_ text: String) async throws {
        let reference = try ImageReference(parsing: text)
        let result = try await puller.pull(PullRequest(reference: reference, platforms: .all))
        let run = try await ledger.beginRun(RunStart(startedAt: Date(), command: "pull"))
        _ = try await ledger.record(Observation(
            runID: run, reference: reference,
            result: .resolved(ResolvedManifest(
                digest: result.image.manifestDigest, mediaType: result.image.mediaType, imageID: result.image.imageID,
                servedBy: "https://registry.test"))))
        _ = try await ledger.finishRun(run, RunFinish(status: .completed, exitStatus: 0))
    }

    func blobCount() throws -> Int { try store.allBlobs().count }
}

@Suite struct VerifyTests {
    @Test func aHealthyStoreVerifies() async throws {
        let harness = try StoreHarness()
        harness.registry.addImage(repository: "app", tag: "1", seed: "a")
        try await harness.pull("registry.test/app:1")
        let report = try await StoreVerifier(store: harness.store, ledger: harness.ledger).verify()
        #expect(report.isHealthy)
        #expect(report.blobsChecked == 4)
        #expect(report.referencesChecked == 1)
    }

    /// A killed write leaves `NAME.tmp-PID-RANDOM`: healthy, told apart from a foreign file, and removable.
    @Test func aKilledWritesTemporaryFilesAreLeftoversNotStrays() async throws {
        let harness = try StoreHarness()
        harness.registry.addImage(repository: "app", tag: "1", seed: "a")
        try await harness.pull("registry.test/app:1")
        let hex = String(repeating: "ab", count: 32)
        let planted = [
            "blobs/sha256/\(hex).tmp-4242-17", "tmp/\(hex).tmp-4242-18", "index.json.tmp-4242-19",
            "tmp/sha256-\(hex).partial.copy",
        ]
        for relative in planted + ["blobs/sha256/notes.txt", "tmp/sha256-\(hex).partial"] {
            try FileSystem.writeAtomically([1, 2, 3], to: harness.store.path(relative))
        }
        let report = try await StoreVerifier(store: harness.store, ledger: harness.ledger).verify()
        #expect(report.leftovers == planted.sorted())
        #expect(report.strayFiles == ["blobs/sha256/notes.txt"])
        #expect(report.partialDownloads == 1)
        #expect(try harness.store.removeLeftovers() == 3)
        #expect(harness.store.leftovers(inBlobs: true) == ["blobs/sha256/\(hex).tmp-4242-17"])
        #expect(try harness.store.removeLeftovers(inBlobs: true) == 1)
        #expect(FileSystem.exists(harness.store.path("tmp/sha256-\(hex).partial")))
        #expect(FileSystem.exists(harness.store.path("blobs/sha256/notes.txt")))
    }

    @Test func corruptAndMissingContentIsFoundAndRepaired() async throws {
        let harness = try StoreHarness()
        let image = harness.registry.addImage(repository: "app", tag: "1", seed: "b")
        try await harness.pull("registry.test/app:1")
        let layer = TestImage(seed: "b").layers
        let corruptDigest = Digest.sha256(of: layer[0])
        let missingDigest = Digest.sha256(of: layer[1])
        var bytes = layer[0]
        bytes[0] ^= 0xFF
        try Data(bytes).write(to: URL(fileURLWithPath: harness.store.blobPath(corruptDigest)))
        try harness.store.removeBlob(missingDigest)

        let verifier = StoreVerifier(store: harness.store, ledger: harness.ledger)
        let report = try await verifier.verify()
        #expect(!report.isHealthy)
        #expect(report.corrupt.map(\.digest) == [corruptDigest])
        #expect(report.corrupt.first?.actual == Digest.sha256(of: bytes))
        #expect(report.missing == [VerifyReport.Missing(reference: "registry.test/app:1", digest: missingDigest, kind: "layer")])
        #expect(report.affectedReferences == ["registry.test/app:1"])

        harness.transport.resetLog()
        let failures = await verifier.repair(report, puller: harness.puller)
        #expect(failures.isEmpty)
        let after = try await verifier.verify()
        #expect(after.isHealthy)
        // Repair re-fetches by digest: the manifest is read from the store, only the two layers travel.
        #expect(harness.transport.requests.filter { $0.url.path.contains("/blobs/") }.count == 2)
        #expect(try harness.store.reference(named: "registry.test/app:1")?.digest == image.manifest)
    }

    @Test func aNameMissingFromIndexJSONIsLaggingNotInconsistentAndReconcileRestoresIt() async throws {
        let harness = try StoreHarness()
        let image = harness.registry.addImage(repository: "app", tag: "1", seed: "c")
        try await harness.pull("registry.test/app:1")
        // What a run killed between its reference-store commit and its index.json write leaves behind.
        try harness.store.removeReference("registry.test/app:1")
        let verifier = StoreVerifier(store: harness.store, ledger: harness.ledger)
        let report = try await verifier.verify()
        #expect(report.isHealthy)
        #expect(report.inconsistent.isEmpty)
        #expect(report.lagging == [
            IndexReconciler.Lagging(
                name: "registry.test/app:1", recorded: image.manifest, indexed: nil, mediaType: .ociManifest)
        ])
        let findings = try await IndexReconciler(store: harness.store, ledger: harness.ledger).reconcile()
        #expect(findings.lagging.map(\.name) == ["registry.test/app:1"])
        let reread = ContentStore(root: harness.directory)
        #expect(try reread.reference(named: "registry.test/app:1")?.digest == image.manifest)
        #expect(try await verifier.verify().lagging.isEmpty)
    }

    @Test func anIndexEntryAtADigestTheTagNeverHadIsInconsistentAndLeftAlone() async throws {
        let harness = try StoreHarness()
        let image = harness.registry.addImage(repository: "app", tag: "1", seed: "c")
        let other = harness.registry.addImage(repository: "app", tag: "2", seed: "d")
        try await harness.pull("registry.test/app:1")
        try await harness.pull("registry.test/app:2")
        try harness.store.setReference(
            "registry.test/app:1", to: Descriptor(mediaType: .ociManifest, digest: other.manifest, size: 1))
        let report = try await StoreVerifier(store: harness.store, ledger: harness.ledger).verify()
        #expect(report.inconsistent == [
            "registry.test/app:1: recorded at \(image.manifest) but index.json has \(other.manifest)"
        ])
        #expect(!report.isHealthy)
        let findings = try await IndexReconciler(store: harness.store, ledger: harness.ledger).reconcile()
        #expect(findings.lagging.isEmpty)
        #expect(try harness.store.reference(named: "registry.test/app:1")?.digest == other.manifest)
    }

    @Test func anIndexEntryStillAtTheTagsPreviousDigestIsLagging() async throws {
        let harness = try StoreHarness()
        let old = harness.registry.addImage(repository: "app", tag: "1", seed: "old")
        try await harness.pull("registry.test/app:1")
        let new = harness.registry.addImage(repository: "app", tag: "1", seed: "new")
        try await harness.pull("registry.test/app:1")
        try harness.store.setReference(
            "registry.test/app:1", to: Descriptor(mediaType: .ociManifest, digest: old.manifest, size: 1))
        let report = try await StoreVerifier(store: harness.store, ledger: harness.ledger).verify()
        #expect(report.isHealthy)
        #expect(report.lagging.map(\.indexed) == [old.manifest])
        #expect(report.lagging.map(\.recorded) == [new.manifest])
    }
}

@Suite struct PruneTests {
    @Test func pruneFreesExactlyWhatNoReferenceNeeds() async throws {
        let harness = try StoreHarness()
        harness.registry.addImage(repository: "app", tag: "1", seed: "old")
        try await harness.pull("registry.test/app:1")
        let old = TestImage(seed: "old")
        harness.registry.addImage(repository: "app", tag: "1", seed: "new")
        try await harness.pull("registry.test/app:1")
        #expect(try harness.blobCount() == 8)

        let keepTwo = try await StorePruner(store: harness.store, ledger: harness.ledger, keep: 2).prune(dryRun: false)
        #expect(keepTwo.removed.isEmpty)

        let dry = try await StorePruner(store: harness.store, ledger: harness.ledger, keep: 1).prune(dryRun: true)
        let expected = Set([old.manifestDigest, old.configDigest] + old.layers.map { Digest.sha256(of: $0) })
        #expect(Set(dry.removed.map(\.digest)) == expected)
        #expect(dry.bytesFreed == Int64(old.manifest.count + old.config.count + old.layers.reduce(0) { $0 + $1.count }))
        #expect(try harness.blobCount() == 8)

        let real = try await StorePruner(store: harness.store, ledger: harness.ledger, keep: 1).prune(dryRun: false)
        #expect(Set(real.removed.map(\.digest)) == expected)
        #expect(try harness.blobCount() == 4)
        #expect(try await StoreVerifier(store: harness.store, ledger: harness.ledger).verify().isHealthy)
    }

    @Test func digestPinnedReferencesAreKept() async throws {
        let harness = try StoreHarness()
        let image = harness.registry.addImage(repository: "app", tag: "1", seed: "pinned")
        try await harness.pull("registry.test/app@\(image.manifest)")
        let report = try await StorePruner(store: harness.store, ledger: harness.ledger, keep: 1).prune(dryRun: false)
        #expect(report.removed.isEmpty)
        #expect(report.kept == 4)
    }
}
