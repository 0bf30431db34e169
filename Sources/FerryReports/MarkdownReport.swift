import Foundation
import Ledger
import OCIModel

/// Renders reports as GitHub-flavoured Markdown: readable as plain text in a terminal or a mail, tidy on a forge.
///
/// Untrusted text (references, endpoints, error messages) always sits in code spans, where Markdown and HTML have
/// no meaning; inside table cells `|` is escaped as `\|` and line breaks become spaces so a row stays one row.
public enum MarkdownReport {
    /// The run report as Markdown: title, counts, drift, failures, fallbacks, then the image table.
    public static func render(_ report: RunReport) -> String {
        // Rendering into memory cannot fail: only the JSON renderer encodes, and only files throw.
        (try? RunReportRendering.render(report, .markdown)) ?? ""
    }

    /// The inventory as Markdown: counts, drift history, then one section per repository.
    public static func render(_ report: InventoryReport) -> String {
        (try? InventoryRendering.render(report, .markdown)) ?? ""
    }

    /// The changes since a run: runs, added and moved tags, drift.
    public static func render(_ report: ChangesReport) -> String {
        var out = MarkdownText()
        out.line("# ferry: changes since run \(code(report.since.id.rawValue))")
        out.blank()
        let counts = report.counts
        out.line(
            "Since \(report.since.command) run \(code(report.since.id.rawValue)) of "
                + "\(ReportTime.display(report.since.startedAt)), read \(ReportTime.display(report.generatedAt)): "
                + "\(counted(counts.runs, "run")) · \(counted(counts.added, "tag")) added · \(counts.moved) moved · "
                + "\(counts.unchanged) unchanged · \(counted(counts.driftEvents, "drift event"))")
        driftList(report.driftEvents, title: "Drift events", into: &out)
        out.blank()
        out.line("## Moved tags (\(report.moved.count))")
        if !report.moved.isEmpty {
            out.blank()
            out.table(
                header: ["Reference", "Then", "Now", "Image ID now", "Moves", "Served by"],
                alignments: [.left, .left, .left, .left, .left, .left],
                rows: report.moved.map { tag in
                    [
                        code(tag.reference), shortCode(tag.previousDigest), shortCode(tag.digest),
                        tag.imageID.map { shortCode($0) } ?? "index",
                        tag.moves.map { "\(shortCode($0.digest)) (run \(code($0.firstRunID.rawValue)))" }
                            .joined(separator: " → "),
                        endpointText(tag.servedBy),
                    ]
                })
        }
        out.blank()
        out.line("## Added tags (\(report.added.count))")
        if !report.added.isEmpty {
            out.blank()
            out.table(
                header: ["Reference", "Digest", "Image ID", "First seen", "Run", "Served by"],
                alignments: [.left, .left, .left, .left, .left, .left],
                rows: report.added.map { tag in
                    [
                        code(tag.reference), code(tag.digest.description), tag.imageID.map { shortCode($0) } ?? "index",
                        ReportTime.display(tag.firstSeen), code(tag.firstRunID.rawValue), endpointText(tag.servedBy),
                    ]
                })
        }
        out.blank()
        out.line("## Runs (\(report.runs.count))")
        if !report.runs.isEmpty {
            out.blank()
            out.table(
                header: ["Run", "Command", "Started", "Status"], alignments: [.left, .left, .left, .left],
                rows: report.runs.map { run in
                    [
                        code(run.id.rawValue), run.command, ReportTime.display(run.startedAt),
                        run.status + (run.exitStatus.map { ", exit \($0)" } ?? ""),
                    ]
                })
        }
        return out.text
    }

    // MARK: Pieces

    /// A section listing drift events with their time and run; nothing when there are none.
    static func driftList(_ events: [DriftEntry], title: String, into out: inout MarkdownText) {
        guard !events.isEmpty else { return }
        out.blank()
        out.line("## \(title) (\(events.count))")
        out.blank()
        for event in events {
            out.line("- \(ReportTime.display(event.occurredAt)), run \(code(event.runID.rawValue)): " + driftLine(event))
        }
    }

    /// `1 run`, `2 runs`.
    static func counted(_ count: Int, _ noun: String) -> String { "\(count) \(noun)\(count == 1 ? "" : "s")" }

