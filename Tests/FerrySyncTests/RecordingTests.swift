import FerryTestSupport
import Foundation
import LayoutStore
import MirrorConfig
import Ledger
import OCIModel
import Synchronization
import Testing

@testable import FerrySync

/// How a run's records reach the reference store and index.json: in batches, reference store first, index.json
/// once per run (or per interval), nothing at all for references that did not change.
@Suite struct RecordingTests {
    static func registry(tags: Int) -> InMemoryRegistry {
        let registry = InMemoryRegistry(host: "registry.test")
        for tag in 0..<tags {
            registry.addImage(repository: "team/app", tag: "1.\(tag).0", seed: "app-\(tag)", layerSize: 16)
        }
        return registry
    }

    static func list(tags: Int) -> String {
        let names = (0..<tags).map { "\"1.\($0).0\"" }.joined(separator: ", ")
        return """
            version: 1
            images:
              - source: registry.test/team/app
                tags: [\(names)]
            """
    }

    // Commits only by count, index.json only at the end: the figures below do not depend on timing.
    static let byCount = RecordingPolicy(maxItems: 16, maxDelay: .seconds(3600), indexInterval: .seconds(3600))

    @Test func aRunCommitsInBatchesAndWritesIndexJSONOnce() async throws {
        let registry = Self.registry(tags: 40)
        let harness = try SyncHarness(writes: .batched) { registry.handle($0) }
        let before = harness.ledger.writeTransactions
        let summary = try await harness.run(Self.list(tags: 40), recording: Self.byCount)
        #expect(summary.rows.count == 40)
        #expect(summary.rows.allSatisfy { $0.outcome == .pulled })
        // begin, index stamp cleared, ceil(40 / 16) = 3 batches, index stamp set, finish.
        #expect(harness.ledger.writeTransactions - before == 7)
        #expect(harness.store.indexFileWrites == 1)
        let reread = ContentStore(root: harness.store.root)
        #expect(try reread.references().count == 40)
        #expect(try await harness.ledger.observations(run: summary.runID).count == 40)
    }

    @Test func aNoOpRunWritesNoIndexJSON() async throws {
        let registry = Self.registry(tags: 20)
        let harness = try SyncHarness(writes: .batched) { registry.handle($0) }
        _ = try await harness.run(Self.list(tags: 20), recording: Self.byCount)
        let written = harness.store.indexFileWrites
        let inode = try FileManager.default.attributesOfItem(atPath: harness.store.path("index.json"))[.systemFileNumber]
        let again = try await harness.run(Self.list(tags: 20), recording: Self.byCount)
        #expect(again.rows.allSatisfy { $0.outcome == .upToDate })
        #expect(harness.store.indexFileWrites == written)
        let after = try FileManager.default.attributesOfItem(atPath: harness.store.path("index.json"))[.systemFileNumber]
        #expect(after as? Int == inode as? Int)
    }

    @Test func unbatchedCommitsEveryReferenceAndIndexJSONAfterEach() async throws {
        let registry = Self.registry(tags: 5)
        let harness = try SyncHarness(writes: .batched) { registry.handle($0) }
        let before = harness.ledger.writeTransactions
        _ = try await harness.run(Self.list(tags: 5), recording: .unbatched)
        #expect(harness.ledger.writeTransactions - before == 4 + 5)
        #expect(harness.store.indexFileWrites == 5)
    }

    @Test func aReferenceIsNamedInIndexJSONOnlyOnceItsRecordIsCommitted() async throws {
        // The observer sees each row when its batch is committed; at that moment the name must be in the store's
        // index (in memory) and the observation in the reference store — never the name without the record.
        let registry = Self.registry(tags: 6)
        let harness = try SyncHarness(writes: .batched) { registry.handle($0) }
        let checks = RecordedCheck(store: harness.store)
        _ = try await harness.run(Self.list(tags: 6), observer: checks, recording: Self.byCount)
        #expect(checks.misses.isEmpty)
        #expect(checks.seen == 6)
    }

    @Test func aRunLeavesTheStampOfTheIndexItWroteAndANoOpNeverReadsIndexJSON() async throws {
        let registry = Self.registry(tags: 8)
        let harness = try SyncHarness(writes: .batched) { registry.handle($0) }
        _ = try await harness.run(Self.list(tags: 8), recording: Self.byCount)
        #expect(try await harness.ledger.indexStamp() == harness.store.indexStamp)
        #expect(harness.store.indexStamp != nil)

        let fresh = try SyncHarness(sharing: harness)
        let again = try await fresh.run(Self.list(tags: 8), recording: Self.byCount)
        #expect(again.rows.allSatisfy { $0.outcome == .upToDate })
        #expect(!fresh.store.indexIsLoaded)
        #expect(try await harness.ledger.indexStamp() == harness.store.indexStamp)
    }
}

/// Checks, as each row is reported, that its name is already in the store's index.
final class RecordedCheck: SyncObserver {
    let store: ContentStore
    private let state = Mutex<(misses: [String], seen: Int)>(([], 0))

    init(store: ContentStore) { self.store = store }

    var misses: [String] { state.withLock { $0.misses } }
    var seen: Int { state.withLock { $0.seen } }

    func handle(_ event: SyncEvent) {
        guard case .finished(let row) = event else { return }
        let named = (try? store.reference(named: row.reference.string)) != nil
        state.withLock { state in
            state.seen += 1
            if !named || row.outcome == nil { state.misses.append(row.reference.string) }
        }
    }
}

/// The plan yields each reference once, in entry order, duplicates merged at their first place.
@Suite struct SyncPlanTests {
    static func entries(_ yaml: String) throws -> [ImageEntry] {
        let directory = TemporaryDirectoryPath()
        let path = directory.path + "/list.yaml"
        try Data(yaml.utf8).write(to: URL(fileURLWithPath: path))
        return try MirrorList.load(from: path, environment: [:]).images
    }

    @Test func duplicatesAcrossEntriesAreMergedAtTheirFirstPlace() throws {
        let entries = try Self.entries("""
            version: 1
            targets:
              a: {registry: "t.test:5000"}
              b: {registry: "u.test:5000"}
            images:
              - source: registry.test/team/app
                tags: ["1", "2", "3"]
                targets: [a]
              - source: registry.test/team/app:2
                immutable: true
                targets: [b]
              - source: registry.test/team/other:1
            """)
        let plan = SyncPlan(entries: entries, tags: entries.map { $0.selectTags(from: []) })
        let items = Array(plan)
        #expect(plan.count == 4)
        #expect(items.map(\.reference.string) == [
            "registry.test/team/app:1", "registry.test/team/app:2", "registry.test/team/app:3",
            "registry.test/team/other:1",
        ])
        #expect(items[1].immutable && items[1].targets == ["a", "b"])
        #expect(!items[0].immutable && items[0].targets == ["a"])
        // Walking the plan again yields the same: a rerun of the iterator starts over.
        #expect(Array(plan).map(\.reference.string) == items.map(\.reference.string))
    }
}
