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
@Suite struct ChromiumRenderTests {
    @Test(.timeLimit(.minutes(1))) func rendersTheDriftRowAndSortsInHeadlessChromium() async throws {
        let report = try await LedgerFixture.make().secondReport()
        let directory = try TemporaryDirectory(prefix: "ferry-chromium")
        let page = directory.appending("report.html")
        try TestFiles.write(HTMLReport.render(report), to: page)

        let started = ContinuousClock.now
        // ProcessRunner kills Chromium with SIGKILL at the deadline and throws `timedOut`.
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
            timeout: 20)
        let elapsed = ContinuousClock.now - started
        try result.checked()
        #expect(elapsed < .seconds(10), "chromium took \(elapsed)")
        let dom = result.stdoutText

        // The script ran: it swaps the root class, reveals copy buttons and wraps headers in sort buttons.
        #expect(dom.contains("<html lang=\"en\" class=\"js\">"), "script did not run; stderr:\n\(result.stderrText)")
        #expect(
            dom.contains("<button type=\"button\" class=\"copy\" data-copy=\"\(digest("config X"))\">Copy</button>"))
        #expect(!dom.contains("class=\"copy\" data-copy=\"\(digest("config X"))\" hidden"))
        #expect(
            dom.contains(
                "<th scope=\"col\" data-key=\"reference\" aria-sort=\"descending\"><button type=\"button\" class=\"sort\">Reference</button></th>"
            ))
        // No script error and no policy violation was logged.
        #expect(!result.stderrText.contains("Uncaught"), "\(result.stderrText)")
        #expect(!result.stderrText.contains("Content Security Policy"), "\(result.stderrText)")

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
}
