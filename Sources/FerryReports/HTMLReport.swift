import Foundation
import Ledger
import OCIModel

/// Renders reports as one self-contained HTML page: inline CSS and a little inline JavaScript, no external
/// assets, readable with JavaScript disabled.
///
/// Every text from the ledger (references, endpoints, errors) is untrusted and goes through ``escape(_:)``. As a
/// second line of defence the page carries a Content-Security-Policy that forbids every fetch and allows only its
/// own inline style and script, by hash: even an injected `<script>` would not run, and nothing is loaded.
public enum HTMLReport {
    /// The run report page: status badge, counts, drift, failures, fallbacks, then the sortable image table.
    public static func render(_ report: RunReport) -> String {
        // Rendering into memory cannot fail: only the JSON renderer encodes, and only files throw.
        (try? RunReportRendering.render(report, .html)) ?? ""
    }

    /// The inventory page: counts, drift history, then sortable tables of tags and digest mappings.
    public static func render(_ report: InventoryReport) -> String {
        (try? InventoryRendering.render(report, .html)) ?? ""
    }

    /// The changes since a run: drift first, then moved and added tags and the runs, in sortable tables.
    public static func render(_ report: ChangesReport) -> String {
        let counts = report.counts
        let title = "ferry changes since run \(report.since.id.rawValue)"
        var body = "<header>\n<h1>\(escape(title))</h1>\n"
        let badge = counts.driftEvents > 0 ? "status-drift" : "status-ok"
        let events = counts.driftEvents == 1 ? "1 drift event" : "\(counts.driftEvents) drift events"
        body += "<p class=\"badges\"><span class=\"badge \(badge)\">\(events)</span></p>\n"
        body +=
            "<p class=\"facts\">since \(escape(report.since.command)) run <code>\(escape(report.since.id.rawValue))</code> "
            + "of \(escape(ReportTime.display(report.since.startedAt))) · read "
            + "\(escape(ReportTime.display(report.generatedAt)))</p>\n</header>\n<main>\n"
        body +=
            "<section id=\"summary\" aria-label=\"Summary\"><ul class=\"counts\">"
            + card("runs", counts.runs, "total") + card("added", counts.added, "total")
            + card("moved", counts.moved, counts.moved > 0 ? "updated" : "zero")
            + card("unchanged", counts.unchanged, "total")
            + card("drift events", counts.driftEvents, counts.driftEvents > 0 ? "drift" : "zero")
            + "</ul></section>\n"
        if !report.driftEvents.isEmpty { body += driftSection(report.driftEvents, title: "Drift events", withRun: true) }
        body += "<section id=\"moved\">\n<h2>Moved tags (\(report.moved.count))</h2>\n"
        if !report.moved.isEmpty {
            body +=
                "<div class=\"scroll\"><table class=\"sortable\" id=\"moved-table\">\n<thead><tr>"
                + header("reference", "Reference", sorted: true) + header("then", "Then") + header("now", "Now")
                + header("image", "Image ID now") + header("moves", "Moves", numeric: true)
                + header("served", "Served by") + "</tr></thead>\n<tbody>\n"
            for tag in report.moved {
                body +=
                    "<tr class=\"row\">" + referenceCell(tag.reference) + digestCell(tag.previousDigest)
                    + digestCell(tag.digest) + (tag.imageID.map(digestCell) ?? "<td>index</td>")
                    + "<td data-value=\"\(tag.moves.count)\"><ol>"
                    + tag.moves.map { move in
                        "<li>\(digestMarkup(move.digest)) run <code>\(escape(move.firstRunID.rawValue))</code></li>"
                    }.joined() + "</ol></td>" + endpointCell(tag.servedBy) + "</tr>\n"
            }
            body += "</tbody></table></div>\n"
        }
        body += "</section>\n<section id=\"added\">\n<h2>Added tags (\(report.added.count))</h2>\n"
        if !report.added.isEmpty {
            body +=
                "<div class=\"scroll\"><table class=\"sortable\" id=\"added-table\">\n<thead><tr>"
                + header("reference", "Reference", sorted: true) + header("digest", "Digest")
                + header("image", "Image ID") + header("first", "First seen") + header("run", "Run")
                + header("served", "Served by") + "</tr></thead>\n<tbody>\n"
            for tag in report.added {
                body +=
                    "<tr class=\"row\">" + referenceCell(tag.reference) + digestCell(tag.digest)
                    + (tag.imageID.map(digestCell) ?? "<td>index</td>") + timeCell(tag.firstSeen)
                    + "<td class=\"nowrap\"><code>\(escape(tag.firstRunID.rawValue))</code></td>"
                    + endpointCell(tag.servedBy) + "</tr>\n"
            }
            body += "</tbody></table></div>\n"
        }
        body += "</section>\n<section id=\"runs\">\n<h2>Runs (\(report.runs.count))</h2>\n"
        if !report.runs.isEmpty {
            body +=
                "<div class=\"scroll\"><table class=\"sortable\" id=\"run-table\">\n<thead><tr>"
                + header("run", "Run") + header("command", "Command") + header("started", "Started", sorted: true)
                + header("status", "Status") + "</tr></thead>\n<tbody>\n"
            for run in report.runs {
                body +=
                    "<tr class=\"row\"><td class=\"nowrap\"><code>\(escape(run.id.rawValue))</code></td>"
                    + "<td>\(escape(run.command))</td>" + timeCell(run.startedAt)
                    + "<td>\(escape(run.status + (run.exitStatus.map { ", exit \($0)" } ?? "")))</td></tr>\n"
            }
            body += "</tbody></table></div>\n"
        }
        body += "</section>\n</main>\n"
        return page(title: title, body: body)
    }

