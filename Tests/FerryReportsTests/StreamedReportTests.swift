import FerrySystem
import FerryTestSupport
import Foundation
import Ledger
import OCIModel
import Testing

@testable import FerryReports

/// Reports written from the ledger row by row are byte for byte the reports rendered from the whole run in memory,
/// also when a section outgrows memory and is spilled to a scratch file.
@Suite struct StreamedReportTests {
    /// Every file of `directory`, by name.
    static func files(_ directory: String) throws -> [String: [UInt8]] {
        var out: [String: [UInt8]] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: directory) {
            var isDirectory: ObjCBool = false
            _ = FileManager.default.fileExists(atPath: directory + "/" + name, isDirectory: &isDirectory)
            if !isDirectory.boolValue { out[name] = try TestFiles.read(directory + "/" + name) }
        }
        return out
    }

    static func compare(_ ledger: ReferenceStore, run: RunID) async throws {
        let report = try #require(try await RunReport.load(run: run, from: ledger))
        let history = MetricsHistory(lastSuccess: at(60), bytesTransferredBefore: 5)
        let memory = try TemporaryDirectory(prefix: "ferry-report-memory")
        let streamed = try TemporaryDirectory(prefix: "ferry-report-streamed")
        try ReportWriter(storeDirectory: memory.path).write(report, metrics: history)
        let written = try await ReportWriter(storeDirectory: streamed.path).write(run: run, from: ledger, metrics: history)
        #expect(written != nil)
        let expected = try files(memory.appending("reports"))
        let actual = try files(streamed.appending("reports"))
        #expect(actual.keys.sorted() == expected.keys.sorted())
        for (name, bytes) in expected { #expect(actual[name] == bytes, "\(name) differs") }
        #expect(try TestFiles.read(streamed.appending("metrics.prom")) == TestFiles.read(memory.appending("metrics.prom")))
        // Nothing is left behind: no temporary or scratch file.
        let names = try FileManager.default.contentsOfDirectory(atPath: streamed.appending("reports"))
        #expect(names.filter { $0.contains(".tmp-") || $0.hasPrefix(".") }.isEmpty, "\(names)")
    }

    @Test func theFixtureRunsStreamAsTheyRenderInMemory() async throws {
        let fixture = try await LedgerFixture.make()
        try await Self.compare(fixture.store, run: fixture.firstRun)
        try await Self.compare(fixture.store, run: fixture.secondRun)
    }

    @Test func aRunWithoutObservationsStreamsToo() async throws {
        let ledger = try ReferenceStore.inMemory()
        let run = try await ledger.beginRun(RunStart(startedAt: at(0), command: "sync"))
        _ = try await ledger.finishRun(run, RunFinish(finishedAt: at(1), status: .completed, exitStatus: 0))
        try await Self.compare(ledger, run: run)
    }

    @Test func bigSectionsSpillToScratchFilesAndStayByteForByte() async throws {
        let ledger = try ReferenceStore.inMemory()
        let run = try await ledger.beginRun(RunStart(startedAt: at(0), command: "sync"))
        var batch: [Observation] = []
        // Multi-byte text in every failure, so spilled sections are cut between characters, never inside one.
        let error = "manifest unknown: étiquette introuvable ✗ — 🚫 " + String(repeating: "x", count: 57)
        for index in 0..<3000 {
            let reference = try ImageReference(parsing: "registry.test/team/app-\(index % 37):1.\(index).0")
            let attempts = [EndpointAttempt(endpoint: "https://mirror.test", error: "503 ✗", fellBack: true)]
            let result: Observation.Result =
                index % 3 == 0
                ? .failed(error: error + "\(index)")
                : .resolved(image("m\(index)", id: "c\(index)", servedBy: "https://registry.test"))
            batch.append(
                Observation(
                    runID: run, reference: reference, attempts: attempts, bytesTransferred: Int64(index),
                    observedAt: at(Double(index)), result: result))
        }
        _ = try await ledger.record(batch)
        _ = try await ledger.finishRun(run, RunFinish(finishedAt: at(4000), status: .completed, exitStatus: 1))
        try await Self.compare(ledger, run: run)
    }

    @Test func characterBoundariesNeverSplitASequence() {
        let text = Array("aé✗🚫".utf8)  // 1 + 2 + 3 + 4 bytes
        let ends = (0...text.count).map { SpooledText.characterBoundary(text, upTo: $0) }
        #expect(ends == [0, 1, 1, 3, 3, 3, 6, 6, 6, 6, 10])
    }
}
