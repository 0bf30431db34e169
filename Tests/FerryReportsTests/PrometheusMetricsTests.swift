import Foundation
import RegexBuilder
@testable import Ledger
import OCIModel
import Testing

@testable import FerryReports

/// One parsed exposition sample.
struct Sample: Equatable {
    var name: String
    var labels: [String: String]
    var value: Double
}

/// Parses the text exposition format 0.0.4 strictly enough to reject what node_exporter would: every line is a
/// HELP, a TYPE or a sample; samples follow their family's TYPE; label values are properly escaped; no timestamps.
func parseExposition(_ text: String) throws -> (samples: [Sample], help: [String: String], types: [String: String]) {
    struct ParseError: Error, CustomStringConvertible {
        var line: String
        var reason: String
        var description: String { "\(reason): \(line)" }
    }
    var samples: [Sample] = []
    var help: [String: String] = [:]
    var types: [String: String] = [:]
    guard text.hasSuffix("\n") else { throw ParseError(line: "", reason: "no final line feed") }
    let name = /[a-zA-Z_:][a-zA-Z0-9_:]*/
    let helpLine = Regex {
        "# HELP "; Capture(name); " "; Capture(/(?:[^\\\n]|\\\\|\\n)*/)
    }
    let typeLine = Regex {
        "# TYPE "; Capture(name); " "; Capture(/counter|gauge|histogram|summary|untyped/)
    }
    let labelPair = Regex {
        Capture(/[a-zA-Z_][a-zA-Z0-9_]*/); "=\""; Capture(/(?:[^"\\\n]|\\\\|\\"|\\n)*/); "\""
    }
    let value = /[+-]?(?:[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?|Inf|NaN)/
    for line in text.dropLast().split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
        if let match = line.wholeMatch(of: helpLine) {
            let family = String(match.output.1)
            guard help[family] == nil else { throw ParseError(line: line, reason: "second HELP") }
            help[family] = String(match.output.2)
        } else if let match = line.wholeMatch(of: typeLine) {
            let family = String(match.output.1)
            guard types[family] == nil else { throw ParseError(line: line, reason: "second TYPE") }
            guard samples.allSatisfy({ $0.name != family }) else {
                throw ParseError(line: line, reason: "TYPE after samples")
            }
            types[family] = String(match.output.2)
        } else if let match = line.wholeMatch(
            of: Regex {
                Capture(name)
                Optionally {
                    "{"; Capture(/[^}]*/); "}"
                }
                " "
                Capture(value)
            })
        {
            var labels: [String: String] = [:]
            if let body = match.output.2, !body.isEmpty {
                var rest = Substring(body)
                while true {
                    guard let pair = rest.prefixMatch(of: labelPair) else {
                        throw ParseError(line: line, reason: "bad label")
                    }
                    let raw = String(pair.output.2)
                    labels[String(pair.output.1)] = raw.replacing("\\n", with: "\n").replacing("\\\"", with: "\"")
                        .replacing("\\\\", with: "\\")
                    rest = rest[pair.range.upperBound...]
                    if rest.isEmpty { break }
                    guard rest.first == "," else { throw ParseError(line: line, reason: "bad label separator") }
                    rest = rest.dropFirst()
                }
            }
            let number = String(match.output.3)
            let parsed =
                number.hasSuffix("Inf") ? (number.hasPrefix("-") ? -Double.infinity : Double.infinity) : Double(number)
            guard let parsed else { throw ParseError(line: line, reason: "bad value") }
            samples.append(Sample(name: String(match.output.1), labels: labels, value: parsed))
        } else {
            throw ParseError(line: line, reason: "not HELP, TYPE or a sample without timestamp")
        }
    }
    return (samples, help, types)
}

@Suite struct PrometheusMetricsTests {
    @Test func everyLineParsesAndEveryFamilyHasHelpAndType() async throws {
        let report = try await LedgerFixture.make().secondReport()
        let text = PrometheusMetrics.render(report, history: MetricsHistory(lastSuccess: at(60)))
        let parsed = try parseExposition(text)
        let families = Set(parsed.samples.map(\.name))
        #expect(families == Set(parsed.help.keys))
        #expect(families == Set(parsed.types.keys))
        for family in families where family.hasSuffix("_total") { #expect(parsed.types[family] == "counter") }
        #expect(
            families.isSuperset(of: [
                "ferry_images", "ferry_bytes_transferred_total", "ferry_drift_events", "ferry_failures",
                "ferry_run_duration_seconds", "ferry_run_exit_status", "ferry_run_timestamp_seconds",
                "ferry_last_success_timestamp_seconds", "ferry_run_interrupted",
            ]))
    }

