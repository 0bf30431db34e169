import Foundation
import FerrySystem
import Ledger

#if canImport(Glibc)
    import Glibc
#endif

/// Where ``ReportWriter/write(_:metrics:)`` put things.
public struct WrittenReports: Sendable, Hashable {
    /// The run's report files in `DIR/reports/`, by format.
    public var files: [ReportFormat: String]
    /// True when `latest.*` now point at this run (false when a newer run's reports were already there).
    public var latestUpdated: Bool
    /// `DIR/metrics.prom`, when metrics were written.
    public var metrics: String?
    /// The copies in the extra report directory, by format.
    public var extraFiles: [ReportFormat: String]
}

/// Writes a run's reports into the store and, optionally, into an extra directory (`--report-dir`).
///
/// Every file is replaced atomically (temporary file in the same directory, fsync, rename, fsync of the
/// directory), so a reader such as node_exporter or a web server sees the old or the new file, never a torn one.
public struct ReportWriter: Sendable {
    /// The store directory (`--store`).
    public let storeDirectory: String
    /// An extra directory that receives copies of the three report files, created when missing.
    public let extraDirectory: String?

    /// Creates a writer for the store at `storeDirectory`.
    public init(storeDirectory: String, extraDirectory: String? = nil) {
        self.storeDirectory = storeDirectory
        self.extraDirectory = extraDirectory
    }

    /// The formats written for every run.
    public static let formats: [ReportFormat] = [.json, .markdown, .html]

    /// `DIR/reports`.
    public var reportsDirectory: String { join(storeDirectory, "reports") }

    /// `DIR/metrics.prom`.
    public var metricsPath: String { join(storeDirectory, "metrics.prom") }

    /// The report file of `run` in `format` inside `DIR/reports`.
    public func path(of run: RunID, _ format: ReportFormat) -> String {
        join(reportsDirectory, "\(run.rawValue).\(format.fileExtension)")
    }

    /// Writes `DIR/reports/<run-id>.{json,md,html}`, points `latest.*` at them unless a newer run's reports are
    /// already linked, writes `DIR/metrics.prom` when `history` is given, and copies the three files into the
    /// extra directory.
    @discardableResult
    public func write(_ report: RunReport, metrics history: MetricsHistory?) throws(ReportError) -> WrittenReports {
        // Render everything first: a rendering failure then leaves no half-updated set of files behind.
        var rendered: [(ReportFormat, [UInt8])] = []
        for format in Self.formats { rendered.append((format, try format.render(report))) }
        let metricsText = history.map { PrometheusMetrics.render(report, history: $0) }

        let id = report.run.id
        var result = WrittenReports(files: [:], latestUpdated: false, metrics: nil, extraFiles: [:])
        do throws(FileSystemError) {
            try FileSystem.createDirectory(reportsDirectory)
            for (format, bytes) in rendered {
                let path = path(of: id, format)
                try FileSystem.writeAtomically(bytes, to: path)
                result.files[format] = path
            }
            result.latestUpdated = true
            for format in Self.formats {
                let link = join(reportsDirectory, "latest.\(format.fileExtension)")
                if let current = Self.linkedRun(link), current > id {
                    result.latestUpdated = false
                    continue
                }
                try Self.replaceSymlink(link, target: "\(id.rawValue).\(format.fileExtension)")
            }
            if let metricsText {
                try FileSystem.writeAtomically(Array(metricsText.utf8), to: metricsPath)
                result.metrics = metricsPath
            }
            if let extraDirectory {
                try FileSystem.createDirectory(extraDirectory)
                for (format, bytes) in rendered {
                    let path = join(extraDirectory, "\(id.rawValue).\(format.fileExtension)")
                    try FileSystem.writeAtomically(bytes, to: path)
                    result.extraFiles[format] = path
                }
            }
        } catch {
            throw .io(error)
        }
        return result
    }

    /// The run a `latest.*` link points to, or nil when it is missing, not a link, or names no run.
    static func linkedRun(_ link: String) -> RunID? {
        var buffer = [CChar](repeating: 0, count: 4096)
        let count = readlink(link, &buffer, buffer.count - 1)
        guard count > 0 else { return nil }
        let target = String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard let dot = target.firstIndex(of: ".") else { return nil }
        return RunID(rawValue: String(target[..<dot]))
    }

    /// Points `link` at `target` (relative, so the store directory can move) by renaming a fresh link over it.
    static func replaceSymlink(_ link: String, target: String) throws(FileSystemError) {
        let temporary = link + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        guard symlink(target, temporary) == 0 else { throw .errno("symlink", temporary) }
        do {
            try FileSystem.rename(temporary, to: link)
        } catch {
            try? FileSystem.removeFile(temporary)
            throw error
        }
        try FileSystem.syncParent(of: link)
    }

    private func join(_ directory: String, _ name: String) -> String {
        directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }
}
