import FerryTestSupport
import Foundation
import Ledger
import OCIModel
import Testing

@testable import FerryReports

/// `ferry report --since RUN`: the fixture's second run moved two tags, added one and raised three drift events.
@Suite struct ChangesReportTests {
    static func report(since run: RunID, _ fixture: LedgerFixture) async throws -> ChangesReport {
        try #require(try await ChangesReport.load(since: run, from: fixture.store, now: at(7200)))
    }

    @Test func sinceTheFirstRunListsWhatTheSecondChanged() async throws {
        let fixture = try await LedgerFixture.make()
        let report = try await Self.report(since: fixture.firstRun, fixture)
        #expect(report.since.id == fixture.firstRun)
        #expect(report.runs.map(\.id) == [fixture.secondRun])
        #expect(report.runs.first?.exitStatus == 3)
        #expect(report.counts == ChangesReport.Counts(runs: 1, added: 1, moved: 2, unchanged: 3, driftEvents: 3))

        #expect(report.added.map(\.reference) == ["quay.io/new/thing:2"])
        #expect(report.added.first?.digest == digest("Q"))
        #expect(report.added.first?.imageID == digest("config Q"))
        #expect(report.added.first?.firstRunID == fixture.secondRun)
        #expect(report.added.first?.moves == 0)

        #expect(report.moved.map(\.reference) == ["docker.io/library/nginx:1.27", "example.org/app:1.0"])
        let app = try #require(report.moved.last)
        #expect(app.previousDigest == digest("D"))
        #expect(app.previousImageID == digest("config D"))
        #expect(app.digest == digest("D2"))
        #expect(app.moves.map(\.digest) == [digest("D2")])
        #expect(app.moves.map(\.firstRunID) == [fixture.secondRun])
        #expect(app.servedBy.url == "https://example.org")
        let nginx = try #require(report.moved.first)
        #expect(nginx.previousDigest == digest("N1"))
        #expect(nginx.digest == digest("N2"))
        #expect(nginx.imageID == nil)

        #expect(report.driftEvents.map(\.kind).sorted { $0.rawValue < $1.rawValue } == [
            .imageIDDrift, .mirrorDivergence, .tagMoved,
        ])
        #expect(report.driftEvents.allSatisfy { $0.runID == fixture.secondRun })
    }

    @Test func sinceTheLatestRunNothingChanged() async throws {
        let fixture = try await LedgerFixture.make()
        let report = try await Self.report(since: fixture.secondRun, fixture)
        #expect(report.counts == ChangesReport.Counts(runs: 0, added: 0, moved: 0, unchanged: 6, driftEvents: 0))
        #expect(report.added.isEmpty && report.moved.isEmpty && report.driftEvents.isEmpty && report.runs.isEmpty)
    }

    @Test func anUnknownRunHasNoReport() async throws {
        let fixture = try await LedgerFixture.make()
        #expect(try await ChangesReport.load(since: try runID("20000101T000000Z-0000"), from: fixture.store) == nil)
    }

    @Test func aTagThatMovedAndCameBackIsStillListed() async throws {
        // A → B → A after the base run: the digest is the same as then, but the tag did move in between.
        let store = try ReferenceStore.inMemory()
        var runs: [RunID] = []
        for (index, manifest) in ["A", "A", "B", "A"].enumerated() {
            let start = at(Double(index) * 1000)
            let run = try await store.beginRun(RunStart(startedAt: start, command: "sync", toolVersion: "0.1.0"))
            _ = try await store.record(
                Observation(
                    runID: run, reference: try ImageReference(parsing: "alpine:3.20"),
                    observedAt: start.addingTimeInterval(1),
                    result: .resolved(image(manifest, id: "config \(manifest)"))))
            _ = try await store.finishRun(
                run, RunFinish(finishedAt: start.addingTimeInterval(2), status: .completed, exitStatus: 0))
            runs.append(run)
        }
        let report = try #require(try await ChangesReport.load(since: runs[1], from: store, now: at(9000)))
        #expect(report.counts.moved == 1)
        let tag = try #require(report.moved.first)
        #expect(tag.previousDigest == digest("A"))
        #expect(tag.digest == digest("A"))
        #expect(tag.moves.map(\.digest) == [digest("B"), digest("A")])
        #expect(tag.moves.map(\.firstRunID) == [runs[2], runs[3]])
        let later = try #require(try await ChangesReport.load(since: runs[3], from: store, now: at(9000)))
        #expect(later.counts.unchanged == 1 && later.counts.moved == 0)
    }

    @Test func jsonValidatesAgainstTheSchemaAndDecodes() async throws {
        let fixture = try await LedgerFixture.make()
        let schema = SchemaValidator(root: try JSONValue.parse(ReportSchema.changesReportV1))
        for run in [fixture.firstRun, fixture.secondRun] {
            let report = try await Self.report(since: run, fixture)
            let bytes = try ReportJSON.encode(report)
            #expect(try schema.validate(try JSONValue.parse(bytes)) == [], "since \(run)")
            #expect(try ReportJSON.decodeChangesReport(bytes) == report)
        }
    }

    @Test func markdownAndHTMLShowTheMovesAndEscapeTheirText() async throws {
        let fixture = try await LedgerFixture.make()
        let report = try await Self.report(since: fixture.firstRun, fixture)
        let markdown = MarkdownReport.render(report)
        #expect(markdown.hasPrefix("# ferry: changes since run `\(fixture.firstRun)`\n"))
        #expect(markdown.contains("1 run · 1 tag added · 2 moved · 3 unchanged · 3 drift events"))
        #expect(markdown.contains("## Drift events (3)\n"))
        #expect(markdown.contains("## Moved tags (2)\n"))
        #expect(markdown.contains("| `example.org/app:1.0` | `sha256:\(digest("D").shortHex)` | `sha256:\(digest("D2").shortHex)` |"))
        #expect(markdown.contains("## Added tags (1)\n"))
        let html = HTMLReport.render(report)
        #expect(html.hasPrefix("<!DOCTYPE html>\n"))
        #expect(html.contains("<section id=\"moved\">\n<h2>Moved tags (2)</h2>"))
        #expect(html.contains("<table class=\"sortable\" id=\"added-table\">"))
        #expect(html.contains("<tr class=\"row drift\">"))
        #expect(!html.contains("<script>alert"))
    }
}
