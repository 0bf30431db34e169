import FerryTestSupport
import Foundation
@testable import Ledger
import OCIModel
import Testing

@testable import FerryReports

/// Referrers in run reports (issue 9): the v2 JSON field, the Markdown and HTML sections with the platform note for
/// an index, `ferry_referrers{artifact_type}`, and the drift kind `referrer-removed`.
@Suite struct ReferrerReportTests {
    static func referrer(_ label: String, of subject: String, type: String, source: ReferrerSource = .fallbackTag)
        -> Referrer
    {
        Referrer(
            subject: digest(subject), digest: digest(label), mediaType: .ociManifest, size: 400, artifactType: type,
            source: source)
    }

    /// Two runs of `nginx:1.27` (an index): the first finds a signature, an SBOM and an attestation, the second no
    /// longer finds the attestation.
    static func store() async throws -> (ReferenceStore, RunID, RunID) {
        let store = try ReferenceStore.inMemory()
        let referrers = [
            referrer("sig", of: "N1", type: "application/vnd.dev.cosign.artifact.sig.v1+json"),
            referrer("sbom", of: "N1amd64", type: "application/spdx+json", source: .api),
            referrer("att", of: "N1", type: "application/vnd.in-toto+json", source: .cosignTag),
        ]
        var runs: [RunID] = []
        for (step, found) in [referrers, Array(referrers.prefix(2))].enumerated() {
            let run = try await store.beginRun(RunStart(startedAt: at(Double(step * 100)), command: "sync"))
            var manifest = index("N1", children: ["amd64"])
            manifest.referrers = found
            _ = try await store.record(
                Observation(
                    runID: run, reference: try ImageReference(parsing: "nginx:1.27"),
                    observedAt: at(Double(step * 100 + 1)), result: .resolved(manifest)))
            _ = try await store.finishRun(
                run, RunFinish(finishedAt: at(Double(step * 100 + 2)), status: .completed, exitStatus: Int32(step * 2)))
            runs.append(run)
        }
        return (store, runs[0], runs[1])
    }

    @Test func rowsCarryTheirReferrersInEveryFormat() async throws {
        let (store, first, _) = try await Self.store()
        let report = try #require(try await RunReport.load(run: first, from: store))
        let row = try #require(report.images.first)
        let referrers = try #require(row.referrers)
        #expect(referrers.summary == "3 referrers: 1 signature, 1 SBOM, 1 attestation")
        #expect(referrers.kinds == ["signature": 1, "sbom": 1, "attestation": 1])
        #expect(referrers.signsWholeIndex)
        #expect(referrers.items.map(\.foundBy) == [.fallbackTag, .api, .cosignTag])
        #expect(referrers.items[1].subject == digest("N1amd64"))

        let schema = SchemaValidator(root: try JSONValue.parse(ReportSchema.runReportV2))
        #expect(try schema.validate(try JSONValue.parse(try ReportJSON.encode(report))) == [])
        #expect(try ReportJSON.decodeRunReport(try ReportJSON.encode(report)) == report)

        let markdown = MarkdownReport.render(report)
        #expect(markdown.contains("## Referrers (1 images)"))
        #expect(markdown.contains("- `docker.io/library/nginx:1.27`: 3 referrers: 1 signature, 1 SBOM, 1 attestation"))
        #expect(markdown.contains("signatures of this index sign every platform it lists"))
        let html = HTMLReport.render(report)
        #expect(html.contains("<h2>Referrers (1 images)</h2>"))
        #expect(html.contains("3 referrers: 1 signature, 1 SBOM, 1 attestation"))

        let metrics = PrometheusMetrics.render(report, history: MetricsHistory())
        #expect(metrics.contains("ferry_referrers{artifact_type=\"application/spdx+json\"} 1\n"))
        #expect(metrics.contains("ferry_referrers{artifact_type=\"application/vnd.in-toto+json\"} 1\n"))
        #expect(metrics.contains("ferry_referrers{artifact_type=\"application/vnd.cyclonedx+json\"} 0\n"))
    }

    @Test func aRemovedReferrerIsADriftEventOfTheSecondRun() async throws {
        let (store, _, second) = try await Self.store()
        let report = try #require(try await RunReport.load(run: second, from: store))
        #expect(report.driftEvents.map(\.kind) == [.referrerRemoved])
        #expect(report.driftEvents.first?.oldValue == digest("att"))
        #expect(report.driftEvents.first?.valueName == "referrer → subject")
        #expect(report.images.first?.outcome == .drift)
        #expect(report.images.first?.referrers?.count == 2)
        let schema = SchemaValidator(root: try JSONValue.parse(ReportSchema.runReportV2))
        #expect(try schema.validate(try JSONValue.parse(try ReportJSON.encode(report))) == [])
        // The audit view lists it in the drift history, and its schema knows the kind.
        let inventory = try await InventoryReport.load(from: store, now: at(1000))
        let inventorySchema = SchemaValidator(root: try JSONValue.parse(ReportSchema.inventoryReportV1))
        #expect(try inventorySchema.validate(try JSONValue.parse(try ReportJSON.encode(inventory))) == [])
        #expect(MarkdownReport.render(inventory).contains("referrer-removed"))
    }

    @Test func theStreamedReportsFromTheLedgerCarryThemToo() async throws {
        let (store, first, _) = try await Self.store()
        let directory = try TemporaryDirectory()
        let written = try #require(
            try await ReportWriter(storeDirectory: directory.path).write(run: first, from: store, metrics: MetricsHistory()))
        let json = try JSONValue.parse(try TestFiles.read(try #require(written.files[.json])))
        let schema = SchemaValidator(root: try JSONValue.parse(ReportSchema.runReportV2))
        #expect(try schema.validate(json) == [])
        let markdown = String(decoding: try TestFiles.read(try #require(written.files[.markdown])), as: UTF8.self)
        #expect(markdown.contains("3 referrers: 1 signature, 1 SBOM, 1 attestation"))
        let metrics = String(decoding: try TestFiles.read(try #require(written.metrics)), as: UTF8.self)
        #expect(metrics.contains("ferry_referrers{artifact_type=\"application/vnd.dev.cosign.artifact.sig.v1+json\"} 1\n"))
    }
}