    @Test func reportsTheLastRun() async throws {
        let report = try await LedgerFixture.make().secondReport()
        let text = PrometheusMetrics.render(
            report, history: MetricsHistory(lastSuccess: at(60), bytesTransferredBefore: 4_400_000))
        let samples = try parseExposition(text).samples
        func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
            samples.first { $0.name == name && $0.labels == labels }?.value
        }
        #expect(value("ferry_images", ["status": "drift"]) == 3)
        #expect(value("ferry_images", ["status": "failed"]) == 1)
        #expect(value("ferry_images", ["status": "updated"]) == 1)
        #expect(value("ferry_images", ["status": "pulled"]) == 1)
        #expect(value("ferry_images", ["status": "up-to-date"]) == 1)
        #expect(value("ferry_drift_events", ["kind": "image-id-drift"]) == 1)
        #expect(value("ferry_drift_events", ["kind": "tag-moved"]) == 1)
        #expect(value("ferry_drift_events", ["kind": "mirror-divergence"]) == 1)
        #expect(value("ferry_failures") == 1)
        #expect(value("ferry_pushes", ["status": "pushed"]) == 2)
        #expect(value("ferry_pushes", ["status": "up-to-date"]) == 1)
        #expect(value("ferry_pushes", ["status": "failed"]) == 1)
        #expect(value("ferry_fallbacks") == 1)
        #expect(value("ferry_run_bytes_transferred") == 9_005_296)
        #expect(value("ferry_bytes_transferred_total") == Double(4_400_000 + 9_005_296))
        #expect(value("ferry_run_duration_seconds") == 62.5)
        #expect(value("ferry_run_exit_status") == 3)
        #expect(value("ferry_run_timestamp_seconds") == at(3662.5).timeIntervalSince1970)
        #expect(value("ferry_run_interrupted") == 0)
        // The run had a failure, so the last success stays where the history says.
        #expect(value("ferry_last_success_timestamp_seconds") == at(60).timeIntervalSince1970)
        #expect(text.contains("\nferry_run_duration_seconds 62.5\n"))
        #expect(text.contains("\nferry_run_timestamp_seconds 1795951862.5\n"))
        #expect(text.contains("\nferry_images{status=\"up-to-date\"} 1\n"))
    }

    @Test func lastSuccessAdvancesOnlyForACompletedRunWithoutFailures() throws {
        let id = try runID("20261129T103000Z-0003")
        let clean = RunCounts(references: 2, pulled: 1, drift: 1, driftEvents: 1)
        func lastSuccess(_ run: RunRecord) throws -> Double? {
            let report = RunReport(run: run, observations: [], driftEvents: [])
            let samples = try parseExposition(
                PrometheusMetrics.render(report, history: MetricsHistory(lastSuccess: at(5)))
            )
            .samples
            return samples.first { $0.name == "ferry_last_success_timestamp_seconds" }?.value
        }
        #expect(
            try lastSuccess(runRecord(id, exit: 2, finished: at(30), counts: clean)) == at(30).timeIntervalSince1970)
        var failed = clean
        failed.failed = 1
        #expect(try lastSuccess(runRecord(id, exit: 3, counts: failed)) == at(5).timeIntervalSince1970)
        #expect(
            try lastSuccess(runRecord(id, status: .interrupted, exit: 130, counts: clean))
                == at(5).timeIntervalSince1970)
        #expect(
            try lastSuccess(runRecord(id, status: .dryRun, counts: clean, dryRun: true)) == at(5).timeIntervalSince1970)
        #expect(try lastSuccess(runRecord(id, status: .failed, exit: 74, counts: clean)) == at(5).timeIntervalSince1970)
        #expect(try lastSuccess(runRecord(id, exit: 1, counts: clean)) == at(5).timeIntervalSince1970)
        let pushFailed = RunReport(
            run: runRecord(id, exit: 0, finished: at(30), counts: clean), observations: [], driftEvents: [],
            targets: [TargetResult(reference: "a.io/x:1", target: "t", destination: "r/x:1", outcome: .failed)])
        #expect(
            PrometheusMetrics.render(pushFailed, history: MetricsHistory(lastSuccess: at(5)))
                .contains("\nferry_last_success_timestamp_seconds \(Int(at(5).timeIntervalSince1970))\n"))
        let interrupted = RunReport(
            run: runRecord(id, status: .interrupted, exit: 130), observations: [], driftEvents: [])
        #expect(
            PrometheusMetrics.render(interrupted, history: MetricsHistory()).contains("\nferry_run_interrupted 1\n"))
        #expect(
            PrometheusMetrics.render(interrupted, history: MetricsHistory())
                .contains("\nferry_last_success_timestamp_seconds 0\n"))
    }

    @Test func historyComesFromEarlierRunsComputedByTheReferenceStore() async throws {
        let ledger = try ReferenceStore.inMemory()
        let image = try ImageReference(parsing: "a.io/team/app:1")
        let digest = Digest.compute(.sha256, of: Array("m".utf8))
        // One run with one observation of `bytes`; finished at `finished` unless it was killed (nil).
        func run(
            _ command: String, started: Date, finished: Date?, bytes: Int64, failed: Bool = false, dryRun: Bool = false,
            status: RunStatus = .completed, exit: Int32 = 0
        ) async throws -> RunID {
            let id = try await ledger.beginRun(RunStart(startedAt: started, command: command, dryRun: dryRun))
            let result: Observation.Result =
                failed
                ? .failed(error: "boom")
                : .resolved(ResolvedManifest(digest: digest, mediaType: .ociManifest, imageID: dryRun ? nil : digest,
                                             servedBy: "https://a.io"))
            _ = try await ledger.record(
                Observation(runID: id, reference: image, dryRun: dryRun, bytesTransferred: bytes, result: result))
            if let finished {
                try await ledger.finishRun(id, RunFinish(finishedAt: finished, status: status, exitStatus: exit))
            }
            return id
        }
        _ = try await run("sync", started: at(90), finished: at(100), bytes: 10)
        _ = try await run("sync", started: at(190), finished: at(200), bytes: 20, failed: true, exit: 1)
        _ = try await run("sync", started: at(290), finished: at(300), bytes: 40, dryRun: true, status: .dryRun)
        _ = try await run("pull", started: at(340), finished: at(350), bytes: 0)
        _ = try await run("sync", started: at(360), finished: nil, bytes: 5)  // killed: counts what it recorded
        let current = try await run("sync", started: at(390), finished: at(400), bytes: 1000)

        let sync = MetricsHistory(try await ledger.runTotals(excluding: current, successCommand: "sync"))
        #expect(sync == MetricsHistory(lastSuccess: at(100), bytesTransferredBefore: 75))
        // Only runs of the same command can be the last success; bytes count for every run.
        let pull = MetricsHistory(try await ledger.runTotals(excluding: current, successCommand: "pull"))
        #expect(pull == MetricsHistory(lastSuccess: at(350), bytesTransferredBefore: 75))
        let fresh = try ReferenceStore.inMemory()
        let only = try await fresh.beginRun(RunStart(command: "sync"))
        #expect(MetricsHistory(try await fresh.runTotals(excluding: only, successCommand: "sync")) == MetricsHistory())
    }

    @Test func escapesLabelValues() {
        #expect(PrometheusMetrics.escapeLabelValue(#"a\b"c"# + "\nd") == #"a\\b\"c\nd"#)
        #expect(PrometheusMetrics.format(3) == "3")
        #expect(PrometheusMetrics.format(0.1) == "0.1")
        #expect(PrometheusMetrics.format(1_795_951_862.5) == "1795951862.5")
        #expect(PrometheusMetrics.format(.nan) == "NaN")
    }

    @Test func theParserRejectsMalformedExposition() {
        for bad in [
            "ferry_x 1",  // no final line feed
            "ferry_x{a=\"b} 1\n",
            "ferry_x{a=\"b\"} 1 1700000000\n",  // timestamp
            "# TYPE ferry_x gauge\n# TYPE ferry_x gauge\n",
            "ferry_x one\n",
            "ferry_x{a=\"b\\q\"} 1\n",
        ] {
            #expect(throws: (any Error).self, "\(bad)") { try parseExposition(bad) }
        }
    }
}
