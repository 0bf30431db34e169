import FerryTestSupport
import Foundation
@testable import Ledger
import OCIModel
import Testing

@testable import FerryReports

/// Opens the HTML report in Debian's headless Chromium and checks the DOM after the page's script ran.
///
/// One launch does it all: `--dump-dom` prints the DOM once the load event and the inline script are done. The
/// URL carries `#sort=-reference`, which the script applies on load, so the dump shows the table re-sorted by the
/// script, proving that the script ran under the page's Content-Security-Policy. A missing `chromium` fails the
/// test (`make test` installs it); nothing is skipped.
@Suite(.serialized) struct ChromiumRenderTests {
    /// Chromium's DOM of `html` opened with `#sort=-reference`, after the page's script ran.
    static func dumpDOM(_ html: String) async throws -> (dom: String, stderr: String) {
        let directory = try TemporaryDirectory(prefix: "ferry-chromium")
        let page = directory.appending("report.html")
        try TestFiles.write(html, to: page)

        // ProcessRunner kills Chromium with SIGKILL at the deadline and throws `timedOut`: a bound against a hang,
        // generous for a loaded machine, never a performance target.
        let result = try await ProcessRunner.run(
            "chromium",
            [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
                "--disable-extensions", "--disable-background-networking", "--disable-sync",
                "--disable-component-update", "--enable-logging=stderr", "--v=0",
                "--user-data-dir=" + directory.appending("profile"), "--dump-dom",
                "file://\(page)#sort=-reference",
            ],
            environment: [
                "HOME": directory.path, "XDG_CONFIG_HOME": directory.appending("config"),
                "XDG_CACHE_HOME": directory.appending("cache"),
            ],
            timeout: 180)
        try result.checked()
        return (result.stdoutText, result.stderrText)
    }

    @Test(.timeLimit(.minutes(1))) func rendersTheDriftRowAndSortsInHeadlessChromium() async throws {
        let report = try await LedgerFixture.make().secondReport()
        let (dom, stderr) = try await Self.dumpDOM(HTMLReport.render(report))

        // The script ran: it swaps the root class (which shows the js-only copy buttons) and wraps headers in sort
        // buttons.
        #expect(dom.contains("<html lang=\"en\" class=\"js\">"), "script did not run; stderr:\n\(stderr)")
        #expect(
            dom.contains(
                "<button type=\"button\" class=\"copy js-only\" data-copy=\"\(digest("config X"))\">Copy</button>"))
        #expect(
            dom.contains(
                "<th scope=\"col\" data-key=\"reference\" aria-sort=\"descending\"><button type=\"button\" class=\"sort\">Reference</button></th>"
            ))
        // No script error and no policy violation was logged.
        #expect(!stderr.contains("Uncaught"), "\(stderr)")
        #expect(!stderr.contains("Content Security Policy"), "\(stderr)")

        // The drift section comes first and shows every drift row.
        let driftSection = try #require(dom.firstMatch(of: /<section id="drift">(.*?)<\/section>/.dotMatchesNewlines()))
        let driftRows = driftSection.output.1.matches(of: /<tr class="row drift">/).count
        #expect(driftRows == 3)
        #expect(driftSection.output.1.contains("image-id-drift"))
        #expect(driftSection.output.1.contains("<code>docker.io/library/alpine:3.20</code>"))

        // The image table was re-sorted by reference, descending, by the script.
        let table = try #require(
            dom.firstMatch(of: /<table class="sortable" id="image-table">(.*?)<\/table>/.dotMatchesNewlines()))
        let references = table.output.1.matches(of: /<td class="ref"><code>([^<]*)<\/code>/).map { String($0.output.1) }
        #expect(references == report.images.map(\.reference).sorted(by: >))
        let driftRow = try #require(
            table.output.1.firstMatch(of: /<tr class="row drift">(.*?)<\/tr>/.dotMatchesNewlines()))
        #expect(driftRow.output.1.contains(">drift</span>"))
    }

    /// Issue 8: the report of a 20,000-reference run opens and sorts in Chromium. The limit is a bound against a
    /// hang on a loaded machine, not a performance target.
    @Test(.timeLimit(.minutes(4))) func aTwentyThousandRowReportOpensAndSorts() async throws {
        var report = try await LedgerFixture.make().secondReport()
        let template = try #require(report.images.first { $0.outcome == .upToDate })
        report.images = (0..<20_000).map { index in
            var row = template
            row.reference = "registry.test/scale/repo-" + String(String(100_000 + index).dropFirst()) + ":1.0.0"
            return row
        }
        let (dom, stderr) = try await Self.dumpDOM(HTMLReport.render(report))
        #expect(dom.contains("<html lang=\"en\" class=\"js\">"), "script did not run; stderr:\n\(stderr)")
        #expect(!stderr.contains("Uncaught"), "\(stderr)")
        let table = try #require(dom.range(of: "<table class=\"sortable\" id=\"image-table\">"))
        let body = dom[table.upperBound...]
        #expect(body.components(separatedBy: "<tr class=\"row up-to-date\">").count - 1 == 20_000)
        // Sorted by reference, descending, by the script: the last reference comes first, the first one last.
        let last = try #require(body.range(of: "<code>registry.test/scale/repo-19999:1.0.0</code>"))
        let middle = try #require(body.range(of: "<code>registry.test/scale/repo-10000:1.0.0</code>"))
        let first = try #require(body.range(of: "<code>registry.test/scale/repo-00000:1.0.0</code>"))
        #expect(last.lowerBound < middle.lowerBound && middle.lowerBound < first.lowerBound)
    }

    @Test(.timeLimit(.minutes(1))) func theChangesPageRunsItsScriptAndSortsEveryTable() async throws {
        let fixture = try await LedgerFixture.make()
        let report = try #require(try await ChangesReport.load(since: fixture.firstRun, from: fixture.store))
        let (dom, stderr) = try await Self.dumpDOM(HTMLReport.render(report))
        #expect(dom.contains("<html lang=\"en\" class=\"js\">"), "script did not run; stderr:\n\(stderr)")
        #expect(!stderr.contains("Uncaught"), "\(stderr)")
        #expect(!stderr.contains("Content Security Policy"), "\(stderr)")
        let drift = try #require(dom.firstMatch(of: /<section id="drift">(.*?)<\/section>/.dotMatchesNewlines()))
        #expect(drift.output.1.matches(of: /<tr class="row drift">/).count == 3)
        let moved = try #require(
            dom.firstMatch(of: /<table class="sortable" id="moved-table">(.*?)<\/table>/.dotMatchesNewlines()))
        let references = moved.output.1.matches(of: /<td class="ref"><code>([^<]*)<\/code>/).map { String($0.output.1) }
        #expect(references == ["example.org/app:1.0", "docker.io/library/nginx:1.27"])
    }
}