    static func statusText(_ run: RunReport.RunInfo) -> String {
        var text = run.status.rawValue
        if let exit = run.exitStatus { text += ", exit \(exit)" }
        return text
    }

    static func outcomeText(_ row: ImageRow) -> String {
        if !row.checked { return row.outcome.rawValue + " (not asked)" }
        guard row.outcome == .drift, !row.driftKinds.isEmpty else { return row.outcome.rawValue }
        return "**drift** (" + row.driftKinds.map(\.rawValue).joined(separator: ", ") + ")"
    }

    static func driftLine(_ event: DriftEntry) -> String {
        var text = "**\(event.kind.rawValue)** \(code(event.reference))"
        if let platform = event.platform { text += " \(code(platform))" }
        text += ": \(event.valueName) \(code(event.oldValue.description)) → \(code(event.newValue.description))"
        text += ", served by " + endpointText(event.endpoint)
        if let upstream = event.upstreamEndpoint { text += ", upstream \(code(upstream))" }
        if event.dryRun { text += " (dry run)" }
        return text
    }

    static func attemptLine(_ attempt: AttemptEntry) -> String {
        "skipped \(endpointText(attempt.endpoint)): \(code(attempt.error))"
            + (attempt.fellBack ? "" : " (ended the pull)")
    }

    static func targetLine(_ target: TargetResult) -> String {
        "target \(code(target.target)) → \(code(target.destination)): \(code(target.error ?? "failed"))"
    }

    static func targetCountRows(_ counts: RunReport.Counts) -> [[String]] {
        guard counts.targetsPushed + counts.targetsUpToDate + counts.targetsFailed > 0 else { return [] }
        return [
            ["pushed to targets", String(counts.targetsPushed)],
            ["targets up to date", String(counts.targetsUpToDate)],
            ["target pushes failed", String(counts.targetsFailed)],
        ]
    }

    static func endpointText(_ endpoint: EndpointEntry) -> String {
        code(endpoint.url) + (endpoint.mirror ? " (mirror)" : "")
    }

    static func shortCode(_ digest: Digest?) -> String {
        guard let digest else { return "" }
        return code("\(digest.algorithm.rawValue):\(digest.shortHex)")
    }

    /// A code span that holds any text: the fence is longer than any backtick run inside, line breaks become spaces.
    static func code(_ text: String) -> String {
        let flat =
            text.utf8.contains(where: { $0 == UInt8(ascii: "\n") || $0 == UInt8(ascii: "\r") })
            ? text.replacing("\r\n", with: " ").replacing("\n", with: " ").replacing("\r", with: " ") : text
        var longest = 0
        var current = 0
        for character in flat {
            current = character == "`" ? current + 1 : 0
            longest = max(longest, current)
        }
        guard !flat.isEmpty else { return "` `" }
        let fence = String(repeating: "`", count: longest + 1)
        let padded = flat.hasPrefix("`") || flat.hasSuffix("`") ? " \(flat) " : flat
        return fence + padded + fence
    }
}

/// Markdown being built line by line.
struct MarkdownText {
    /// A column's alignment.
    enum Alignment {
        case left, right
    }

    private(set) var text = ""

    mutating func line(_ line: String) { text += line + "\n" }

    mutating func blank() { text += "\n" }

    /// The text so far, leaving the builder empty (a document written out in pieces).
    mutating func take() -> String {
        defer { text = "" }
        return text
    }

    /// A GFM table; `|` in a cell is escaped so that it cannot end the cell (GFM unescapes it inside code spans too).
    mutating func table(header: [String], alignments: [Alignment], rows: [[String]]) {
        text += Self.tableRow(header)
        line("|" + alignments.map { $0 == .right ? "---:" : "---" }.joined(separator: "|") + "|")
        for row in rows { text += Self.tableRow(row) }
    }

    /// One table line, ending in a line break.
    static func tableRow(_ cells: [String]) -> String {
        "| " + cells.map(cell).joined(separator: " | ") + " |\n"
    }

    private static func cell(_ text: String) -> String {
        // Most cells hold neither character; the check spares the generic replacing on every cell of a big table.
        guard text.utf8.contains(where: { $0 == UInt8(ascii: "|") || $0 == UInt8(ascii: "\n") }) else { return text }
        return text.replacing("|", with: "\\|").replacing("\n", with: " ")
    }
}
