import Foundation
import Ledger
import OCIModel

/// What the metrics need from runs before this one: textfile metrics are rewritten whole after every run, so
/// values that outlive a run are carried forward from the reference store's run totals.
public struct MetricsHistory: Sendable, Hashable {
    /// The finish time of the last successful run before this one, or nil when there was none.
    public var lastSuccess: Date?
    /// Bytes transferred by all runs before this one.
    public var bytesTransferredBefore: Int64

    /// Creates a history from known values.
    public init(lastSuccess: Date? = nil, bytesTransferredBefore: Int64 = 0) {
        self.lastSuccess = lastSuccess
        self.bytesTransferredBefore = bytesTransferredBefore
    }

    /// The history from the reference store's run totals (the way a run's metrics get it).
    public init(_ totals: RunTotals) {
        self.init(lastSuccess: totals.lastSuccess, bytesTransferredBefore: totals.bytesTransferred)
    }

    /// A success is a real (not dry) run that completed with an exit status of 0 or 2 (drift alone is not a
    /// failure) and no failed reference or push (the same rule as ``ReferenceStore/runTotals(excluding:successCommand:)``).
    public static func isSuccess(_ report: RunReport) -> Bool { isSuccess(report.header) }

    /// ``isSuccess(_:)`` for a report's header.
    public static func isSuccess(_ header: RunReportHeader) -> Bool {
        header.run.status == .completed && !header.run.dryRun && header.counts.failed == 0
            && header.counts.targetsFailed == 0 && (header.run.exitStatus == 0 || header.run.exitStatus == 2)
    }
}

/// Renders a run's metrics in the Prometheus text exposition format 0.0.4, for node_exporter's textfile collector
/// (which reads `*.prom` files and rejects samples with timestamps, so there are none).
///
/// Every series is always present, zero when nothing happened, so that alerts and graphs never see gaps.
public enum PrometheusMetrics {
    /// The metric families and their samples for `report`, given the run history before it.
    public static func render(_ report: RunReport, history: MetricsHistory) -> String {
        render(report.header, fallbacks: report.fallbacks.count, history: history)
    }

