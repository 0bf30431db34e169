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
        var out = MarkdownText()
        let run = report.run
        out.line("# ferry \(run.command) run \(run.id): \(statusText(run))")
        out.blank()
        var facts = ["started \(ReportTime.display(run.startedAt))"]
        if let finished = run.finishedAt { facts.append("finished \(ReportTime.display(finished))") }
        if let duration = run.durationMilliseconds { facts.append(ReportTime.duration(milliseconds: duration)) }
        if let version = run.toolVersion { facts.append("ferry " + code(version)) }
        if let fingerprint = run.configFingerprint { facts.append("config " + code(fingerprint)) }
        out.line(facts.joined(separator: " · "))
        if run.dryRun {
            out.blank()
            out.line("**Dry run:** outcomes are what would have happened; the store was not changed.")
        }
        out.blank()
        out.table(
            header: ["Outcome", "References"], alignments: [.left, .right],
            rows: Outcome.allCases.sorted { RunReport.rank($0) < RunReport.rank($1) }.map { outcome in
                [outcome.rawValue, String(report.counts.count(outcome))]
            } + [
                ["**total**", "**\(report.counts.references)**"],
                ["drift events", String(report.counts.driftEvents)],
                ["bytes transferred", ReportTime.bytes(report.counts.bytesTransferred)],
            ] + targetCountRows(report.counts))

        if !report.driftEvents.isEmpty {
            out.blank()
            out.line("## Drift (\(report.driftEvents.count))")
            out.blank()
            for event in report.driftEvents { out.line("- " + driftLine(event)) }
        }

        let failures = report.failures
        let failedPushes = report.pushes.filter { $0.outcome == .failed }
        if !failures.isEmpty || !failedPushes.isEmpty {
            out.blank()
            out.line("## Failures (\(failures.count + failedPushes.count))")
            out.blank()
            for row in failures {
                if row.outcome == .failed {
                    out.line("- \(code(row.reference)): \(code(row.error ?? "failed"))")
                    for attempt in row.attempts { out.line("  - " + attemptLine(attempt)) }
                } else {
                    out.line("- \(code(row.reference)): \(row.outcome.rawValue), but a push failed")
                }
                for target in row.targets where target.outcome == .failed { out.line("  - " + targetLine(target)) }
            }
            for push in failedPushes { out.line("- \(code(push.reference)): " + targetLine(push)) }
        }

        let fallbacks = report.fallbacks
        if !fallbacks.isEmpty {
            out.blank()
            out.line("## Fallbacks (\(fallbacks.count))")
            out.blank()
            for row in fallbacks {
                let served = row.servedBy.map { " served by " + endpointText($0) } ?? ""
                out.line("- \(code(row.reference))\(served) after:")
                for attempt in row.attempts { out.line("  - " + attemptLine(attempt)) }
            }
        }

        if !report.pushes.isEmpty {
            out.blank()
            out.line("## Pushes (\(report.pushes.count))")
            out.blank()
            out.table(
                header: ["Outcome", "Reference", "Target", "Destination", "Digest", "Uploaded", "Error"],
                alignments: [.left, .left, .left, .left, .left, .right, .left],
                rows: report.pushes.map { push in
                    [
                        push.outcome.rawValue, code(push.reference), code(push.target), code(push.destination),
                        shortCode(push.digest), ReportTime.bytes(push.bytesUploaded), push.error.map(code) ?? "",
                    ]
                })
        }

        out.blank()
        out.line("## Images (\(report.images.count))")
        if !report.images.isEmpty {
            out.blank()
            var header = ["Outcome", "Reference", "Digest", "Previous", "Image ID", "Served by", "Skipped"]
            var alignments: [MarkdownText.Alignment] = [.left, .left, .left, .left, .left, .left, .right]
            if report.hasTargets {
                header.append("Targets")
                alignments.append(.left)
            }
            header += ["Bytes", "Time", "Error"]
            alignments += [.right, .right, .left]
            out.table(
                header: header, alignments: alignments,
                rows: report.images.map { row in
                    var cells = [
                        outcomeText(row), code(row.reference), shortCode(row.digest),
                        row.previousDigest != nil && row.previousDigest == row.digest
                            ? "same" : shortCode(row.previousDigest),
                        row.imageID.map { shortCode($0) }
                            ?? (row.platforms.isEmpty ? "" : "index: \(row.platforms.count) platforms"),
                        row.servedBy.map(endpointText) ?? "", row.attempts.isEmpty ? "" : String(row.attempts.count),
                    ]
                    if report.hasTargets {
                        cells.append(
                            row.targets.map { "\(code($0.target)) \($0.outcome.rawValue)" }.joined(separator: ", "))
                    }
                    cells += [
                        ReportTime.bytes(row.bytesTransferred),
                        ReportTime.duration(milliseconds: row.durationMilliseconds),
                        row.error.map(code) ?? "",
                    ]
                    return cells
                })
        }
        return out.text
    }

    /// The inventory as Markdown: counts, drift history, then one section per repository.
    public static func render(_ report: InventoryReport) -> String {
        var out = MarkdownText()
        out.line("# ferry inventory")
        out.blank()
        let counts = report.counts
        out.line(
            "Read \(ReportTime.display(report.generatedAt)) · \(counts.repositories) repositories · "
                + "\(counts.tags) tags · \(counts.digests) digests · \(counts.driftEvents) drift events")
        driftList(report.driftHistory, title: "Drift history", into: &out)
        for repository in report.repositories {
            out.blank()
            out.line("## \(code(repository.repository))")
            out.blank()
            out.line("First stored \(ReportTime.display(repository.firstSeen)).")
            if !repository.tags.isEmpty {
                out.blank()
                out.table(
                    header: ["Tag", "Digest", "Image ID", "First seen", "Last seen", "Served by", "History"],
                    alignments: [.left, .left, .left, .left, .left, .left, .left],
                    rows: repository.tags.map { tag in
                        [
                            code(tag.tag), code(tag.digest.description),
                            tag.imageID.map { code($0.description) } ?? "index",
                            ReportTime.display(tag.firstSeen), ReportTime.display(tag.lastSeen),
                            endpointText(tag.servedBy),
                            tag.history.count > 1
                                ? tag.history.map { "\(shortCode($0.digest)) (\($0.firstRunID) – \($0.lastRunID))" }
                                    .joined(separator: " → ") : "",
                        ]
                    })
            }
            if !repository.digests.isEmpty {
                out.blank()
                out.table(
                    header: ["Digest", "Platform", "Image ID", "First seen", "Run", "Served by"],
                    alignments: [.left, .left, .left, .left, .left, .left],
                    rows: repository.digests.map { mapping in
                        [
                            code(mapping.digest.description), mapping.platform.map(code) ?? "",
                            code(mapping.imageID.description), ReportTime.display(mapping.firstSeen),
                            code(mapping.firstRunID.rawValue), endpointText(mapping.servedBy),
                        ]
                    })
            }
        }
        return out.text
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
        let flat = text.replacing("\r\n", with: " ").replacing("\n", with: " ").replacing("\r", with: " ")
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

    /// A GFM table; `|` in a cell is escaped so that it cannot end the cell (GFM unescapes it inside code spans too).
    mutating func table(header: [String], alignments: [Alignment], rows: [[String]]) {
        func cell(_ text: String) -> String {
            text.replacing("|", with: "\\|").replacing("\n", with: " ")
        }
        line("| " + header.map(cell).joined(separator: " | ") + " |")
        line("|" + alignments.map { $0 == .right ? "---:" : "---" }.joined(separator: "|") + "|")
        for row in rows { line("| " + row.map(cell).joined(separator: " | ") + " |") }
    }
}
