import Foundation
@testable import Ledger
import OCIModel
import Testing

@testable import FerryReports

/// Occurrences of `needle` in `haystack`.
func occurrences(of needle: String, in haystack: String) -> Int {
    haystack.ranges(of: needle).count
}

/// The values of every `name="…"` attribute in `html`.
func attributeValues(_ name: String, in html: String) throws -> [String] {
    html.matches(of: try Regex("\\s\(name)\\s*=\\s*\"([^\"]*)\"")).compactMap { match in
        match.output[1].substring.map(String.init)
    }
}

@Suite struct HTMLReportTests {
    /// A report whose reference, endpoint and error try to inject markup.
    private func hostileReport() throws -> RunReport {
        let id = try runID("20261129T103000Z-0bad")
        let reference = #"evil.io/<script>alert(1)</script>:"><img src=x onerror=alert(2)>"#
        return RunReport(
            run: runRecord(id, exit: 1),
            observations: [
                observationRecord(
                    id: 1, run: id, reference: reference, outcome: .failed, error: hostileError,
                    attempts: [
                        EndpointAttempt(endpoint: "https://x/'\"<b>", error: "</script><script>", fellBack: true)
                    ])
            ],
            driftEvents: [])
    }

    @Test func escapesUntrustedText() throws {
        let html = HTMLReport.render(try hostileReport())
        // The page's own script is the only one, and no injected tag or attribute survives.
        #expect(occurrences(of: "<script", in: html) == 1)
        #expect(occurrences(of: "</script>", in: html) == 1)
        #expect(!html.contains("<img"))
        #expect(!html.contains("<b>"))
        // Hostile attributes survive only as text, never inside a tag.
        #expect(html.firstMatch(of: /<[a-z]+[^<>]*\s(onerror|src)=/) == nil)
        #expect(
            html.contains("evil.io/&lt;script&gt;alert(1)&lt;/script&gt;:&quot;&gt;&lt;img src=x onerror=alert(2)&gt;"))
        #expect(html.contains("manifest unknown &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; | &lt;/td&gt;"))
        #expect(html.contains("https://x/&#39;&quot;&lt;b&gt;"))
        #expect(html.contains("&lt;/script&gt;&lt;script&gt;"))
        #expect(HTMLReport.escape("a\u{1}b&") == "a\u{FFFD}b&amp;")
    }

    @Test func putsDriftAndFailuresBeforeTheImageTableWithDriftRowsFirst() async throws {
        let html = HTMLReport.render(try await LedgerFixture.make().secondReport())
        let drift = try #require(html.range(of: "<section id=\"drift\">"))
        let failures = try #require(html.range(of: "<section id=\"failures\">"))
        let images = try #require(html.range(of: "<section id=\"images\">"))
        #expect(drift.lowerBound < failures.lowerBound)
        #expect(failures.lowerBound < images.lowerBound)
        // The first row of the whole page is a drift row, and so is the image table's first row.
        let firstRow = try #require(html.range(of: "<tr class=\"row "))
        #expect(html[firstRow.upperBound...].hasPrefix("drift\">"))
        let table = html[images.lowerBound...]
        let rowClasses = table.matches(of: /<tr class="row ([a-z-]+)">/).map { String($0.output.1) }
        #expect(rowClasses == ["drift", "drift", "drift", "failed", "updated", "pulled", "up-to-date"])
        #expect(table.contains("<span class=\"outcome drift\">drift</span><br><small>image-id-drift</small>"))
        #expect(
            occurrences(of: "<tr class=\"row drift\">", in: String(html[drift.lowerBound..<failures.lowerBound])) == 3)
    }

    @Test func loadsNothingFromAnywhere() async throws {
        let fixture = try await LedgerFixture.make()
        for html in [
            HTMLReport.render(try await fixture.secondReport()), HTMLReport.render(try await fixture.inventory()),
        ] {
            // Endpoint URLs appear as text; no attribute may point anywhere but inside the page.
            for value in try attributeValues("src", in: html) + attributeValues("href", in: html)
                + attributeValues("action", in: html)
            {
                Issue.record("external reference \(value)")
            }
            #expect(!html.contains("<link"))
            #expect(!html.contains("@import"))
            #expect(!html.contains("url("))
            #expect(html.contains("default-src 'none'"))
        }
    }

    @Test func policyHashesMatchTheInlineStyleAndScript() async throws {
        let html = HTMLReport.render(try await LedgerFixture.make().secondReport())
        let style = try #require(html.firstMatch(of: /<style>(.*?)<\/style>/.dotMatchesNewlines()))
        let script = try #require(html.firstMatch(of: /<script>(.*?)<\/script>/.dotMatchesNewlines()))
        #expect(html.contains("style-src '\(HTMLReport.cspHash(String(style.output.1)))'"))
        #expect(html.contains("script-src '\(HTMLReport.cspHash(String(script.output.1)))'"))
        // The hash of a known text, from `printf 'abc' | openssl dgst -sha256 -binary | base64`.
        #expect(HTMLReport.cspHash("abc") == "sha256-ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=")
        // Inline style attributes and event handlers would be blocked by that policy.
        #expect(try attributeValues("style", in: html).isEmpty)
        #expect(!html.contains(" onclick="))
    }

    @Test func showsFullDigestsInCodeWithCopyButtons() async throws {
        let html = HTMLReport.render(try await LedgerFixture.make().secondReport())
        let full = digest("config X").description
        #expect(
            html.contains(
                "<span class=\"digest\"><code title=\"\(full)\">\(full)</code>"
                    + "<button type=\"button\" class=\"copy js-only\" data-copy=\"\(full)\">Copy</button></span>"))
        #expect(html.contains("<table class=\"sortable\" id=\"image-table\">"))
        #expect(html.contains("<th scope=\"col\" data-key=\"bytes\" data-type=\"number\">Bytes</th>"))
        #expect(html.contains("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"))
        #expect(html.contains("<span class=\"badge status-failed\">completed, exit 3</span>"))
    }

    @Test func showsPushFailuresAndPushesWithoutRows() async throws {
        let html = HTMLReport.render(try await LedgerFixture.make().secondReport())
        let failures = try #require(html.firstMatch(of: /<section id="failures">(.*?)<\/section>/.dotMatchesNewlines()))
        #expect(failures.output.1.contains("<h2>Failures (2)</h2>"))
        #expect(failures.output.1.contains("<td>updated, but a push failed</td>"))
        #expect(failures.output.1.contains("denied: requested access to the resource is denied"))
        let pushes = try #require(html.firstMatch(of: /<section id="pushes">(.*?)<\/section>/.dotMatchesNewlines()))
        #expect(pushes.output.1.contains("<table class=\"sortable\" id=\"push-table\">"))
        #expect(pushes.output.1.contains("<code>docker.io/library/old:1</code>"))
        #expect(html.contains("<li class=\"count failed\"><span class=\"n\">1</span> target pushes failed</li>"))
        #expect(html.contains("<code>internal</code> <span class=\"outcome up-to-date\">up-to-date</span>"))
    }

    @Test func rendersTheInventoryWithSortableTables() async throws {
        let html = HTMLReport.render(try await LedgerFixture.make().inventory())
        #expect(html.contains("<title>ferry inventory</title>"))
        #expect(html.contains("<section id=\"drift\">\n<h2>Drift history (3)</h2>"))
        #expect(html.contains("<table class=\"sortable\" id=\"tag-table\">"))
        #expect(html.contains("<table class=\"sortable\" id=\"digest-table\">"))
        #expect(html.contains("<code>example.org/app:1.0</code>"))
        #expect(html.contains("<summary>2 digests</summary>"))
    }
}