    /// The metrics of a run from its report header and its number of fallbacks (counted while its rows streamed).
    public static func render(_ header: RunReportHeader, fallbacks: Int, history: MetricsHistory) -> String {
        var out = Exposition()
        let counts = header.counts
        let run = header.run

        out.family(
            "ferry_images", .gauge, "References attempted by the last run, by outcome.",
            Outcome.allCases.map { (["status": $0.rawValue], Double(counts.count($0))) })
        out.family(
            "ferry_references", .gauge, "References attempted by the last run.", [([:], Double(counts.references))])
        out.family(
            "ferry_failures", .gauge, "References that failed in the last run.", [([:], Double(counts.failed))])
        out.family(
            "ferry_drift_events", .gauge, "Drift events raised by the last run, by kind.",
            DriftKind.allCases.map { kind in
                (["kind": kind.rawValue], Double(header.driftEvents.filter { $0.kind == kind }.count))
            })
        out.family(
            "ferry_referrers", .gauge,
            "Referrers (signatures, SBOMs, attestations) carried by the last run, by artifact type.",
            header.referrerTypes.merging(Self.knownArtifactTypes.map { ($0, 0) }) { count, _ in count }
                .sorted { $0.key < $1.key }.map { (["artifact_type": $0.key], Double($0.value)) })
        out.family(
            "ferry_deferred", .gauge, "References the last run deferred because of a registry's rate limit.",
            [([:], Double(counts.deferred))])
        out.family(
            "ferry_not_asked", .gauge, "Recorded tags the last run did not ask for (immutable-tags).",
            [([:], Double(counts.notAsked))])
        // Per run: the file is rewritten after every run, so increase() over it sees each run's requests. These
        // families are per host and so present only when the run asked one.
        if !header.hosts.isEmpty {
            out.family(
                "ferry_requests_total", .counter, "HTTP requests of the last run, by host and kind.",
                header.hosts.flatMap { host in
                    host.requests.map { (["host": host.host, "kind": $0.kind], Double($0.count)) }
                })
            out.family(
                "ferry_rate_limited_total", .counter, "429 responses in the last run, by host.",
                header.hosts.map { (["host": $0.host], Double($0.throttled)) })
        }
        let quotas = header.hosts.compactMap { host in host.remaining.map { (["host": host.host], Double($0)) } }
        if !quotas.isEmpty {
            out.family(
                "ferry_rate_limit_remaining", .gauge,
                "What was left of each registry's advertised quota at the end of the last run.", quotas)
        }
        out.family(
            "ferry_fallbacks", .gauge,
            "References the last run could fetch only after skipping at least one endpoint.",
            [([:], Double(fallbacks))])
        out.family(
            "ferry_pushes", .gauge, "Pushes of references to target registries by the last run, by outcome.",
            TargetOutcome.allCases.map { outcome in
                (["status": outcome.rawValue], Double(counts.targets(outcome)))
            })
        out.family(
            "ferry_bytes_transferred_total", .counter, "Bytes transferred from registries by all runs of this store.",
            [([:], Double(history.bytesTransferredBefore + counts.bytesTransferred))])
        out.family(
            "ferry_run_bytes_transferred", .gauge, "Bytes transferred from registries by the last run.",
            [([:], Double(counts.bytesTransferred))])
        out.family(
            "ferry_run_duration_seconds", .gauge, "Wall time of the last run.",
            [([:], Double(run.durationMilliseconds ?? 0) / 1000)])
        out.family(
            "ferry_run_exit_status", .gauge,
            "Exit status of the last run (0 ok, 1 failures, 2 drift, 3 both, 74 I/O error, 130/143 interrupted).",
            [([:], Double(run.exitStatus ?? 0))])
        out.family(
            "ferry_run_timestamp_seconds", .gauge, "When the last run finished, in seconds since the Unix epoch.",
            [([:], (run.finishedAt ?? run.startedAt).timeIntervalSince1970)])
        out.family(
            "ferry_run_interrupted", .gauge, "1 when the last run was stopped by SIGINT or SIGTERM.",
            [([:], run.status == .interrupted ? 1 : 0)])
        let lastSuccess =
            MetricsHistory.isSuccess(header) ? (run.finishedAt ?? run.startedAt) : history.lastSuccess
        out.family(
            "ferry_last_success_timestamp_seconds", .gauge,
            "When the last run without failed references finished (0: never), in seconds since the Unix epoch.",
            [([:], lastSuccess?.timeIntervalSince1970 ?? 0)])
        return out.text
    }

    /// Artifact types `ferry_referrers` always has a series for (zero when none was carried), so alerts on a
    /// missing signature never see a gap: cosign's signature, SBOM and attestation types, SPDX, CycloneDX, in-toto
    /// and notation.
    public static let knownArtifactTypes = [
        ReferrerTags.cosignSignatureType, "application/vnd.dev.cosign.artifact.sbom.v1+json",
        "application/vnd.dsse.envelope.v1+json", "application/spdx+json", "application/vnd.cyclonedx+json",
        "application/vnd.in-toto+json", "application/vnd.cncf.notary.signature",
    ]

    /// A label value escaped as the exposition format requires: `\` → `\\`, `"` → `\"`, line feed → `\n`.
    public static func escapeLabelValue(_ value: String) -> String {
        var out = ""
        for character in value {
            switch character {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(character)
            }
        }
        return out
    }

    /// A sample value: integers without a fraction, others with up to three decimals; never exponent notation
    /// for the magnitudes ferry writes.
    static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        var text = String(format: "%.3f", value)
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
        return text
    }
}

/// Exposition text being built family by family.
private struct Exposition {
    enum Kind: String {
        case gauge, counter
    }

    private(set) var text = ""

    mutating func family(_ name: String, _ kind: Kind, _ help: String, _ samples: [([String: String], Double)]) {
        let helpText = help.replacing("\\", with: "\\\\").replacing("\n", with: "\\n")
        text += "# HELP \(name) \(helpText)\n# TYPE \(name) \(kind.rawValue)\n"
        for (labels, value) in samples {
            var line = name
            if !labels.isEmpty {
                line += "{"
                line += labels.sorted { $0.key < $1.key }
                    .map { "\($0.key)=\"\(PrometheusMetrics.escapeLabelValue($0.value))\"" }
                    .joined(separator: ",")
                line += "}"
            }
            text += line + " " + PrometheusMetrics.format(value) + "\n"
        }
    }
}
