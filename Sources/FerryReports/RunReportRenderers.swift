import Foundation
import Ledger
import OCIModel

/// Everything a run report says besides its image rows: small whatever the size of the run.
public struct RunReportHeader: Sendable, Hashable {
    /// The run.
    public var run: RunReport.RunInfo
    /// Totals.
    public var counts: RunReport.Counts
    /// The run's drift events, in the order they were stored.
    public var driftEvents: [DriftEntry]
    /// Pushes of references the run did not observe (a `ferry push` run).
    public var pushes: [TargetResult]
    /// True when some row has target results, so the image tables show a targets column.
    public var hasTargets: Bool
    /// Requests per host.
    public var hosts: [HostEntry]
    /// Referrers carried by the run's rows, by artifact type (for `ferry_referrers`).
    public var referrerTypes: [String: Int] = [:]

    /// Creates a header.
    public init(
        run: RunReport.RunInfo, counts: RunReport.Counts, driftEvents: [DriftEntry], pushes: [TargetResult],
        hasTargets: Bool, hosts: [HostEntry] = []
    ) {
        self.hosts = hosts
        self.run = run
        self.counts = counts
        self.driftEvents = driftEvents
        self.pushes = pushes
        self.hasTargets = hasTargets
    }
}

extension RunReport {
    /// The report's header.
    public var header: RunReportHeader {
        var header = RunReportHeader(
            run: run, counts: counts, driftEvents: driftEvents, pushes: pushes, hasTargets: hasTargets, hosts: hosts)
        header.referrerTypes = Self.referrerTypes(images.flatMap { $0.referrers?.items.map(\.artifactType) ?? [] })
        return header
    }

    /// True for a row that the failures section lists: it failed, or one of its pushes did.
    static func isFailure(_ row: ImageRow) -> Bool {
        row.outcome == .failed || row.targets.contains { $0.outcome == .failed }
    }

    /// True for a row that the fallbacks section lists: served only after skipping an endpoint.
    static func isFallback(_ row: ImageRow) -> Bool { row.outcome != .failed && !row.attempts.isEmpty }
}

/// Renders one format of a run report in a single pass over its rows (in report order), so that the rows of a
/// big run never need to be in memory together: sections are gathered while the rows stream by and put in
/// place at the end, when their counts are known.
protocol RunRowRenderer: AnyObject {
    /// Takes the next row.
    func add(_ row: ImageRow) throws(ReportError)
    /// Writes the whole document.
    func finish() throws(ReportError)
    /// Removes scratch files.
    func cleanUp()
    /// References served after a fallback, counted while rendering (the metrics' `ferry_fallbacks`).
    var fallbackCount: Int { get }
}

/// Where renderers may spill sections: files in a scratch directory, or memory only.
struct ScratchFiles: Sendable {
    /// The directory and a prefix for file names; nil keeps everything in memory.
    let base: String?

    /// A scratch path for `name`, or nil to keep everything in memory.
    func path(_ name: String) -> String? { base.map { $0 + "." + name } }

    /// Memory only.
    static let memory = ScratchFiles(base: nil)
}

// MARK: JSON

/// Streams the JSON document: everything but the rows comes from encoding the header with no rows, cut open where
/// the rows go, so the bytes are exactly what encoding the whole report at once gives.
final class JSONRunRenderer: RunRowRenderer {
    private let stream: JSONArrayStream
    private(set) var fallbackCount = 0

    init(header: RunReportHeader, output: any ReportOutput) throws(ReportError) {
        stream = try JSONArrayStream(
            document: try ReportJSON.encode(RunReport(header: header)), key: "images", output: output,
            what: "run report \(header.run.id)")
    }

    func add(_ row: ImageRow) throws(ReportError) {
        if RunReport.isFallback(row) { fallbackCount += 1 }
        try stream.add(row)
    }

    func finish() throws(ReportError) { try stream.finish() }

    func cleanUp() {}
}

extension RunReport {
    /// A report with the header's content and no rows.
    init(header: RunReportHeader) {
        schema = Self.schemaID
        schemaVersion = Self.currentSchemaVersion
        run = header.run
        counts = header.counts
        driftEvents = header.driftEvents
        images = []
        pushes = header.pushes
        hosts = header.hosts
    }
}

// MARK: Driving

enum RunReportRendering {
    /// A renderer for `format` writing to `output`.
    static func renderer(
        _ format: ReportFormat, header: RunReportHeader, output: any ReportOutput, scratch: ScratchFiles
    ) throws(ReportError) -> any RunRowRenderer {
        switch format {
        case .json: try JSONRunRenderer(header: header, output: output)
        case .markdown: MarkdownRunRenderer(header: header, output: output, scratch: scratch)
        case .html: HTMLRunRenderer(header: header, output: output, scratch: scratch)
        }
    }

    /// Renders an in-memory report.
    static func render(_ report: RunReport, _ format: ReportFormat) throws(ReportError) -> String {
        let output = StringOutput()
        let renderer = try renderer(format, header: report.header, output: output, scratch: .memory)
        for row in report.images { try renderer.add(row) }
        try renderer.finish()
        return output.text
    }
}

extension RunReport {
    /// Renders the report of run `id` in `format` into `output`, reading its rows from `ledger` one at a time;
    /// false when the ledger has no such run.
    public static func render(
        run id: RunID, from ledger: ReferenceStore, format: ReportFormat, to output: any ReportOutput,
        scratchDirectory: String? = nil
    ) async throws -> Bool {
        guard let basis = try await ledger.reportBasis(run: id) else { return false }
        let (header, kinds) = Self.header(basis)
        let scratch = ScratchFiles(
            base: scratchDirectory.map { $0 + "/.report-\(id.rawValue)-\(UInt32.random(in: 0...UInt32.max))" })
        let renderer = try RunReportRendering.renderer(format, header: header, output: output, scratch: scratch)
        defer { renderer.cleanUp() }
        try RunReportRows.ledger(ledger, id, driftKinds: kinds).forEach { try renderer.add($0) }
        try renderer.finish()
        return true
    }
}

extension RunReport {
    /// Counts of each artifact type.
    static func referrerTypes(_ types: [String]) -> [String: Int] {
        Dictionary(grouping: types, by: { $0 }).mapValues(\.count)
    }
}