    /// Escapes text for HTML element content and quoted attribute values.
    public static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            // Control characters other than tab and line breaks are not allowed in HTML text.
            case _ where scalar.value < 0x20 && scalar != "\t" && scalar != "\n" && scalar != "\r":
                out += "\u{FFFD}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    // MARK: Sections

    static func summary(_ counts: RunReport.Counts) -> String {
        var cards = ""
        for outcome in Outcome.allCases.sorted(by: { RunReport.rank($0) < RunReport.rank($1) }) {
            let count = counts.count(outcome)
            cards += card(outcome.rawValue, count, count == 0 ? "zero" : outcome.rawValue)
        }
        if counts.notAsked > 0 { cards += card("not asked", counts.notAsked, "total") }
        cards += card("references", counts.references, "total")
        cards += card("drift events", counts.driftEvents, counts.driftEvents == 0 ? "zero" : "drift")
        cards +=
            "<li class=\"count total\"><span class=\"n\">\(escape(ReportTime.bytes(counts.bytesTransferred)))"
            + "</span> transferred</li>"
        if counts.targetsPushed + counts.targetsUpToDate + counts.targetsFailed > 0 {
            cards += card("pushed to targets", counts.targetsPushed, counts.targetsPushed == 0 ? "zero" : "total")
            cards += card("targets up to date", counts.targetsUpToDate, counts.targetsUpToDate == 0 ? "zero" : "total")
            cards += card("target pushes failed", counts.targetsFailed, counts.targetsFailed == 0 ? "zero" : "failed")
        }
        return "<section id=\"summary\" aria-label=\"Summary\"><ul class=\"counts\">\(cards)</ul></section>\n"
    }

    static func card(_ label: String, _ count: Int, _ kind: String) -> String {
        "<li class=\"count \(kind)\"><span class=\"n\">\(count)</span> \(escape(label))</li>"
    }

