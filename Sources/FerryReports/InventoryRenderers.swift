import FerrySystem
import Foundation
import Ledger
import OCIModel

/// An inventory report's content besides its repositories: small whatever the size of the store.
public struct InventoryHeader: Sendable, Hashable {
    /// When the store was read.
    public var generatedAt: Date
    /// The reference store's own schema version.
    public var storeSchemaVersion: Int
    /// Totals.
    public var counts: InventoryReport.Counts
    /// Every drift event outside dry runs, oldest first.
    public var driftHistory: [DriftEntry]
    /// Digest mapping rows (one per platform for an index): the length of the HTML page's mappings table.
    public var digestMappings: Int
}

extension InventoryReport {
    /// The report's header.
    public var header: InventoryHeader {
        InventoryHeader(
            generatedAt: generatedAt, storeSchemaVersion: storeSchemaVersion, counts: counts,
            driftHistory: driftHistory, digestMappings: repositories.reduce(0) { $0 + $1.digests.count })
    }

    /// A report with the header's content and no repositories.
    init(header: InventoryHeader) {
        schema = Self.schemaID
        schemaVersion = Self.currentSchemaVersion
        generatedAt = header.generatedAt
        storeSchemaVersion = header.storeSchemaVersion
        counts = header.counts
        repositories = []
        driftHistory = header.driftHistory
    }

    /// The header of the store's inventory as the ledger summarises it, read at `now`.
    static func header(_ summary: InventorySummary, now: Date) -> InventoryHeader {
        InventoryHeader(
            generatedAt: now, storeSchemaVersion: summary.schemaVersion,
            counts: Counts(
                repositories: summary.repositories, tags: summary.tags, digests: summary.digests,
                driftEvents: summary.driftHistory.count),
            driftHistory: summary.driftHistory.map(DriftEntry.init), digestMappings: summary.digestMappings)
    }

    /// Renders the store's inventory in `format` into `output`, one repository at a time.
    public static func render(
        from ledger: ReferenceStore, format: ReportFormat, to output: any ReportOutput, now: Date = Date(),
        scratchDirectory: String? = nil
    ) async throws {
        let summary = try await ledger.inventorySummary()
        let header = Self.header(summary, now: now)
        let drift = Dictionary(grouping: summary.driftHistory, by: \.repository)
        let scratch = ScratchFiles(
            base: scratchDirectory.map { $0 + "/.inventory-\(UInt32.random(in: 0...UInt32.max))" })
        let renderer = try InventoryRendering.renderer(format, header: header, output: output, scratch: scratch)
        defer { renderer.cleanUp() }
        try ledger.forEachInventoryEntry { entry in
            try renderer.add(Repository(entry, drift: drift[entry.repository] ?? []))
        }
        try renderer.finish()
    }
}

/// Renders one format of an inventory in one pass over its repositories.
protocol InventoryRenderer: AnyObject {
    /// Takes the next repository (by name).
    func add(_ repository: InventoryReport.Repository) throws(ReportError)
    /// Writes what is left of the document.
    func finish() throws(ReportError)
    /// Removes scratch files.
    func cleanUp()
}

enum InventoryRendering {
    static func renderer(
        _ format: ReportFormat, header: InventoryHeader, output: any ReportOutput, scratch: ScratchFiles
    ) throws(ReportError) -> any InventoryRenderer {
        switch format {
        case .json: try JSONInventoryRenderer(header: header, output: output)
        case .markdown: try MarkdownInventoryRenderer(header: header, output: output)
        case .html: try HTMLInventoryRenderer(header: header, output: output, scratch: scratch)
        }
    }

    /// Renders an in-memory inventory.
    static func render(_ report: InventoryReport, _ format: ReportFormat) throws(ReportError) -> String {
        let output = StringOutput()
        let renderer = try renderer(format, header: report.header, output: output, scratch: .memory)
        for repository in report.repositories { try renderer.add(repository) }
        try renderer.finish()
        return output.text
    }
}

/// Streams the elements of one array of a JSON document: the document is encoded with that array empty and cut
/// open there, and each element is encoded on its own and indented to its depth, so the bytes are exactly those of
/// encoding the whole document at once (FerrySystem's ``JSONSpliceWriter`` does the splicing).
final class JSONArrayStream {
    private let writer: JSONSpliceWriter<ReportError>
    // One encoder for every element: making one per element costs more than encoding a small one.
    private let encoder = ReportJSON.encoder()

