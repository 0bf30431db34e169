import Foundation
import Ledger
import OCIModel

/// The run report page, rendered in one pass: status badge, counts, drift, failures, fallbacks, pushes, then the
/// sortable image table (see ``HTMLReport`` for escaping and the page's policy).
final class HTMLRunRenderer: RunRowRenderer {
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
        failures = SpooledText(scratchPath: scratch.path("html-failures"))
        fallbacks = SpooledText(scratchPath: scratch.path("html-fallbacks"))
        referrers = SpooledText(scratchPath: scratch.path("html-referrers"))
        images = SpooledText(scratchPath: scratch.path("html-images"))
    }

    private typealias H = HTMLReport

    func add(_ row: ImageRow) throws(ReportError) {
        imageCount += 1
        if RunReport.isFailure(row) {
            failureCount += 1
            let error =
                row.outcome == .failed
                ? "<td class=\"error\">\(H.escape(row.error ?? "failed"))</td>"
                : "<td>\(H.escape(row.outcome.rawValue)), but a push failed</td>"
            try failures.write(
                "<tr class=\"row failed\">" + H.referenceCell(row.reference) + error
                    + "<td>\(H.attemptList(row.attempts))" + H.targetFailures(row.targets) + "</td></tr>\n")
        }
        if RunReport.isFallback(row) {
            fallbackCount += 1
            try fallbacks.write(
                "<tr class=\"row \(row.outcome.rawValue)\">" + H.referenceCell(row.reference)
                    + "<td>\(row.servedBy.map(H.endpointMarkup) ?? "")</td><td>\(H.attemptList(row.attempts))</td></tr>\n")
        }
        if let found = row.referrers {
            referrerCount += 1
            var note = ""
            if found.signsWholeIndex {
                note =
                    "<br><small>Signatures of this index sign every platform it lists; the index is kept byte for "
                    + "byte and the mirror holds \(row.platforms.count) of its platforms (fewer when platforms is "
                    + "set).</small>"
            }
            try referrers.write(
                "<tr class=\"row \(row.outcome.rawValue)\">" + H.referenceCell(row.reference)
                    + "<td>\(H.escape(found.summary))\(note)</td><td><ul class=\"plain\">"
                    + found.items.map { item in
                        "<li>\(H.escape(item.kind.rawValue)) \(H.digestMarkup(item.digest)) "
                            + "<code>\(H.escape(item.artifactType))</code> (\(H.escape(item.foundBy.rawValue)))</li>"
                    }.joined() + "</ul></td></tr>\n")
        }
        try images.write(imageRow(row))
    }

    private func imageRow(_ row: ImageRow) -> String {
        var cells =
            "<td data-value=\"\(RunReport.rank(row.outcome))\">"
            + "<span class=\"outcome \(row.outcome.rawValue)\">\(H.escape(row.outcome.rawValue))</span>"
        if !row.driftKinds.isEmpty {
            cells += "<br><small>" + row.driftKinds.map { H.escape($0.rawValue) }.joined(separator: ", ") + "</small>"
        }
        if row.dryRun { cells += "<br><small>dry run</small>" }
        if !row.checked { cells += "<br><small>not asked</small>" }
        cells += "</td>" + H.referenceCell(row.reference)
        cells += row.digest.map(H.digestCell) ?? "<td></td>"
        if let previous = row.previousDigest, previous == row.digest {
            // Unchanged is the common case; a second copy of the same digest would only add noise.
            cells += "<td data-value=\"\(H.escape(previous.description))\"><span class=\"same\">same</span></td>"
        } else {
            cells += row.previousDigest.map(H.digestCell) ?? "<td></td>"
        }
        if let imageID = row.imageID {
            cells += H.digestCell(imageID)
        } else if !row.platforms.isEmpty {
            cells +=
                "<td data-value=\"index\"><details><summary>index · \(row.platforms.count) platforms</summary>"
                + "<ul>"
                + row.platforms.map { child in
                    "<li>\(H.escape(child.platform)): \(H.digestMarkup(child.imageID))</li>"
                }.joined() + "</ul></details></td>"
        } else {
            cells += "<td></td>"
        }
        cells += "<td>\(row.servedBy.map(H.endpointMarkup) ?? "")</td>"
        cells +=
            "<td data-value=\"\(row.attempts.count)\">"
            + (row.attempts.isEmpty
                ? "" : "<details><summary>\(row.attempts.count)</summary>\(H.attemptList(row.attempts))</details>")
            + "</td>"
        if header.hasTargets {
            cells +=
                "<td><ul class=\"plain\">"
                + row.targets.map { target in
                    "<li><code>\(H.escape(target.target))</code> <span class=\"outcome \(target.outcome.rawValue)\">"
                        + H.escape(target.outcome.rawValue) + "</span>"
                        + (target.error.map { " <span class=\"error\">\(H.escape($0))</span>" } ?? "") + "</li>"
                }.joined() + "</ul></td>"
        }
        cells +=
            "<td class=\"num\" data-value=\"\(row.bytesTransferred)\">"
            + H.escape(ReportTime.bytes(row.bytesTransferred)) + "</td>"
        cells +=
            "<td class=\"num\" data-value=\"\(row.durationMilliseconds)\">"
            + H.escape(ReportTime.duration(milliseconds: row.durationMilliseconds)) + "</td>"
        cells += "<td class=\"error\">\(H.escape(row.error ?? ""))</td>"
        return "<tr class=\"row \(row.outcome.rawValue)\">\(cells)</tr>\n"
    }

    func finish() throws(ReportError) {
        let run = header.run
        let title = "ferry \(run.command) run \(run.id.rawValue): \(MarkdownReport.statusText(run))"
        let (pagePrefix, pageSuffix) = H.pageParts(title: title)
        var body = pagePrefix
        body += "<header>\n<h1>ferry \(H.escape(run.command)) run <code>\(H.escape(run.id.rawValue))</code></h1>\n"
        body +=
            "<p class=\"badges\"><span class=\"badge \(H.statusClass(run))\">"
            + H.escape(MarkdownReport.statusText(run)) + "</span>"
        if run.dryRun { body += " <span class=\"badge status-dry\">dry run</span>" }
        body += "</p>\n"
        var facts = ["started " + H.escape(ReportTime.display(run.startedAt))]
        if let finished = run.finishedAt { facts.append("finished " + H.escape(ReportTime.display(finished))) }
        if let duration = run.durationMilliseconds { facts.append(H.escape(ReportTime.duration(milliseconds: duration))) }
        if let version = run.toolVersion { facts.append("ferry " + H.escape(version)) }
        if let fingerprint = run.configFingerprint { facts.append("config <code>\(H.escape(fingerprint))</code>") }
        body += "<p class=\"facts\">" + facts.joined(separator: " · ") + "</p>\n"
        if run.dryRun {
            body += "<p class=\"note\">Dry run: outcomes are what would have happened; the store was not changed.</p>\n"
        }
        body += "</header>\n<main>\n"
        body += H.summary(header.counts)
        if !header.driftEvents.isEmpty { body += H.driftSection(header.driftEvents, title: "Drift", withRun: false) }
        body += ReportHosts.html(header)
        let failedPushes = header.pushes.filter { $0.outcome == .failed }
        if failureCount + failedPushes.count > 0 {
            body += "<section id=\"failures\">\n<h2>Failures (\(failureCount + failedPushes.count))</h2>\n"
            body +=
                "<div class=\"scroll\"><table class=\"events\">\n<thead><tr><th>Reference</th><th>Error</th>"
                + "<th>Endpoints tried, targets</th></tr></thead>\n<tbody>\n"
            try output.write(body)
            try failures.copy(into: output)
            body = ""
            for push in failedPushes {
                body +=
                    "<tr class=\"row failed\">" + H.referenceCell(push.reference) + "<td>push failed</td>"
                    + "<td>\(H.targetFailures([push]))</td></tr>\n"
            }
            body += "</tbody></table></div>\n</section>\n"
        }
        if fallbackCount > 0 {
            try spooledSection(
                "fallbacks", "Fallbacks (\(fallbackCount))", ["Reference", "Served by", "Skipped first"], fallbacks,
                after: &body)
        }
        if referrerCount > 0 {
            try spooledSection(
                "referrers", "Referrers (\(referrerCount) images)", ["Reference", "Referrers", "Each"], referrers,
                after: &body)
        }
        body += H.pushSection(header.pushes)
        body += "<section id=\"images\">\n<h2>Images (\(imageCount))</h2>\n"
        if imageCount == 0 {
            body += "<p>No references were attempted.</p>\n</section>\n"
        } else {
            body += "<p class=\"hint js-only\">Select a column header to sort.</p>\n"
            body +=
                "<div class=\"scroll\"><table class=\"sortable\" id=\"image-table\">\n<thead><tr>"
                + H.header("outcome", "Outcome", numeric: true, sorted: true) + H.header("reference", "Reference")
                + H.header("digest", "Digest") + H.header("previous", "Previous") + H.header("image", "Image ID")
                + H.header("served", "Served by") + H.header("skipped", "Skipped", numeric: true)
                + (header.hasTargets ? H.header("targets", "Targets") : "")
                + H.header("bytes", "Bytes", numeric: true) + H.header("time", "Time", numeric: true)
                + H.header("error", "Error") + "</tr></thead>\n<tbody>\n"
            try output.write(body)
            try images.copy(into: output)
            body = "</tbody></table></div>\n</section>\n"
        }
        body += "</main>\n" + pageSuffix
        try output.write(body)
    }

    /// Writes `body`, then a section whose table rows were spooled while the rows streamed by; `body` is left with
    /// the section's end, for what follows.
    private func spooledSection(
        _ id: String, _ title: String, _ columns: [String], _ rows: SpooledText, after body: inout String
    ) throws(ReportError) {
        body += "<section id=\"\(id)\">\n<h2>\(title)</h2>\n"
        body +=
            "<div class=\"scroll\"><table class=\"events\">\n<thead><tr>"
            + columns.map { "<th>\(H.escape($0))</th>" }.joined() + "</tr></thead>\n<tbody>\n"
        try output.write(body)
        try rows.copy(into: output)
        body = "</tbody></table></div>\n</section>\n"
    }

    func cleanUp() {
        failures.remove()
        fallbacks.remove()
        referrers.remove()
        images.remove()
    }
}
