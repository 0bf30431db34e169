import Foundation
import FerrySystem
import Ledger
import OCIModel

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
    public func write(_ report: RunReport, metrics history: MetricsHistory?) throws -> WrittenReports {
        try write(report.header, rows: .memory(report.images), metrics: history)
    }

    /// ``write(_:metrics:)`` for a run read from `ledger` row by row: memory does not grow with the run's size.
    /// Returns nil when the ledger has no such run.
    @discardableResult
    public func write(run id: RunID, from ledger: ReferenceStore, metrics history: MetricsHistory?) async throws
        -> WrittenReports?
    {
        guard let basis = try await ledger.reportBasis(run: id) else { return nil }
        var (header, driftKinds) = RunReport.header(basis)
        let referrers = try await ledger.referrers(run: id)
        header.referrerTypes = RunReport.referrerTypes(referrers.values.flatMap { $0.map(\.artifactType) })
        return try write(
            header, rows: .ledger(ledger, id, driftKinds: driftKinds, referrers: referrers), metrics: history)
    }

    /// Renders every format into temporary files in one pass over the rows, and only then puts them in place:
    /// a failure leaves no half-updated set of files behind.
    func write(_ header: RunReportHeader, rows: RunReportRows, metrics history: MetricsHistory?) throws
        -> WrittenReports
    {
        let id = header.run.id
        do { try FileSystem.createDirectory(reportsDirectory) } catch { throw ReportError.io(error) }
        let suffix = ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let scratch = ScratchFiles(base: join(reportsDirectory, ".\(id.rawValue)\(suffix)"))
        var outputs: [(ReportFormat, FileOutput)] = []
        var renderers: [any RunRowRenderer] = []
        func abandon() {
            for renderer in renderers { renderer.cleanUp() }
            for (_, output) in outputs {
                output.discard()
                try? FileSystem.removeFile(output.path)
            }
        }
        do {
            for format in Self.formats {
                let output = try FileOutput(path: path(of: id, format) + suffix)
                outputs.append((format, output))
                renderers.append(try RunReportRendering.renderer(format, header: header, output: output, scratch: scratch))
            }
            try rows.forEach { row in for renderer in renderers { try renderer.add(row) } }
            for renderer in renderers { try renderer.finish() }
            for (_, output) in outputs { try output.finish() }
        } catch {
            abandon()
            throw error
        }
        for renderer in renderers { renderer.cleanUp() }
        let fallbacks = renderers.first?.fallbackCount ?? 0

        var result = WrittenReports(files: [:], latestUpdated: false, metrics: nil, extraFiles: [:])
        do throws(FileSystemError) {
            for (format, output) in outputs {
                try FileSystem.rename(output.path, to: path(of: id, format))
                result.files[format] = path(of: id, format)
            }
            try FileSystem.sync(reportsDirectory)
            result.latestUpdated = true
            for format in Self.formats {
                let link = join(reportsDirectory, "latest.\(format.fileExtension)")
                // Within one second the IDs' suffixes are random: the run written last is the newer one then, as
                // runs of a store never overlap (the lock) and reports are written as a run ends.
                if let current = Self.linkedRun(link), current.startSecond > id.startSecond {
                    result.latestUpdated = false
                    continue
                }
                try Self.replaceSymlink(link, target: "\(id.rawValue).\(format.fileExtension)")
            }
            if let history {
                let text = PrometheusMetrics.render(header, fallbacks: fallbacks, history: history)
                try FileSystem.writeAtomically(Array(text.utf8), to: metricsPath)
                result.metrics = metricsPath
            }
            if let extraDirectory {
                try FileSystem.createDirectory(extraDirectory)
                for format in Self.formats {
                    let copy = join(extraDirectory, "\(id.rawValue).\(format.fileExtension)")
                    try FileSystem.copyAtomically(from: path(of: id, format), to: copy)
                    result.extraFiles[format] = copy
                }
            }
        } catch {
            for (_, output) in outputs { try? FileSystem.removeFile(output.path) }
            throw ReportError.io(error)
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

/// The rows of a run report, read once, in report order.
enum RunReportRows {
    /// Rows already in memory (tests, small reports).
    case memory([ImageRow])
    /// Rows read from the ledger one at a time, with the run's drift kinds per observation.
    case ledger(ReferenceStore, RunID, driftKinds: [Int64: [DriftKind]], referrers: [Int64: [Referrer]] = [:])

    func forEach(_ body: (ImageRow) throws -> Void) throws {
        switch self {
        case .memory(let rows):
            for row in rows { try body(row) }
        case .ledger(let ledger, let run, let kinds, let referrers):
            try ledger.forEachReportRow(run: run) { record, pushes in
                var row = ImageRow(record, driftKinds: kinds[record.id] ?? [], targets: pushes.map(TargetResult.init))
                if let found = referrers[record.id] {
                    row.referrers = ReferrersEntry(found, platformFiltered: row.mediaType?.isIndex == true)
                }
                try body(row)
            }
        }
    }
}

extension RunReport {
    /// The header of a run report from the ledger's basis, and the drift kinds per observation its rows show.
    static func header(_ basis: RunReportBasis) -> (RunReportHeader, [Int64: [DriftKind]]) {
        let header = RunReportHeader(
            run: RunInfo(basis.run), counts: Counts(basis.run.counts, pushCounts: basis.pushCounts),
            driftEvents: basis.driftEvents.map(DriftEntry.init), pushes: basis.unobservedPushes.map(TargetResult.init),
            hasTargets: basis.rowsHavePushes, hosts: basis.hosts.map(HostEntry.init))
        let kinds = Dictionary(grouping: basis.driftEvents, by: \.observationID).mapValues { $0.map(\.kind) }
        return (header, kinds)
    }
}
