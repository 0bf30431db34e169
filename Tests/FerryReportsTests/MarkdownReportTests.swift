import Foundation
@testable import Ledger
import OCIModel
import Testing

@testable import FerryReports

@Suite struct MarkdownReportTests {
    @Test func startsWithTheRunStatusAndCountsThenDriftFailuresAndImages() async throws {
        let fixture = try await LedgerFixture.make()
        let markdown = MarkdownReport.render(try await fixture.secondReport())
        let lines = markdown.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines[0] == "# ferry sync run \(fixture.secondRun): completed, exit 3")
        #expect(
            lines[2]
                == "started 2026-11-29 11:30:00 UTC · finished 2026-11-29 11:31:02 UTC · 1 min 03 s · ferry `0.1.0` · "
                + "config `sha256:feed`")
        #expect(lines.contains("| drift | 3 |"))
        #expect(lines.contains("| failed | 1 |"))
        #expect(lines.contains("| **total** | **7** |"))
        let headings = lines.filter { $0.hasPrefix("#") }
        #expect(
            headings.dropFirst() == [
                "## Drift (3)", "## Failures (2)", "## Fallbacks (1)", "## Pushes (1)", "## Images (7)",
            ])
        #expect(lines.contains("| pushed to targets | 2 |"))
        #expect(lines.contains("| target pushes failed | 1 |"))
    }

    @Test func describesEachDriftEvent() async throws {
        let markdown = MarkdownReport.render(try await LedgerFixture.make().secondReport())
        #expect(
            markdown.contains(
                "- **image-id-drift** `docker.io/library/alpine:3.20`: image ID `\(digest("config A"))` → "
                    + "`\(digest("config X"))`, served by `\(mirror)` (mirror)\n"))
        #expect(
            markdown.contains(
                "- **tag-moved** `example.org/app:1.0`: digest `\(digest("D"))` → `\(digest("D2"))`, served by "
                    + "`https://example.org`\n"))
        #expect(
            markdown.contains(
                "- **mirror-divergence** `docker.io/library/redis:7`: mirror → upstream digest `\(digest("E"))` → "
                    + "`\(digest("F"))`, served by `\(mirror)` (mirror), upstream `\(hub)`\n"))
    }

    @Test func escapesPipesInTableCellsAndKeepsHostileTextInCodeSpans() async throws {
        let markdown = MarkdownReport.render(try await LedgerFixture.make().secondReport())
        let failedRow = try #require(
            markdown.split(separator: "\n").first { $0.hasPrefix("| failed | `ghcr.io/org/tool:1.0`") })
        // The error's pipe is escaped, so the row has exactly as many unescaped separators as the header.
        let header = try #require(
            markdown.split(separator: "\n").first { $0.hasPrefix("| Outcome | Reference | Digest | ") })
        func separators(_ line: Substring) -> Int {
            var count = 0
            var previous: Character = " "
            for character in line {
                if character == "|" && previous != "\\" { count += 1 }
                previous = character
            }
            return count
        }
        #expect(separators(failedRow) == separators(header))
        #expect(failedRow.contains(#"`` manifest unknown <script>alert("x")</script> \| </td></tr>"#))
        // The backtick in the error is fenced by a longer run, so the span does not end early.
        #expect(failedRow.contains("`tick` ``"))
        // Outside tables pipes stay as they are.
        #expect(markdown.contains(#"- `ghcr.io/org/tool:1.0`: `` manifest unknown <script>alert("x")</script> | "#))
    }

    @Test func codeSpansSurviveBackticksAndLineBreaks() {
        #expect(MarkdownReport.code("plain") == "`plain`")
        #expect(MarkdownReport.code("a`b") == "``a`b``")
        #expect(MarkdownReport.code("`x``") == "``` `x`` ```")
        #expect(MarkdownReport.code("one\ntwo\r\nthree") == "`one two three`")
        #expect(MarkdownReport.code("") == "` `")
    }

    @Test func marksDryRunsAndListsTargets() throws {
        let id = try runID("20261129T103000Z-0002")
        let report = RunReport(
            run: runRecord(id, status: .dryRun, exit: 0, dryRun: true),
            observations: [observationRecord(id: 1, run: id, reference: "a.io/x:1", outcome: .pulled)],
            driftEvents: [],
            targets: [
                TargetResult(reference: "a.io/x:1", target: "internal", destination: "r.io/a.io/x:1", outcome: .pushed)
            ])
        let markdown = MarkdownReport.render(report)
        #expect(markdown.hasPrefix("# ferry sync run \(id): dry-run, exit 0\n"))
        #expect(markdown.contains("**Dry run:**"))
        #expect(
            markdown.contains("| Outcome | Reference | Digest | Previous | Image ID | Served by | Skipped | Targets |"))
        #expect(markdown.contains("| `internal` pushed |"))
        #expect(!markdown.contains("## Drift"))
        #expect(!markdown.contains("## Failures"))
    }

    @Test func rendersTheInventory() async throws {
        let markdown = MarkdownReport.render(try await LedgerFixture.make().inventory())
        #expect(markdown.hasPrefix("# ferry inventory\n\nRead 2026-11-29 12:30:00 UTC · 6 repositories · 6 tags · "))
        #expect(markdown.contains("## Drift history (3)\n"))
        #expect(markdown.contains("## `example.org/app`\n"))
        #expect(markdown.contains("| `1.0` | `\(digest("D2"))` | `\(digest("config D2"))` |"))
        // The moved tag shows both digests it pointed to.
        #expect(markdown.contains("`sha256:\(digest("D").shortHex)`"))
    }
}

@Suite struct MarkdownPushTests {
    @Test func listsPushFailuresAndPushesWithoutRows() async throws {
        let markdown = MarkdownReport.render(try await LedgerFixture.make().secondReport())
        #expect(
            markdown.contains(
                "- `docker.io/library/nginx:1.27`: updated, but a push failed\n  - target `internal` → "
                    + "`registry.internal:5000/mirror/docker.io/library/nginx:1.27`: "
                    + "`denied: requested access to the resource is denied`\n"))
        #expect(
            markdown.contains(
                "| pushed | `docker.io/library/old:1` | `internal` | `registry.internal:5000/mirror/docker.io/library/old:1` | "
                    + "`sha256:\(digest("O").shortHex)` | 100 B |  |\n"))
        #expect(markdown.contains("| `internal` up-to-date |"))
    }
}
