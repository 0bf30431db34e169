import Foundation
import OCIModel
import Testing

@testable import Ledger

/// A history handed out in another order than ferry writes it (runs first, repositories before observations),
/// as a bundle description edited by hand may have its keys; it counts its passes.
private final class ReorderedHistory: LedgerHistorySource, @unchecked Sendable {
    let history: LedgerHistory
    private(set) var passes = 0
    private let failure: (any Error)?

    init(_ history: LedgerHistory, failing failure: (any Error)? = nil) {
        self.history = history
        self.failure = failure
    }

    func forEachRecord(_ kinds: LedgerHistoryKinds, _ body: (LedgerHistoryRecord) throws -> Void) throws {
        passes += 1
        if let failure { throw failure }
        for kind in [LedgerHistoryKinds.runs, .repositories, .observations, .driftEvents] where kinds.contains(kind) {
            try history.forEachRecord(kind, body)
        }
    }
}

private struct SourceTrouble: Error, Equatable {}

@Suite struct BundleHistoryTests {
    /// A source store with two tags, one of them moved (immutable, so drift), over three runs.
    static func source() async throws -> (Harness, LedgerHistory, [ImageReference]) {
        let source = try await Harness()
        try await source.record("alpine:3.20", image("A", id: "config A"), at: at(1))
        try await source.record("alpine:3.21", image("B", id: "config B"), at: at(2))
        try await source.store.finishRun(source.run, RunFinish(finishedAt: at(3), status: .completed, exitStatus: 0))
        let later = try await Harness(store: source.store, startedAt: at(10))
        try await later.record("alpine:3.20", image("C", id: "config C"), at: at(11), immutable: true)
        try await later.store.finishRun(later.run, RunFinish(finishedAt: at(12), status: .completed, exitStatus: 2))
        let references = [try ref("alpine:3.20"), try ref("alpine:3.21"), try ref("alpine:3.20")]
        let history = try await source.store.history(of: references, manifests: [digest("C"), digest("B")])
        return (source, history, references)
    }

    static func request(_ history: any LedgerHistorySource) throws -> BundleImportRequest {
        BundleImportRequest(
            bundleID: digest("bundle"), createdAt: at(20), sourceStore: "abc", exportToolVersion: "test",
            toolVersion: "test", files: [],
            references: [
                ImportedReference(
                    reference: try ref("alpine:3.20"), digest: digest("C"), mediaType: .ociManifest,
                    imageID: digest("config C")),
                ImportedReference(
                    reference: try ref("alpine:3.21"), digest: digest("B"), mediaType: .ociManifest,
                    imageID: digest("config B")),
            ],
            history: history, blobCount: 0, blobsAdded: 0, bytesAdded: 0, importedAt: at(100))
    }

    @Test func theHistoryStreamsInTheOrderOfItsKeysAndHoldsEachReferenceOnce() async throws {
        let (source, history, references) = try await Self.source()
        var streamed: [LedgerHistoryRecord] = []
        try source.store.forEachHistoryRecord(of: references.lazy, manifests: [digest("C"), digest("B")]) {
            streamed.append($0)
        }
        var collected = LedgerHistory()
        streamed.forEach { collected.append($0) }
        #expect(collected == history)
        let kinds = streamed.map(\.kind.rawValue)
        #expect(kinds == kinds.sorted())
        #expect(history.driftEvents.map(\.kind) == [.tagMoved])
        #expect(history.runs.count == 2)
        let tags = try #require(history.repositories.first).tags.map(\.tag)
        #expect(tags == ["3.20", "3.21"])
        #expect(history.repositories.first?.tagHistory.map(\.manifestDigest) == [digest("A"), digest("C"), digest("B")])
    }

    @Test func anImportReadsItsHistoryInPassesInWhateverOrderTheRecordsCome() async throws {
        let (_, history, _) = try await Self.source()
        let inOrder = try ReferenceStore.inMemory()
        let expected = try await inOrder.recordImport(try Self.request(history))
        let reordered = ReorderedHistory(history)
        let store = try ReferenceStore.inMemory()
        let result = try await store.recordImport(try Self.request(reordered))
        #expect(reordered.passes == 3)
        #expect(result.rows == expected.rows)
        // The import runs get IDs of their own; the bundle's runs keep theirs.
        let bundleRuns = try await store.runs().filter { $0.command != "import" }.map(\.id)
        #expect(bundleRuns == (try await inOrder.runs().filter { $0.command != "import" }.map(\.id)))
        #expect(Set(bundleRuns) == Set(history.runs.map(\.id)))
        for tag in ["3.20", "3.21"] {
            let repository = try ref("alpine").repository
            #expect(
                try await store.tag(repository: repository, tag: tag)
                    == (try await inOrder.tag(repository: repository, tag: tag)))
            #expect(
                try await store.tagHistory(repository: repository, tag: tag)
                    == (try await inOrder.tagHistory(repository: repository, tag: tag)))
        }
        for run in history.runs.map(\.id) + [result.runID] {
            let observations = try await store.observations(run: run)
            let expectedObservations = try await inOrder.observations(run: run == result.runID ? expected.runID : run)
            #expect(observations.map(\.reference) == expectedObservations.map(\.reference))
            #expect(observations.map(\.servedBy) == expectedObservations.map(\.servedBy))
        }
        #expect(try await store.driftEvents(reference: try ref("alpine:3.20")).map(\.kind) == [.tagMoved])
    }

    @Test func theFirstBrokenRecordIsNamedWhereverTheRunsCome() async throws {
        var (_, history, _) = try await Self.source()
        // Runs come last in the bundle, so every check waits; repositories are reported before observations, and
        // in a repository its tags before their history (3.21's tag names the first run, 3.20's the second).
        let missing = try #require(history.runs.first?.id)
        history.runs.removeFirst()
        let store = try ReferenceStore.inMemory()
        await #expect {
            try await store.recordImport(try Self.request(ReorderedHistory(history)))
        } throws: { error in
            guard case LedgerError.invalidBundleHistory(_, _, let reason) = error else { return false }
            return reason == "tag docker.io/library/alpine:3.21 names run \(missing), which the bundle does not carry"
        }
        #expect(try await store.runs().isEmpty)
    }

    @Test func aFailingHistorySourceLeavesTheStoreUnchangedAndItsErrorAsItIs() async throws {
        let (_, history, _) = try await Self.source()
        let store = try ReferenceStore.inMemory()
        await #expect(throws: SourceTrouble()) {
            try await store.recordImport(try Self.request(ReorderedHistory(history, failing: SourceTrouble())))
        }
        #expect(try await store.runs().isEmpty)
        #expect(try await store.bundleImports().isEmpty)
    }
}
