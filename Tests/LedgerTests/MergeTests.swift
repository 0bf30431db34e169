import Foundation
import OCIModel
import Testing

@testable import Ledger

/// `ferry merge`'s reference-store half: shard groups become one run, IDs never collide, a second merge adds
/// nothing, contradicting mappings are kept and reported, and every table is either merged or listed as not.
@Suite struct MergeTests {
    /// A file store with one finished run of `references` (each `reference → manifest/config label`).
    static func store(
        _ path: String, shard: RunShard? = nil, startedAt: Date = at(0), _ references: [(String, String, String)]
    ) async throws -> (ReferenceStore, RunID) {
        let store = try ReferenceStore.open(at: path)
        let run = try await store.beginRun(RunStart(startedAt: startedAt, command: "sync", shard: shard))
        for (reference, manifest, config) in references {
            _ = try await store.record(
                Observation(
                    runID: run, reference: try ref(reference), observedAt: startedAt.addingTimeInterval(1),
                    result: .resolved(image(manifest, id: config))))
        }
        try await store.finishRun(
            run, RunFinish(finishedAt: startedAt.addingTimeInterval(2), status: .completed, exitStatus: 0))
        return (store, run)
    }

    @Test func shardRunsOfOneGroupBecomeOneRunAndASecondMergeAddsNothing() async throws {
        let directory = try TemporaryDirectory()
        let (a, runA) = try await Self.store(
            directory.path + "/a.db", shard: RunShard(index: 0, count: 2, group: "job-7"), startedAt: at(0),
            [("example.com/team/app:1", "app1", "appc1"), ("example.com/team/app:2", "app2", "appc2")])
        let (b, runB) = try await Self.store(
            directory.path + "/b.db", shard: RunShard(index: 1, count: 2, group: "job-7"), startedAt: at(5),
            [("example.com/team/db:1", "db1", "dbc1")])
        try a.close()
        try b.close()
        let merged = try ReferenceStore.open(at: directory.path + "/merged.db")

        let first = try await merged.merge(from: directory.path + "/a.db")
        let second = try await merged.merge(from: directory.path + "/b.db")
        #expect(first.runs.map(\.run) == [runA])
        #expect(second.runs.map(\.run) == [runA])
        #expect(second.runs.map(\.sourceRun) == [runB])
        let runs = try await merged.runs()
        #expect(runs.map(\.id) == [runA])
        let run = try #require(runs.first)
        #expect(run.counts.references == 3)
        #expect(run.counts.pulled == 3)
        #expect(run.startedAt == at(0))
        #expect(run.finishedAt == at(7))
        #expect(run.status == .completed)
        #expect(run.exitStatus == 0)
        #expect(try await merged.shard(ofRun: runA) == nil)
        #expect(try await merged.mergedSources(of: runA).map(\.run) == [runA, runB])
        #expect(try await merged.observations(run: runA).map(\.reference).sorted() == [
            "example.com/team/app:1", "example.com/team/app:2", "example.com/team/db:1",
        ])
        #expect(try await merged.tag(repository: try ref("example.com/team/db").repository, tag: "1")?.manifestDigest
            == digest("db1"))
        #expect(try await merged.recordedNames().count == 3)

        let again = try await merged.merge(from: directory.path + "/b.db")
        #expect(again.runs.map(\.isNew) == [false])
        #expect(again.rowsAdded.values.allSatisfy { $0 == 0 }, "\(again.rowsAdded)")
        #expect(try await merged.runs().count == 1)
        #expect(try await merged.integrityProblems() == [])
    }

    @Test func aRunIDTakenHereGetsANewOneAndItsRowsFollow() async throws {
        let directory = try TemporaryDirectory()
        let (a, run) = try await Self.store(directory.path + "/a.db", [("example.com/team/app:1", "app1", "appc1")])
        try a.close()
        try FileManager.default.copyItem(atPath: directory.path + "/a.db", toPath: directory.path + "/copy.db")
        let merged = try ReferenceStore.open(at: directory.path + "/a.db")
        await #expect(throws: LedgerError.mergeOfItself(path: directory.path + "/a.db", source: directory.path + "/copy.db")) {
            try await merged.merge(from: directory.path + "/copy.db")
        }
        // Another store that happened to draw the same run ID (same second, same four hex digits).
        let copy = try ReferenceStore.open(at: directory.path + "/copy.db")
        try await copy.rawExecute(
            "UPDATE storeInfo SET value = 'another-store' WHERE key = 'id'; "
                + "UPDATE tag SET manifestDigest = '\(digest("app2"))', lastChecked = '2030-01-01 00:00:00.000'")
        try copy.close()

        let result = try await merged.merge(from: directory.path + "/copy.db")
        let renamed = try #require(result.runs.first?.run)
        #expect(renamed != run)
        #expect(renamed.startSecond == run.startSecond)
        #expect(try await merged.runs().map(\.id).sorted() == [run, renamed].sorted())
        #expect(try await merged.observations(run: renamed).map(\.reference) == ["example.com/team/app:1"])
        #expect(try await merged.observations(run: run).count == 1)
        // The tag the other store checked later wins.
        #expect(try await merged.tag(repository: try ref("example.com/team/app").repository, tag: "1")?.manifestDigest
            == digest("app2"))
    }

    @Test func aContradictingDigestMappingIsKeptAndReported() async throws {
        let directory = try TemporaryDirectory()
        let (a, _) = try await Self.store(directory.path + "/a.db", [("example.com/team/app:1", "app1", "old-config")])
        let (b, _) = try await Self.store(
            directory.path + "/b.db", startedAt: at(100), [("example.com/team/app:1", "app1", "new-config")])
        try b.close()
        let result = try await a.merge(from: directory.path + "/b.db")
        #expect(result.contradictions == [
            LedgerMergeResult.Contradiction(
                table: "digestMapping", column: "imageId", row: "example.com/team/app@\(digest("app1"))",
                kept: digest("old-config").description, offered: digest("new-config").description)
        ])
        #expect(try await a.digest(repository: try ref("example.com/team/app").repository, digest: digest("app1"))?
            .imageID == digest("old-config"))
        try a.close()
    }

    @Test func driftEventsTagHistoryAndTheInventoryComeAcrossWhole() async throws {
        let directory = try TemporaryDirectory()
        let (a, first) = try await Self.store(directory.path + "/a.db", [("example.com/team/app:1", "app1", "c1")])
        // A later run: the tag moved, and a known digest now maps to another image ID (drift).
        let second = try await a.beginRun(RunStart(startedAt: at(60), command: "sync"))
        _ = try await a.record(
            Observation(runID: second, reference: try ref("example.com/team/app:1"), observedAt: at(61),
                        result: .resolved(image("app2", id: "c2"))))
        _ = try await a.record(
            Observation(runID: second, reference: try ref("example.com/team/app@\(digest("app1"))"), observedAt: at(61),
                        result: .resolved(image("app1", id: "c-other"))))
        try await a.finishRun(second, RunFinish(finishedAt: at(62), status: .completed, exitStatus: 2))
        let sourceInventory = try await a.inventory()
        let sourceEvents = try await a.driftEvents(run: second)
        #expect(sourceEvents.count == 1)
        try a.close()

        let merged = try ReferenceStore.open(at: directory.path + "/merged.db")
        _ = try await merged.merge(from: directory.path + "/a.db")
        #expect(try await merged.runs().map(\.id) == [second, first])
        let events = try await merged.driftEvents(run: second)
        #expect(events.map(\.kind) == sourceEvents.map(\.kind))
        #expect(events.map(\.digest) == sourceEvents.map(\.digest))
        #expect(try await merged.run(second)?.counts.driftEvents == 1)
        #expect(try await merged.digestsEver(tag: "example.com/team/app:1") == [digest("app1"), digest("app2")])
        let inventory = try await merged.inventory()
        #expect(inventory.repositories == sourceInventory.repositories)
        #expect(inventory.driftHistory == sourceInventory.driftHistory)
    }

    @Test func anOlderSourceIsUpgradedFirst() async throws {
        let directory = try TemporaryDirectory()
        let old = directory.path + "/old.db"
        try ReferenceStore.openAsOlderVersion(at: old, through: "v4-names")
        try ReferenceStore.prepareMergeSource(at: old)
        let upgraded = try ReferenceStore.openReadOnly(at: old)
        #expect(try await upgraded.storageInfo().schemaVersion == ReferenceStore.schemaVersion)
        try upgraded.close()
        let merged = try ReferenceStore.open(at: directory.path + "/merged.db")
        #expect(try await merged.merge(from: old).runs.isEmpty)
    }

    /// The seam for later tables (issue 10's request economy, issue 9's referrers): a table a migration adds must
    /// be given a ``MergeTable`` entry or a reason in ``MergeTable/notMerged``, or this fails.
    @Test func everyTableIsMergedOrSaysWhyNot() async throws {
        let store = try ReferenceStore.inMemory()
        let tables = try await store.rawStrings(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        ).compactMap { $0.first ?? nil }
        let classified = Set(MergeTable.all.map(\.name)).union(MergeTable.notMerged.keys)
        #expect(tables.filter { !classified.contains($0) } == [])
        #expect(Set(MergeTable.all.map(\.name)).isDisjoint(with: MergeTable.notMerged.keys))
    }

    @Test(arguments: [
        ([RunStatus.completed, .completed], RunStatus.completed),
        ([.completed, .failed, .interrupted], .failed),
        ([.completed, .interrupted], .interrupted),
        ([.dryRun, .dryRun], .dryRun),
        ([.dryRun, .completed], .completed),
        ([.completed, .running], .running),
    ])
    func groupStatus(statuses: [RunStatus], expected: RunStatus) {
        #expect(MergeWriter.combined(statuses) == expected)
    }

    @Test(arguments: [
        ([0, 0], 0), ([1, 2], 3), ([0, 2, 0], 2), ([1, 74, 130], 130), ([0, 143], 143),
    ] as [([Int32], Int32)])
    func groupExitStatus(exits: [Int32], expected: Int32) {
        #expect(MergeWriter.combined(exits.map { Optional($0) }) == expected)
        #expect(MergeWriter.combined(exits.map { Optional($0) } + [nil]) == nil)
    }
}
