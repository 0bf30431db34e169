import Foundation
import OCIModel
import Testing

@testable import Ledger

@Suite struct RunTests {
    @Test func runsBeginFinishAndListNewestFirst() async throws {
        let store = try ReferenceStore.inMemory()
        #expect(try await store.latestRun() == nil)
        let first = try await store.beginRun(
            RunStart(startedAt: at(0), command: "sync", configFingerprint: "sha256:cfg", toolVersion: "0.1.0"))
        let second = try await store.beginRun(RunStart(startedAt: at(3600), command: "sync", dryRun: true))
        let third = try await store.beginRun(RunStart(startedAt: at(7200), command: "pull"))

        #expect(first.rawValue.hasPrefix("20261129T103000Z-"))
        #expect(second.rawValue.hasPrefix("20261129T113000Z-"))
        #expect(try await store.runs().map(\.id) == [third, second, first])
        #expect(try await store.runs(limit: 2).map(\.id) == [third, second])
        #expect(try await store.latestRun()?.id == third)

        let running = try #require(try await store.run(first))
        #expect(running.status == .running)
        #expect(running.finishedAt == nil)
        #expect(running.exitStatus == nil)
        #expect(running.command == "sync")
        #expect(running.configFingerprint == "sha256:cfg")
        #expect(running.toolVersion == "0.1.0")
        #expect(running.startedAt == at(0))
        #expect(try await store.run(second)?.dryRun == true)

        let harness = Harness(store: store, run: first)
        try await harness.record("alpine:3.20", image("A", id: "config A"))
        try await harness.record("alpine:3.20", image("A", id: "config A"))
        try await harness.record("alpine:3.21", image("B", id: "config B"), immutable: true)
        try await harness.record("alpine:3.21", image("C", id: "config C"), immutable: true)
        try await harness.record("alpine:3.19", image("D", id: "config D"))
        try await harness.record("alpine:3.19", image("E", id: "config E"))
        try await harness.fail("busybox:1.36", error: "unauthorized")
        _ = try await store.record(
            Observation(
                runID: first, reference: try ref("busybox:1.37"), bytesTransferred: 4096,
                result: .resolved(image("F", id: "config F"))))

        // Live counts while running.
        #expect(try await store.run(first)?.counts.references == 8)

        let finished = try await store.finishRun(
            first, RunFinish(finishedAt: at(60), status: .completed, exitStatus: 3))
        #expect(finished.status == .completed)
        #expect(finished.finishedAt == at(60))
        #expect(finished.exitStatus == 3)
        #expect(
            finished.counts
                == RunCounts(
                    references: 8, pulled: 4, upToDate: 1, updated: 1, failed: 1, drift: 1, driftEvents: 1,
                    bytesTransferred: 4096))
        #expect(try await store.run(first) == finished)

        await #expect(throws: LedgerError.runFinished(path: ":memory:", run: first)) {
            try await store.finishRun(first, RunFinish(status: .completed, exitStatus: 0))
        }
        let stranger = try #require(RunID(rawValue: "20991231T235959Z-ffff"))
        await #expect(throws: LedgerError.unknownRun(path: ":memory:", run: stranger)) {
            try await store.finishRun(stranger, RunFinish(status: .completed, exitStatus: 0))
        }
        try await store.finishRun(second, RunFinish(finishedAt: at(3601), status: .dryRun, exitStatus: 0))
        try await store.finishRun(third, RunFinish(finishedAt: at(7201), status: .interrupted, exitStatus: 130))
        #expect(try await store.runs().map(\.status) == [.interrupted, .dryRun, .completed])
    }

    @Test func runsStartedInTheSameSecondGetDistinctIDsAndKeepStartOrder() async throws {
        let store = try ReferenceStore.inMemory()
        var ids: [RunID] = []
        for _ in 0..<20 { ids.append(try await store.beginRun(RunStart(startedAt: at(0), command: "sync"))) }
        #expect(Set(ids).count == 20)
        #expect(try await store.runs(limit: 100).map(\.id) == ids.reversed())
    }

    @Test(arguments: [
        ("20261129T103000Z-3f9a", true),
        ("20261129T103000Z-3F9A", false),
        ("20261129T103000Z-3f9", false),
        ("20261129T103000-3f9a0", false),
        ("2026-11-29T10:30:00Z", false),
        ("", false),
    ])
    func runIDGrammar(text: String, valid: Bool) {
        #expect((RunID(rawValue: text) != nil) == valid)
    }

    @Test func runIDsEncodeAsBareStrings() throws {
        let id = try #require(RunID(rawValue: "20261129T103000Z-3f9a"))
        let json = try JSONEncoder().encode([id])
        #expect(String(decoding: json, as: UTF8.self) == #"["20261129T103000Z-3f9a"]"#)
        #expect(try JSONDecoder().decode([RunID].self, from: json) == [id])
        #expect(throws: DecodingError.self) { try JSONDecoder().decode([RunID].self, from: Data(#"["nope"]"#.utf8)) }
    }
}

extension Harness {
    /// A harness around a run begun elsewhere.
    init(store: ReferenceStore, run: RunID) {
        self.store = store
        self.run = run
    }
}