    static func driftSection(_ events: [DriftEntry], title: String, withRun: Bool) -> String {
        var out = "<section id=\"drift\">\n<h2>\(title) (\(events.count))</h2>\n"
        out +=
            "<div class=\"scroll\"><table class=\"events\">\n<thead><tr><th>Kind</th><th>Reference</th>"
            + "<th>Platform</th><th>Old</th><th>New</th><th>Served by</th>"
            + (withRun ? "<th>Run</th><th>When</th>" : "") + "</tr></thead>\n<tbody>\n"
        for event in events {
            out +=
                "<tr class=\"row drift\"><td><span class=\"outcome drift\">\(escape(event.kind.rawValue))</span>"
                + (event.dryRun ? " <span class=\"badge status-dry\">dry run</span>" : "") + "</td>"
                + referenceCell(event.reference) + "<td>\(escape(event.platform ?? ""))</td>"
                + "<td>\(escape(event.valueName))<br>\(digestMarkup(event.oldValue))</td>"
                + "<td>\(escape(event.valueName))<br>\(digestMarkup(event.newValue))</td>"
                + "<td>\(endpointMarkup(event.endpoint))"
                + (event.upstreamEndpoint.map { "<br>upstream <code>\(escape($0))</code>" } ?? "") + "</td>"
                + (withRun
                    ? "<td class=\"nowrap\"><code>\(escape(event.runID.rawValue))</code></td>"
                        + timeCell(event.occurredAt) : "")
                + "</tr>\n"
        }
        return out + "</tbody></table></div>\n</section>\n"
    }

    static func pushSection(_ pushes: [TargetResult]) -> String {
        guard !pushes.isEmpty else { return "" }
        var out = "<section id=\"pushes\">\n<h2>Pushes (\(pushes.count))</h2>\n"
        out +=
            "<div class=\"scroll\"><table class=\"sortable\" id=\"push-table\">\n<thead><tr>"
            + header("outcome", "Outcome") + header("reference", "Reference") + header("target", "Target")
            + header("destination", "Destination") + header("digest", "Digest")
            + header("bytes", "Uploaded", numeric: true) + header("error", "Error") + "</tr></thead>\n<tbody>\n"
        for push in pushes {
            out +=
                "<tr class=\"row \(push.outcome.rawValue)\"><td><span class=\"outcome \(push.outcome.rawValue)\">"
                + escape(push.outcome.rawValue) + "</span></td>" + referenceCell(push.reference)
                + "<td><code>\(escape(push.target))</code></td><td><code>\(escape(push.destination))</code></td>"
                + (push.digest.map(digestCell) ?? "<td></td>")
                + "<td class=\"num\" data-value=\"\(push.bytesUploaded)\">\(escape(ReportTime.bytes(push.bytesUploaded)))</td>"
                + "<td class=\"error\">\(escape(push.error ?? ""))</td></tr>\n"
        }
        return out + "</tbody></table></div>\n</section>\n"
    }

    // MARK: Cells

    static func header(_ key: String, _ label: String, numeric: Bool = false, sorted: Bool = false)
        -> String
    {
        "<th scope=\"col\" data-key=\"\(key)\"" + (numeric ? " data-type=\"number\"" : "")
            + (sorted ? " aria-sort=\"ascending\"" : "") + ">\(escape(label))</th>"
    }

    static func referenceCell(_ reference: String) -> String {
        "<td class=\"ref\"><code>\(escape(reference))</code></td>"
    }

    static func digestCell(_ digest: Digest) -> String {
        "<td data-value=\"\(escape(digest.description))\">\(digestMarkup(digest))</td>"
    }

    /// The full digest in a `<code>` that CSS shortens, plus a copy button that the script reveals.
    static func digestMarkup(_ digest: Digest) -> String {
        let text = escape(digest.description)
        return "<span class=\"digest\"><code title=\"\(text)\">\(text)</code>"
            + "<button type=\"button\" class=\"copy js-only\" data-copy=\"\(text)\">Copy</button></span>"
    }

