import Foundation
@testable import Ledger
import OCIModel
import Testing

@testable import FerryReports

@Suite struct RunReportTests {
    @Test func ordersRowsDriftFailedUpdatedPulledUpToDateThenByReference() async throws {
        let report = try await LedgerFixture.make().secondReport()
        #expect(report.images.map(\.outcome) == [.drift, .drift, .drift, .failed, .updated, .pulled, .upToDate])
        #expect(
            report.images.map(\.reference) == [
                "docker.io/library/alpine:3.20", "docker.io/library/redis:7", "example.org/app:1.0",
                "ghcr.io/org/tool:1.0", "docker.io/library/nginx:1.27", "quay.io/new/thing:2",
                "docker.io/library/busybox:1.36",
            ])
    }

    @Test func sortsByReferenceWithinAGroupWhateverTheRecordingOrder() throws {
        let id = try runID("20261129T103000Z-0001")
        let observations = [
            observationRecord(id: 1, run: id, reference: "b.io/x:1", outcome: .pulled),
            observationRecord(id: 2, run: id, reference: "a.io/x:1", outcome: .upToDate),
            observationRecord(id: 3, run: id, reference: "a.io/x:1", outcome: .pulled),
            observationRecord(id: 4, run: id, reference: "c.io/x:1", outcome: .failed, error: "boom"),
        ]
        let report = RunReport(run: runRecord(id), observations: observations, driftEvents: [])
        #expect(report.images.map(\.reference) == ["c.io/x:1", "a.io/x:1", "b.io/x:1", "a.io/x:1"])
        #expect(report.images.map(\.outcome) == [.failed, .pulled, .pulled, .upToDate])
    }

    @Test func carriesRunFactsCountsAndDriftEvents() async throws {
        let fixture = try await LedgerFixture.make()
        let report = try await fixture.secondReport()
        #expect(report.schema == "https://ferry.dev/schemas/run-report/v2.json")
        #expect(report.schemaVersion == 2)
        #expect(report.run.id == fixture.secondRun)
        #expect(report.run.command == "sync")
        #expect(report.run.status == .completed)
        #expect(report.run.exitStatus == 3)
        #expect(report.run.durationMilliseconds == 62_500)
        #expect(report.run.configFingerprint == "sha256:feed")
        #expect(report.run.toolVersion == "0.1.0")
        #expect(report.counts.references == 7)
        #expect(report.counts.drift == 3)
        #expect(report.counts.failed == 1)
        #expect(report.counts.driftEvents == 3)
        #expect(report.counts.bytesTransferred == 1200 + 2_000_000 + 7_000_000 + 4096)
        #expect(report.driftEvents.map(\.kind) == [.imageIDDrift, .tagMoved, .mirrorDivergence])
        #expect(report.counts.targetsPushed == 2)
        #expect(report.counts.targetsUpToDate == 1)
        #expect(report.counts.targetsFailed == 1)
    }

    @Test func rowsNameDigestsEndpointsAttemptsAndDriftKinds() async throws {
        let report = try await LedgerFixture.make().secondReport()
        let alpine = try #require(report.images.first { $0.reference == "docker.io/library/alpine:3.20" })
        #expect(alpine.driftKinds == [.imageIDDrift])
        #expect(alpine.digest == digest("A"))
        #expect(alpine.previousDigest == digest("A"))
        #expect(alpine.imageID == digest("config X"))
        #expect(alpine.servedBy == EndpointEntry(url: mirror, repository: "docker.io/library/alpine"))
        #expect(alpine.servedBy?.mirror == true)
        #expect(alpine.durationMilliseconds == 1500)

        let nginx = try #require(report.images.first { $0.reference == "docker.io/library/nginx:1.27" })
        #expect(nginx.outcome == .updated)
        #expect(nginx.previousDigest == digest("N1"))
        #expect(nginx.digest == digest("N2"))
        #expect(nginx.imageID == nil)
        #expect(nginx.platforms.map(\.platform) == ["linux/amd64", "linux/arm64/v8"])
        #expect(nginx.servedBy?.mirror == false)
        #expect(nginx.attempts.count == 1)
        #expect(nginx.attempts.first?.endpoint.url == mirror)
        #expect(nginx.attempts.first?.fellBack == true)
        #expect(report.fallbacks.map(\.reference) == ["docker.io/library/nginx:1.27"])

        let failed = try #require(report.failures.first)
        #expect(failed.outcome == .failed)
        #expect(failed.error == hostileError)
        #expect(failed.digest == nil)
        #expect(failed.servedBy == nil)
        #expect(failed.attempts.map(\.fellBack) == [true, false])

        let redis = try #require(report.images.first { $0.reference == "docker.io/library/redis:7" })
        #expect(redis.upstream == UpstreamEntry(digest: digest("F"), endpoint: hub))
    }

    @Test func attachesPushesToTheirRowsAndKeepsTheOthersApart() async throws {
        let fixture = try await LedgerFixture.make()
        let report = try await fixture.secondReport()
        func targets(_ reference: String) -> [TargetOutcome] {
            report.images.first { $0.reference == reference }?.targets.map(\.outcome) ?? []
        }
        #expect(report.hasTargets)
        #expect(targets("docker.io/library/busybox:1.36") == [.upToDate])
        #expect(targets("quay.io/new/thing:2") == [.pushed])
        #expect(targets("docker.io/library/nginx:1.27") == [.failed])
        #expect(targets("docker.io/library/alpine:3.20") == [])
        let nginx = try #require(report.images.first { $0.reference == "docker.io/library/nginx:1.27" })
        #expect(
            nginx.targets.first
                == TargetResult(
                    reference: "docker.io/library/nginx:1.27", target: "internal",
                    destination: "registry.internal:5000/mirror/docker.io/library/nginx:1.27", outcome: .failed,
                    digest: digest("N2"), error: "denied: requested access to the resource is denied"))
        // A reference pushed but not resolved by this run has no row; it is listed on its own.
        #expect(report.pushes.map(\.reference) == ["docker.io/library/old:1"])
        #expect(report.pushes.first?.bytesUploaded == 100)
        // A failed push makes its row a failure even though the pull worked.
        #expect(report.failures.map(\.reference) == ["ghcr.io/org/tool:1.0", "docker.io/library/nginx:1.27"])
        #expect(report.allTargets.count == 4)
        #expect(try await fixture.firstReport().hasTargets == false)
    }

    @Test func aReferenceObservedTwiceGetsItsPushesOnce() throws {
        let id = try runID("20261129T103000Z-0005")
        let push = TargetResult(reference: "a.io/x:1", target: "t", destination: "r.io/a.io/x:1", outcome: .pushed)
        let report = RunReport(
            run: runRecord(id),
            observations: [
                observationRecord(id: 1, run: id, reference: "a.io/x:1", outcome: .failed, error: "boom"),
                observationRecord(id: 2, run: id, reference: "a.io/x:1", outcome: .pulled),
            ],
            driftEvents: [], targets: [push])
        #expect(report.images.map(\.targets) == [[], [push]])
        #expect(report.pushes.isEmpty)
        #expect(report.counts.targetsPushed == 1)
    }

    @Test(arguments: [
        ("https://registry-1.docker.io", "docker.io/library/alpine", false),
        ("https://mirror.gcr.io", "docker.io/library/alpine", true),
        ("https://quay.io", "quay.io/org/x", false),
        ("http://localhost:5000", "localhost:5000/x", false),
        ("https://localhost:5001", "localhost:5000/x", true),
        ("https://Quay.IO/", "quay.io/org/x", false),
    ])
    func decidesWhetherAnEndpointIsAMirror(url: String, repository: String, mirror: Bool) {
        #expect(EndpointEntry.isMirror(url, repository: repository) == mirror)
    }

    @Test func loadReturnsNilForAnUnknownRun() async throws {
        let fixture = try await LedgerFixture.make()
        #expect(try await RunReport.load(run: try runID("20000101T000000Z-0000"), from: fixture.store) == nil)
    }

    @Test func inventoryListsTagsHistoryDigestsAndDrift() async throws {
        let inventory = try await LedgerFixture.make().inventory()
        #expect(inventory.schema == "https://ferry.dev/schemas/inventory-report/v1.json")
        #expect(inventory.generatedAt == at(7200))
        #expect(
            inventory.repositories.map(\.repository) == [
                "docker.io/library/alpine", "docker.io/library/busybox", "docker.io/library/nginx",
                "docker.io/library/redis", "example.org/app", "quay.io/new/thing",
            ])
        #expect(inventory.counts.repositories == 6)
        #expect(inventory.counts.tags == 6)
        #expect(inventory.counts.driftEvents == 3)
        let app = try #require(inventory.repositories.first { $0.repository == "example.org/app" })
        let tag = try #require(app.tags.first)
        #expect(tag.reference == "example.org/app:1.0")
        #expect(tag.digest == digest("D2"))
        #expect(tag.history.map(\.digest) == [digest("D"), digest("D2")])
        #expect(app.drift.map(\.kind) == [.tagMoved])
        let nginx = try #require(inventory.repositories.first { $0.repository == "docker.io/library/nginx" })
        // Both indexes map per platform; their children are also stored as image manifests of their own.
        #expect(
            nginx.digests.compactMap(\.platform).sorted() == [
                "linux/amd64", "linux/amd64", "linux/arm64/v8", "linux/arm64/v8",
            ])
        #expect(nginx.digests.count == 8)
        #expect(nginx.digests.first?.reference.hasPrefix("docker.io/library/nginx@sha256:") == true)
    }

    @Test func reportTimeFormatsAndParsesUTCWithMilliseconds() throws {
        #expect(ReportTime.iso8601(at(0)) == "2026-11-29T10:30:00.000Z")
        #expect(ReportTime.iso8601(at(62.25)) == "2026-11-29T10:31:02.250Z")
        #expect(ReportTime.iso8601(at(59.9996)) == "2026-11-29T10:31:00.000Z")
        #expect(ReportTime.parseISO8601("2026-11-29T10:31:02.250Z") == at(62.25))
        #expect(ReportTime.parseISO8601("2026-11-29T10:31:02Z") == at(62))
        #expect(ReportTime.parseISO8601("2026-11-29 10:31:02Z") == nil)
        #expect(ReportTime.parseISO8601("2026-13-29T10:31:02Z") == nil)
        #expect(ReportTime.display(at(62.25)) == "2026-11-29 10:31:02 UTC")
        #expect(ReportTime.duration(milliseconds: 950) == "950 ms")
        #expect(ReportTime.duration(milliseconds: 62_500) == "1 min 03 s")
        #expect(ReportTime.duration(milliseconds: 12_340) == "12.3 s")
        #expect(ReportTime.duration(milliseconds: 7_384_000) == "2 h 03 min")
        #expect(ReportTime.bytes(812) == "812 B")
        #expect(ReportTime.bytes(1536) == "1.50 KiB")
        #expect(ReportTime.bytes(12_900_000) == "12.3 MiB")
    }
}
