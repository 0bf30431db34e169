/// A report's file format.
public enum ReportFormat: String, Sendable, Hashable, CaseIterable {
    /// JSON following the versioned schema.
    case json
    /// A Markdown summary.
    case markdown = "md"
    /// One self-contained HTML page.
    case html

    /// The file name extension, without the dot.
    public var fileExtension: String { rawValue }

    /// Renders a run report in this format.
    public func render(_ report: RunReport) throws(ReportError) -> [UInt8] {
        switch self {
        case .json: try ReportJSON.encode(report)
        case .markdown: Array(MarkdownReport.render(report).utf8)
        case .html: Array(HTMLReport.render(report).utf8)
        }
    }

    /// Renders an inventory report in this format.
    public func render(_ report: InventoryReport) throws(ReportError) -> [UInt8] {
        switch self {
        case .json: try ReportJSON.encode(report)
        case .markdown: Array(MarkdownReport.render(report).utf8)
        case .html: Array(HTMLReport.render(report).utf8)
        }
    }

    /// Renders a changes report in this format.
    public func render(_ report: ChangesReport) throws(ReportError) -> [UInt8] {
        switch self {
        case .json: try ReportJSON.encode(report)
        case .markdown: Array(MarkdownReport.render(report).utf8)
        case .html: Array(HTMLReport.render(report).utf8)
        }
    }
}