    /// Writes `document` (a top-level object encoded with `key` an empty array) up to that array.
    init(document: [UInt8], key: String, output: any ReportOutput, what: String) throws(ReportError) {
        let shell: JSONShell
        do { shell = try JSONShell(document, slots: [JSONShell.Slot(key)], layout: .pretty) } catch {
            throw .json(what: what, reason: "no \(key) array in the encoded document")
        }
        writer = JSONSpliceWriter(shell: shell) { bytes throws(ReportError) in
            try output.write(String(decoding: bytes, as: UTF8.self))
        }
        try writer.start()
    }

    /// Appends one element.
    func add(_ value: some Encodable) throws(ReportError) {
        try writer.add(try ReportJSON.encodeFragment(value, with: encoder))
    }

    /// Writes the rest of the document.
    func finish() throws(ReportError) {
        try writer.finish()
    }
}

final class JSONInventoryRenderer: InventoryRenderer {
    private let stream: JSONArrayStream

    init(header: InventoryHeader, output: any ReportOutput) throws(ReportError) {
        stream = try JSONArrayStream(
            document: try ReportJSON.encode(InventoryReport(header: header)), key: "repositories", output: output,
            what: "inventory report")
    }

    func add(_ repository: InventoryReport.Repository) throws(ReportError) { try stream.add(repository) }
    func finish() throws(ReportError) { try stream.finish() }
    func cleanUp() {}
}

/// The inventory as Markdown: counts, drift history, then one section per repository, written as they come.
final class MarkdownInventoryRenderer: InventoryRenderer {
    private let output: any ReportOutput
    private typealias M = MarkdownReport

    init(header: InventoryHeader, output: any ReportOutput) throws(ReportError) {
        self.output = output
        var out = MarkdownText()
        out.line("# ferry inventory")
        out.blank()
        let counts = header.counts
        out.line(
            "Read \(ReportTime.display(header.generatedAt)) · \(counts.repositories) repositories · "
                + "\(counts.tags) tags · \(counts.digests) digests · \(counts.driftEvents) drift events")
        M.driftList(header.driftHistory, title: "Drift history", into: &out)
        try output.write(out.take())
    }

    func add(_ repository: InventoryReport.Repository) throws(ReportError) {
        var out = MarkdownText()
        out.blank()
        out.line("## \(M.code(repository.repository))")
        out.blank()
        out.line("First stored \(ReportTime.display(repository.firstSeen)).")
        if !repository.tags.isEmpty {
            out.blank()
            out.table(
                header: ["Tag", "Digest", "Image ID", "First seen", "Last seen", "Served by", "History"],
                alignments: [.left, .left, .left, .left, .left, .left, .left],
                rows: repository.tags.map { tag in
                    [
                        M.code(tag.tag), M.code(tag.digest.description),
                        tag.imageID.map { M.code($0.description) } ?? "index",
                        ReportTime.display(tag.firstSeen), ReportTime.display(tag.lastSeen),
                        M.endpointText(tag.servedBy),
                        tag.history.count > 1
                            ? tag.history.map { "\(M.shortCode($0.digest)) (\($0.firstRunID) – \($0.lastRunID))" }
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
                        M.code(mapping.digest.description), mapping.platform.map(M.code) ?? "",
                        M.code(mapping.imageID.description), ReportTime.display(mapping.firstSeen),
                        M.code(mapping.firstRunID.rawValue), M.endpointText(mapping.servedBy),
                    ]
                })
        }
        try output.write(out.take())
    }

    func finish() {}
    func cleanUp() {}
}

/// The inventory page: counts, drift history, then sortable tables of tags and digest mappings. The tags table
/// is written as repositories come; the mappings table, which follows it, is gathered meanwhile.
final class HTMLInventoryRenderer: InventoryRenderer {
    private let header: InventoryHeader
    private let output: any ReportOutput
    private let digests: SpooledText
    private typealias H = HTMLReport

