import Foundation
import Ledger
import OCIModel

/// The run report as Markdown, rendered in one pass: title, counts, drift, failures, fallbacks, pushes, then the
/// image table (see ``MarkdownReport`` for the conventions).
final class MarkdownRunRenderer: RunRowRenderer {
    private let header: RunReportHeader
    private let output: any ReportOutput
    private let failures: SpooledText
    private let fallbacks: SpooledText
    private let referrers: SpooledText
    private var referrerCount = 0
    private let images: SpooledText
    private var failureCount = 0
    private(set) var fallbackCount = 0
    private var imageCount = 0

    init(header: RunReportHeader, output: any ReportOutput, scratch: ScratchFiles) {
        self.header = header
        self.output = output
        failures = SpooledText(scratchPath: scratch.path("md-failures"))
        fallbacks = SpooledText(scratchPath: scratch.path("md-fallbacks"))
        referrers = SpooledText(scratchPath: scratch.path("md-referrers"))
        images = SpooledText(scratchPath: scratch.path("md-images"))
    }

    private typealias M = MarkdownReport

    func add(_ row: ImageRow) throws(ReportError) {
        imageCount += 1
        if RunReport.isFailure(row) {
            failureCount += 1
            var lines: [String] = []
            if row.outcome == .failed {
                lines.append("- \(M.code(row.reference)): \(M.code(row.error ?? "failed"))")
                for attempt in row.attempts { lines.append("  - " + M.attemptLine(attempt)) }
            } else {
                lines.append("- \(M.code(row.reference)): \(row.outcome.rawValue), but a push failed")
            }
            for target in row.targets where target.outcome == .failed { lines.append("  - " + M.targetLine(target)) }
            try failures.write(lines.map { $0 + "\n" }.joined())
        }
        if RunReport.isFallback(row) {
            fallbackCount += 1
            let served = row.servedBy.map { " served by " + M.endpointText($0) } ?? ""
            var text = "- \(M.code(row.reference))\(served) after:\n"
            for attempt in row.attempts { text += "  - " + M.attemptLine(attempt) + "\n" }
            try fallbacks.write(text)
        }
        if let found = row.referrers {
            referrerCount += 1
            var text = "- \(M.code(row.reference)): \(found.summary)\n"
            if found.signsWholeIndex {
                text += "  - signatures of this index sign every platform it lists; the index is kept byte for byte and "
                    + "the mirror holds \(row.platforms.count) of its platforms (fewer when `platforms:` is set)\n"
            }
            for item in found.items {
                text += "  - \(item.kind.rawValue) \(M.shortCode(item.digest)) \(M.code(item.artifactType)) "
                    + "(\(item.foundBy.rawValue)) of \(M.shortCode(item.subject))\n"
            }
            try referrers.write(text)
        }
        var cells = [
            M.outcomeText(row), M.code(row.reference), M.shortCode(row.digest),
            row.previousDigest != nil && row.previousDigest == row.digest ? "same" : M.shortCode(row.previousDigest),
            row.imageID.map { M.shortCode($0) } ?? (row.platforms.isEmpty ? "" : "index: \(row.platforms.count) platforms"),
            row.servedBy.map(M.endpointText) ?? "", row.attempts.isEmpty ? "" : String(row.attempts.count),
        ]
        if header.hasTargets {
            cells.append(row.targets.map { "\(M.code($0.target)) \($0.outcome.rawValue)" }.joined(separator: ", "))
        }
        cells += [
            ReportTime.bytes(row.bytesTransferred), ReportTime.duration(milliseconds: row.durationMilliseconds),
            row.error.map(M.code) ?? "",
        ]
        try images.write(MarkdownText.tableRow(cells))
    }

    func finish() throws(ReportError) {
        var out = MarkdownText()
        let run = header.run
        out.line("# ferry \(run.command) run \(run.id): \(M.statusText(run))")
        out.blank()
        var facts = ["started \(ReportTime.display(run.startedAt))"]
        if let finished = run.finishedAt { facts.append("finished \(ReportTime.display(finished))") }
        if let duration = run.durationMilliseconds { facts.append(ReportTime.duration(milliseconds: duration)) }
        if let version = run.toolVersion { facts.append("ferry " + M.code(version)) }
        if let fingerprint = run.configFingerprint { facts.append("config " + M.code(fingerprint)) }
        out.line(facts.joined(separator: " · "))
        if run.dryRun {
            out.blank()
            out.line("**Dry run:** outcomes are what would have happened; the store was not changed.")
        }
        out.blank()
        out.table(
            header: ["Outcome", "References"], alignments: [.left, .right],
            rows: Outcome.allCases.sorted { RunReport.rank($0) < RunReport.rank($1) }.map { outcome in
                [outcome.rawValue, String(header.counts.count(outcome))]
            } + [
                ["of which not asked (immutable-tags)", String(header.counts.notAsked)],
                ["**total**", "**\(header.counts.references)**"],
                ["drift events", String(header.counts.driftEvents)],
                ["bytes transferred", ReportTime.bytes(header.counts.bytesTransferred)],
            ] + M.targetCountRows(header.counts))
        if !header.driftEvents.isEmpty {
            out.blank()
            out.line("## Drift (\(header.driftEvents.count))")
            out.blank()
            for event in header.driftEvents { out.line("- " + M.driftLine(event)) }
        }
        ReportHosts.markdown(header, into: &out)
        let failedPushes = header.pushes.filter { $0.outcome == .failed }
        if failureCount + failedPushes.count > 0 {
            out.blank()
            out.line("## Failures (\(failureCount + failedPushes.count))")
            out.blank()
            try output.write(out.take())
            try failures.copy(into: output)
            for push in failedPushes { out.line("- \(M.code(push.reference)): " + M.targetLine(push)) }
        }
        if fallbackCount > 0 {
            out.blank()
            out.line("## Fallbacks (\(fallbackCount))")
            out.blank()
            try output.write(out.take())
            try fallbacks.copy(into: output)
        }
        if referrerCount > 0 {
            out.blank()
            out.line("## Referrers (\(referrerCount) images)")
            out.blank()
            try output.write(out.take())
            try referrers.copy(into: output)
        }
        if !header.pushes.isEmpty {
            out.blank()
            out.line("## Pushes (\(header.pushes.count))")
            out.blank()
            out.table(
                header: ["Outcome", "Reference", "Target", "Destination", "Digest", "Uploaded", "Error"],
                alignments: [.left, .left, .left, .left, .left, .right, .left],
                rows: header.pushes.map { push in
                    [
                        push.outcome.rawValue, M.code(push.reference), M.code(push.target), M.code(push.destination),
                        M.shortCode(push.digest), ReportTime.bytes(push.bytesUploaded), push.error.map(M.code) ?? "",
                    ]
                })
        }
        out.blank()
        out.line("## Images (\(imageCount))")
        if imageCount > 0 {
            out.blank()
            var columns = ["Outcome", "Reference", "Digest", "Previous", "Image ID", "Served by", "Skipped"]
            var alignments: [MarkdownText.Alignment] = [.left, .left, .left, .left, .left, .left, .right]
            if header.hasTargets {
                columns.append("Targets")
                alignments.append(.left)
            }
            columns += ["Bytes", "Time", "Error"]
            alignments += [.right, .right, .left]
            out.table(header: columns, alignments: alignments, rows: [])
            try output.write(out.take())
            try images.copy(into: output)
        }
        try output.write(out.take())
    }

    func cleanUp() {
        failures.remove()
        fallbacks.remove()
        referrers.remove()
        images.remove()
    }
}