    static func timeCell(_ date: Date) -> String {
        "<td class=\"nowrap\" data-value=\"\(escape(ReportTime.iso8601(date)))\">\(escape(ReportTime.display(date)))</td>"
    }

    static func endpointCell(_ endpoint: EndpointEntry) -> String { "<td>\(endpointMarkup(endpoint))</td>" }

    static func endpointMarkup(_ endpoint: EndpointEntry) -> String {
        "<code>\(escape(endpoint.url))</code>" + (endpoint.mirror ? " <span class=\"tag\">mirror</span>" : "")
    }

    static func attemptList(_ attempts: [AttemptEntry]) -> String {
        guard !attempts.isEmpty else { return "" }
        return "<ol class=\"attempts\">"
            + attempts.map { attempt in
                "<li>\(endpointMarkup(attempt.endpoint)): <span class=\"error\">\(escape(attempt.error))</span>"
                    + (attempt.fellBack ? "" : " <em>(ended the pull)</em>") + "</li>"
            }.joined() + "</ol>"
    }

    static func targetFailures(_ targets: [TargetResult]) -> String {
        let failed = targets.filter { $0.outcome == .failed }
        guard !failed.isEmpty else { return "" }
        return "<ul class=\"plain\">"
            + failed.map { target in
                "<li>target <code>\(escape(target.target))</code> → <code>\(escape(target.destination))</code>: "
                    + "<span class=\"error\">\(escape(target.error ?? "failed"))</span></li>"
            }.joined() + "</ul>"
    }

    static func historyCell(_ history: [InventoryReport.HistoryEntry]) -> String {
        guard history.count > 1 else { return "<td data-value=\"\(history.count)\"></td>" }
        return "<td data-value=\"\(history.count)\"><details><summary>\(history.count) digests</summary><ol>"
            + history.map { entry in
                "<li>\(digestMarkup(entry.digest)) \(escape(ReportTime.display(entry.firstSeen))) – "
                    + "\(escape(ReportTime.display(entry.lastSeen)))</li>"
            }.joined() + "</ol></details></td>"
    }

    static func statusClass(_ run: RunReport.RunInfo) -> String {
        switch run.status {
        case .running: return "status-running"
        case .interrupted: return "status-interrupted"
        case .failed: return "status-failed"
        case .completed, .dryRun:
            switch run.exitStatus {
            case 0?: return "status-ok"
            case 2?: return "status-drift"
            default: return "status-failed"
            }
        }
    }

    // MARK: Page

    /// The page around a body, in two parts: everything before the body and everything after it.
    static func pageParts(title: String) -> (prefix: String, suffix: String) {
        let marker = "\u{0}"
        let whole = page(title: title, body: marker)
        guard let range = whole.range(of: marker) else { return (whole, "") }
        return (String(whole[..<range.lowerBound]), String(whole[range.upperBound...]))
    }

    static func page(title: String, body: String) -> String {
        let policy =
            "default-src 'none'; style-src '\(cspHash(HTMLAssets.style))'; "
            + "script-src '\(cspHash(HTMLAssets.script))'; img-src 'none'; base-uri 'none'; form-action 'none'"
        return """
            <!DOCTYPE html>
            <html lang="en" class="nojs">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <meta http-equiv="Content-Security-Policy" content="\(policy)">
            <meta name="referrer" content="no-referrer">
            <meta name="generator" content="ferry">
            <title>\(escape(title))</title>
            <style>\(HTMLAssets.style)</style>
            </head>
            <body>
            \(body)<script>\(HTMLAssets.script)</script>
            </body>
            </html>

            """
    }

    /// `sha256-<base64>` of an inline block, as CSP source expressions want it.
    static func cspHash(_ text: String) -> String {
        let hex = Digest.sha256(of: Array(text.utf8)).hex
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            bytes.append(UInt8(hex[index..<next], radix: 16) ?? 0)
            index = next
        }
        return "sha256-" + Data(bytes).base64EncodedString()
    }
}