    init(header: InventoryHeader, output: any ReportOutput, scratch: ScratchFiles) throws(ReportError) {
        self.header = header
        self.output = output
        digests = SpooledText(scratchPath: scratch.path("html-digests"))
        var body = H.pageParts(title: "ferry inventory").prefix
        body += "<header>\n<h1>ferry inventory</h1>\n"
        let badge = header.counts.driftEvents > 0 ? "status-drift" : "status-ok"
        let events = header.counts.driftEvents == 1 ? "1 drift event" : "\(header.counts.driftEvents) drift events"
        body += "<p class=\"badges\"><span class=\"badge \(badge)\">\(events)</span></p>\n"
        body +=
            "<p class=\"facts\">read \(H.escape(ReportTime.display(header.generatedAt))) · store schema "
            + "\(header.storeSchemaVersion)</p>\n</header>\n<main>\n"
        let counts = header.counts
        body +=
            "<section id=\"summary\" aria-label=\"Summary\"><ul class=\"counts\">"
            + H.card("repositories", counts.repositories, "total") + H.card("tags", counts.tags, "total")
            + H.card("digests", counts.digests, "total")
            + H.card("drift events", counts.driftEvents, counts.driftEvents > 0 ? "drift" : "zero")
            + "</ul></section>\n"
        if !header.driftHistory.isEmpty {
            body += H.driftSection(header.driftHistory, title: "Drift history", withRun: true)
        }
        body += "<section id=\"tags\">\n<h2>Tags (\(counts.tags))</h2>\n"
        if counts.tags > 0 {
            body +=
                "<div class=\"scroll\"><table class=\"sortable\" id=\"tag-table\">\n<thead><tr>"
                + H.header("reference", "Reference") + H.header("digest", "Digest") + H.header("image", "Image ID")
                + H.header("first", "First seen") + H.header("last", "Last seen") + H.header("served", "Served by")
                + H.header("history", "History", numeric: true) + "</tr></thead>\n<tbody>\n"
        }
        try output.write(body)
    }

    func add(_ repository: InventoryReport.Repository) throws(ReportError) {
        var rows = ""
        for tag in repository.tags {
            rows +=
                "<tr class=\"row\">" + H.referenceCell(tag.reference) + H.digestCell(tag.digest)
                + (tag.imageID.map(H.digestCell) ?? "<td>index</td>")
                + H.timeCell(tag.firstSeen) + H.timeCell(tag.lastSeen) + H.endpointCell(tag.servedBy)
                + H.historyCell(tag.history) + "</tr>\n"
        }
        try output.write(rows)
        var mappings = ""
        for mapping in repository.digests {
            let name = String(mapping.reference.prefix { $0 != "@" })
            mappings +=
                "<tr class=\"row\">" + "<td class=\"ref\" data-value=\"\(H.escape(mapping.reference))\">"
                + "<code>\(H.escape(name))</code>@" + H.digestMarkup(mapping.digest) + "</td>"
                + "<td>\(H.escape(mapping.platform ?? ""))</td>" + H.digestCell(mapping.imageID)
                + (mapping.childDigest.map(H.digestCell) ?? "<td></td>") + H.timeCell(mapping.firstSeen)
                + "<td class=\"nowrap\"><code>\(H.escape(mapping.firstRunID.rawValue))</code></td>"
                + H.endpointCell(mapping.servedBy)
                + "</tr>\n"
        }
        try digests.write(mappings)
    }

    func finish() throws(ReportError) {
        var body = header.counts.tags > 0 ? "</tbody></table></div>\n" : ""
        body += "</section>\n"
        body += "<section id=\"digests\">\n<h2>Digest mappings (\(header.digestMappings))</h2>\n"
        if header.digestMappings > 0 {
            body +=
                "<div class=\"scroll\"><table class=\"sortable\" id=\"digest-table\">\n<thead><tr>"
                + H.header("reference", "Reference") + H.header("platform", "Platform") + H.header("image", "Image ID")
                + H.header("child", "Child manifest") + H.header("first", "First seen") + H.header("run", "Run")
                + H.header("served", "Served by") + "</tr></thead>\n<tbody>\n"
            try output.write(body)
            try digests.copy(into: output)
            body = "</tbody></table></div>\n"
        }
        body += "</section>\n</main>\n" + H.pageParts(title: "ferry inventory").suffix
        try output.write(body)
    }

    func cleanUp() { digests.remove() }
}
