import FerrySystem
import FerryTestSupport
import Foundation
@testable import Ledger
import OCIModel
import Testing

@testable import FerryReports

/// The target of the symlink at `path`, or nil when it is not a link.
func linkTarget(_ path: String) -> String? {
    try? FileManager.default.destinationOfSymbolicLink(atPath: path)
}

@Suite struct ReportWriterTests {
    @Test func writesReportsLatestLinksAndMetrics() async throws {
        let fixture = try await LedgerFixture.make()
        let store = try TemporaryDirectory(prefix: "ferry-reports")
        let writer = ReportWriter(storeDirectory: store.path)
        let report = try await fixture.secondReport()
        let written = try writer.write(report, metrics: MetricsHistory(lastSuccess: at(60)))

        let id = fixture.secondRun.rawValue
        #expect(written.files[.json] == store.appending("reports/\(id).json"))
        #expect(written.files[.markdown] == store.appending("reports/\(id).md"))
        #expect(written.files[.html] == store.appending("reports/\(id).html"))
        #expect(written.metrics == store.appending("metrics.prom"))
        #expect(written.latestUpdated)
        #expect(written.extraFiles.isEmpty)
        // Rows are encoded one by one and placed in the document: the bytes equal encoding it whole.
        #expect(try TestFiles.read(store.appending("reports/\(id).json")) == ReportJSON.encode(report))
        #expect(try TestFiles.readText(store.appending("reports/\(id).md")) == MarkdownReport.render(report))
        #expect(try TestFiles.readText(store.appending("reports/\(id).html")) == HTMLReport.render(report))
        #expect(
            try TestFiles.readText(store.appending("metrics.prom"))
                == PrometheusMetrics.render(report, history: MetricsHistory(lastSuccess: at(60))))
        for ext in ["json", "md", "html"] {
            // Relative links, so the store can be moved or copied.
            #expect(linkTarget(store.appending("reports/latest.\(ext)")) == "\(id).\(ext)")
            #expect(
                try TestFiles.read(store.appending("reports/latest.\(ext)"))
                    == TestFiles.read(store.appending("reports/\(id).\(ext)")))
        }
        // Nothing temporary is left behind.
        #expect(
            try FileSystem.list(store.appending("reports")).sorted() == [
                "\(id).html", "\(id).json", "\(id).md", "latest.html", "latest.json", "latest.md",
            ])
        #expect(try FileSystem.list(store.path).sorted() == ["metrics.prom", "reports"])
    }

    @Test func latestFollowsTheNewestRunOnly() async throws {
        let fixture = try await LedgerFixture.make()
        let store = try TemporaryDirectory(prefix: "ferry-reports")
        let writer = ReportWriter(storeDirectory: store.path)
        try writer.write(try await fixture.firstReport(), metrics: nil)
        #expect(linkTarget(store.appending("reports/latest.json")) == "\(fixture.firstRun).json")
        let newer = try writer.write(try await fixture.secondReport(), metrics: nil)
        #expect(newer.latestUpdated)
        #expect(linkTarget(store.appending("reports/latest.md")) == "\(fixture.secondRun).md")
        // Re-rendering an older run writes its files but leaves latest on the newer run.
        let older = try writer.write(try await fixture.firstReport(), metrics: nil)
        #expect(!older.latestUpdated)
        for ext in ["json", "md", "html"] {
            #expect(linkTarget(store.appending("reports/latest.\(ext)")) == "\(fixture.secondRun).\(ext)")
        }
        // Without a history, metrics.prom is left alone.
        #expect(!TestFiles.exists(store.appending("metrics.prom")))
    }

    /// Runs started in the same second have IDs whose random suffixes do not order them: the later run must
    /// still move latest, whichever suffix it drew.
    @Test(arguments: [("20261129T103000Z-ffff", "20261129T103000Z-0000"), ("20261129T103000Z-0000", "20261129T103000Z-ffff")])
    func aRunStartedInTheSameSecondAsTheLinkedOneMovesLatest(first: String, second: String) async throws {
        let fixture = try await LedgerFixture.make()
        let store = try TemporaryDirectory(prefix: "ferry-reports")
        let writer = ReportWriter(storeDirectory: store.path)
        var report = try await fixture.secondReport()
        report.run.id = try #require(RunID(rawValue: first))
        try writer.write(report, metrics: nil)
        report.run.id = try #require(RunID(rawValue: second))
        #expect(try writer.write(report, metrics: nil).latestUpdated)
        for ext in ["json", "md", "html"] {
            #expect(linkTarget(store.appending("reports/latest.\(ext)")) == "\(second).\(ext)")
        }
    }

    @Test func replacesAPlainFileWhereALinkShouldBe() async throws {
        let fixture = try await LedgerFixture.make()
        let store = try TemporaryDirectory(prefix: "ferry-reports")
        try store.makeSubdirectory("reports")
        try TestFiles.write("stale", to: store.appending("reports/latest.md"))
        try ReportWriter(storeDirectory: store.path).write(try await fixture.firstReport(), metrics: nil)
        #expect(linkTarget(store.appending("reports/latest.md")) == "\(fixture.firstRun).md")
    }

    @Test func copiesTheReportsIntoTheExtraDirectory() async throws {
        let fixture = try await LedgerFixture.make()
        let store = try TemporaryDirectory(prefix: "ferry-reports")
        let extra = store.appending("published/ferry")
        let written = try ReportWriter(storeDirectory: store.appending("store"), extraDirectory: extra)
            .write(try await fixture.secondReport(), metrics: MetricsHistory())
        let id = fixture.secondRun.rawValue
        #expect(try FileSystem.list(extra).sorted() == ["\(id).html", "\(id).json", "\(id).md"])
        #expect(written.extraFiles[.html] == extra + "/\(id).html")
        #expect(
            try TestFiles.read(extra + "/\(id).json") == TestFiles.read(store.appending("store/reports/\(id).json")))
    }

    @Test func failuresNameThePath() async throws {
        let fixture = try await LedgerFixture.make()
        let store = try TemporaryDirectory(prefix: "ferry-reports")
        // A file where the reports directory should be.
        try TestFiles.write("not a directory", to: store.appending("reports"))
        let error = try await #require(throws: ReportError.self) {
            try ReportWriter(storeDirectory: store.path).write(try await fixture.firstReport(), metrics: nil)
        }
        guard case .io(let failure) = error else {
            Issue.record("expected an I/O error, got \(error)")
            return
        }
        #expect(failure.path.hasPrefix(store.appending("reports")))
        #expect(error.description.hasPrefix(store.appending("reports")))
    }
}
