import FerryTestSupport
import Foundation
import Ledger
import OCIModel
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `ferry sync` against real registries: plans from tag selectors, request counts, tag moves, drift of every
/// kind, partial failure.
@Suite(.demoRegistry) struct SyncIntegrationTests {
    /// The observations of the latest run, by reference.
    static func lastRun(_ workspace: FerryWorkspace) async throws -> (RunRecord, [String: ObservationRecord]) {
        try await workspace.withLedger { ledger in
            let run = try #require(try await ledger.latestRun())
            let observations = try await ledger.observations(run: run.id)
            return (run, Dictionary(observations.map { ($0.reference, $0) }, uniquingKeysWith: { first, _ in first }))
        }
    }

    /// "METHOD path" of the proxy's requests after the first `from`, sorted.
    static func requests(_ proxy: RegistryProxy, from: Int) -> [String] {
        proxy.requests.dropFirst(from).map { "\($0.method) \($0.path)" }.sorted()
    }

    /// The console line for `reference` (the outcome word and the reference start it).
    static func line(_ result: FerryResult, _ outcome: String, _ reference: String) -> String? {
        result.stdoutLines.first { $0.hasPrefix(Self.prefix(outcome, reference)) }
    }

    /// `<outcome padded to 11>  <reference>  `, how the console starts a reference's line.
    static func prefix(_ outcome: String, _ reference: String) -> String {
        outcome.padding(toLength: 11, withPad: " ", startingAt: 0) + "  " + reference + "  "
    }

    @Test func firstSyncPullsEverySelectedReferenceAndASecondOnlyChecksTags() async throws {
        let demo = try DemoRegistry.get()
        let proxy = try RegistryProxy(for: demo.registry)
        let host = proxy.host
        let pinned = try demo.image("demo/app", "1.0.0")
        let workspace = try FerryWorkspace()
        try workspace.writeConfig(plainHTTPList([host], images: [
            "- source: \(host)/demo/app", #"  include: ['^1\.\d+\.\d+$']"#, "  latest: 2",
            "- source: \(host)/demo/tool", #"  semver: ">=1.1.0""#,
            "- source: \(host)/demo/multi:1.0.0", "  platforms: [linux/arm64]",
            "- source: \(host)/demo/multi-docker", "  platforms: [linux/amd64, linux/arm/v7]",
            "- source: \(host)/demo/app@\(pinned.manifestDigest)",
        ]))
        let expected = [
            "\(host)/demo/app:1.1.0", "\(host)/demo/app:1.2.0", "\(host)/demo/tool:1.1.0", "\(host)/demo/multi:1.0.0",
            "\(host)/demo/multi-docker:latest", "\(host)/demo/app@\(pinned.manifestDigest)",
        ]

        let first = try await workspace.sync()
        #expect(first.status == 0, "\(first)")
        let (firstRun, firstObservations) = try await Self.lastRun(workspace)
        #expect(firstRun.status == .completed)
        #expect(firstObservations.keys.sorted() == expected.sorted())
        #expect(firstObservations.values.allSatisfy { $0.outcome == .pulled })
        for reference in expected { #expect(Self.line(first, "pulled", reference) != nil, "\(reference): \(first)") }
        #expect(first.stdoutLines.last?.hasPrefix(
            "run \(firstRun.id) completed: 6 references (6 pulled, 0 up-to-date, 0 updated, 0 failed, 0 drift); 0 drift events; ") == true)
        #expect(first.stdoutLines.last?.hasSuffix("; exit 0") == true)
        let multi = try demo.index("demo/multi", "1.0.0")
        #expect(firstObservations["\(host)/demo/multi:1.0.0"]?.platforms.map(\.digest) == [
            try #require(multi.child(for: FixturePlatform.linuxARM64)).manifestDigest
        ])
        let multiDocker = try demo.index("demo/multi-docker", "latest")
        #expect(firstObservations["\(host)/demo/multi-docker:latest"]?.platforms.map(\.platform) == [
            FixturePlatform.linuxAMD64, FixturePlatform.linuxARMv7,
        ])
        #expect(firstObservations["\(host)/demo/multi-docker:latest"]?.manifestDigest == multiDocker.digest)

        let before = proxy.requests.count
        let second = try await workspace.sync()
        #expect(second.status == 0, "\(second)")
        let (_, secondObservations) = try await Self.lastRun(workspace)
        #expect(secondObservations.keys.sorted() == expected.sorted())
        #expect(secondObservations.values.allSatisfy { $0.outcome == .upToDate })
        for reference in expected { #expect(Self.line(second, "up-to-date", reference) != nil) }
        // One tag listing per selector entry, one HEAD per tag, nothing for the pinned digest, no blob; for the
        // referrers (default all): one referrers-API probe (distribution 2.8 has none: 404) and one tag listing
        // per repository to look for fallback and cosign tags (the selector's listing where there is one).
        let requests = Self.requests(proxy, from: before)
        #expect(requests.filter { $0.contains("/referrers/") }.count == 1)
        #expect(requests.filter { !$0.contains("/referrers/") } == [
            "GET /v2/demo/app/tags/list", "GET /v2/demo/multi-docker/tags/list",
            "GET /v2/demo/multi/tags/list", "GET /v2/demo/tool/tags/list",
            "HEAD /v2/demo/app/manifests/1.1.0", "HEAD /v2/demo/app/manifests/1.2.0",
            "HEAD /v2/demo/multi-docker/manifests/latest", "HEAD /v2/demo/multi/manifests/1.0.0",
            "HEAD /v2/demo/tool/manifests/1.1.0",
        ])
        #expect(secondObservations["\(host)/demo/app@\(pinned.manifestDigest)"]?.servedBy == "store")
    }

    @Test func movedTagIsUpdatedAndAMovedImmutableTagIsDrift() async throws {
        let registry = try await RegistryServer.start()
        let directory = try TemporaryDirectory()
        let layout = try OCILayoutBuilder(path: directory.appending("layout"))
        let (a, b, c, d) = (
            try layout.image(.small(seed: 91)), try layout.image(.small(seed: 92)),
            try layout.image(.small(seed: 93, format: .docker)), try layout.image(.small(seed: 94, format: .docker))
        )
        let seeder = RegistrySeeder(registry)
        try await seeder.push(a, from: layout, to: "team/app", tag: "stable")
        try await seeder.push(b, from: layout, to: "team/app", tag: "next")
        try await seeder.push(c, from: layout, to: "team/fixed", tag: "stable")
        try await seeder.push(d, from: layout, to: "team/fixed", tag: "next")
        let host = registry.host
        let app = "\(host)/team/app:stable"
        let fixed = "\(host)/team/fixed:stable"
        let workspace = try FerryWorkspace()
        try workspace.writeConfig(plainHTTPList([host], images: [
            "- source: \(app)", "- source: \(fixed)", "  immutable: true",
        ]))
        #expect(try await workspace.sync().status == 0)

        try await seeder.moveTag("team/app", tag: "stable", to: b.manifestDigest)
        let moved = try await workspace.sync()
        #expect(moved.status == 0, "\(moved)")
        let (_, afterMove) = try await Self.lastRun(workspace)
        #expect(afterMove[app]?.outcome == .updated)
        #expect(afterMove[app]?.previousDigest == a.manifestDigest)
        #expect(afterMove[app]?.manifestDigest == b.manifestDigest)
        #expect(afterMove[fixed]?.outcome == .upToDate)
        #expect(Self.line(moved, "updated", app)?.contains(
            "sha256:\(a.manifestDigest.shortHex) -> sha256:\(b.manifestDigest.shortHex)") == true, "\(moved)")
        let history = try await workspace.withLedger { ledger in
            try await ledger.tagHistory(repository: try ImageReference(parsing: app).repository, tag: "stable")
        }
        #expect(history.map(\.manifestDigest) == [a.manifestDigest, b.manifestDigest])

        try await seeder.moveTag("team/fixed", tag: "stable", to: d.manifestDigest)
        let drifted = try await workspace.sync()
        #expect(drifted.status == 2, "\(drifted)")
        let (run, afterDrift) = try await Self.lastRun(workspace)
        #expect(afterDrift[fixed]?.outcome == .drift)
        #expect(afterDrift[app]?.outcome == .upToDate)
        let events = try await workspace.withLedger { try await $0.driftEvents(run: run.id) }
        #expect(events.map(\.kind) == [.tagMoved])
        #expect(events.first?.reference == fixed)
        #expect(events.first?.oldValue == c.manifestDigest)
        #expect(events.first?.newValue == d.manifestDigest)
        #expect(events.first?.endpoint == registry.baseURL)
        #expect(Self.line(drifted, "drift", fixed)?.contains(
            "tag-moved sha256:\(c.manifestDigest.shortHex) -> sha256:\(d.manifestDigest.shortHex)") == true, "\(drifted)")
        #expect(drifted.stdoutLines.last?.hasSuffix("; exit 2") == true)
    }

    @Test func aKnownDigestResolvingToAnotherImageIDIsDriftAndTheOldMappingIsKept() async throws {
        let demo = try DemoRegistry.get()
        let proxy = try RegistryProxy(for: demo.registry)
        let image = try demo.image("demo/tool", "1.0.0")
        let reference = try ImageReference(parsing: "\(proxy.host)/demo/tool:1.0.0")
        let workspace = try FerryWorkspace()
        try workspace.writeConfig(plainHTTPList([proxy.host], images: ["- source: \(reference)"]))
        // An earlier run recorded this manifest digest with another image ID.
        let fabricated = Digest.sha256(of: Array("an image ID this manifest never had".utf8))
        try TestFiles.makeDirectory(workspace.store)
        try await workspace.withLedger { ledger in
            let run = try await ledger.beginRun(RunStart(startedAt: Date(), command: "sync", dryRun: false))
            _ = try await ledger.record(Observation(
                runID: run, reference: reference,
                result: .resolved(ResolvedManifest(
                    digest: image.manifestDigest, mediaType: .dockerManifest, imageID: fabricated,
                    servedBy: "https://old-mirror.example"))))
            _ = try await ledger.finishRun(run, RunFinish(finishedAt: Date(), status: .completed, exitStatus: 0))
        }

        let result = try await workspace.sync()
        #expect(result.status == 2, "\(result)")
        let (run, observations) = try await Self.lastRun(workspace)
        #expect(observations[reference.string]?.outcome == .drift)
        let (events, mapping) = try await workspace.withLedger { ledger in
            (try await ledger.driftEvents(run: run.id),
             try await ledger.digest(repository: reference.repository, digest: image.manifestDigest))
        }
        #expect(events.map(\.kind) == [.imageIDDrift])
        #expect(events.first?.digest == image.manifestDigest)
        #expect(events.first?.oldValue == fabricated)
        #expect(events.first?.newValue == image.imageID)
        #expect(events.first?.endpoint == proxy.baseURL)
        // moby's rule: the old mapping stays.
        #expect(mapping?.imageID == fabricated)
        #expect(mapping?.servedBy == "https://old-mirror.example")
        #expect(Self.line(result, "drift", reference.string)?.contains(
            "image-id-drift sha256:\(fabricated.shortHex) -> sha256:\(image.imageID.shortHex)") == true, "\(result)")
    }

    @Test func aMirrorServingAStaleDigestIsMirrorDivergence() async throws {
        let demo = try DemoRegistry.get()
        let upstream = try RegistryProxy(for: demo.registry)
        let current = try demo.image("demo/app", "1.0.0")
        // The mirror still has an older image under the same tag.
        let mirror = try await RegistryServer.start()
        let directory = try TemporaryDirectory()
        let layout = try OCILayoutBuilder(path: directory.appending("layout"))
        let stale = try layout.image(.small(seed: 95))
        try await RegistrySeeder(mirror).push(stale, from: layout, to: "demo/app", tag: "1.0.0")
        let reference = "\(upstream.host)/demo/app:1.0.0"
        let workspace = try FerryWorkspace()
        try workspace.writeConfig(plainHTTPList([], images: ["- source: \(reference)", "  verify-upstream: true"], extra: """
              "\(upstream.host)":
                tls: plain-http
                mirrors: ["\(mirror.baseURL)"]

            """))

        let result = try await workspace.sync()
        #expect(result.status == 2, "\(result)")
        let (run, observations) = try await Self.lastRun(workspace)
        let observation = try #require(observations[reference])
        #expect(observation.outcome == .drift)
        #expect(observation.servedBy == mirror.baseURL)
        #expect(observation.manifestDigest == stale.manifestDigest)
        #expect(observation.upstream == UpstreamCheck(digest: current.manifestDigest, endpoint: upstream.baseURL))
        let events = try await workspace.withLedger { try await $0.driftEvents(run: run.id) }
        #expect(events.map(\.kind) == [.mirrorDivergence])
        #expect(events.first?.endpoint == mirror.baseURL)
        #expect(events.first?.upstreamEndpoint == upstream.baseURL)
        #expect(events.first?.oldValue == stale.manifestDigest)
        #expect(events.first?.newValue == current.manifestDigest)
        // The upstream check is one HEAD.
        #expect(upstream.requests.map { "\($0.method) \($0.path)" } == ["HEAD /v2/demo/app/manifests/1.0.0"])
    }

    @Test func oneUnreachableSourceFailsAloneAndIsRecorded() async throws {
        let demo = try DemoRegistry.get()
        let proxy = try RegistryProxy(for: demo.registry)
        let closed = try TestHTTPServer { _ in .text("") }
        let dead = "127.0.0.1:\(closed.port)"
        closed.stop()
        let workspace = try FerryWorkspace()
        try workspace.writeConfig(plainHTTPList([proxy.host, dead], images: [
            "- source: \(proxy.host)/demo/app:1.0.0", "- source: \(dead)/gone/app:1", "- source: \(proxy.host)/demo/tool:1.0.0",
            "- source: \(dead)/gone/listed", "  include: ['^1\\.']",
        ]))

        let result = try await workspace.sync(["--retry-delay", "0"])
        #expect(result.status == 1, "\(result)")
        let (run, observations) = try await Self.lastRun(workspace)
        #expect(run.status == .completed)
        #expect(run.exitStatus == 1)
        #expect(observations["\(proxy.host)/demo/app:1.0.0"]?.outcome == .pulled)
        #expect(observations["\(proxy.host)/demo/tool:1.0.0"]?.outcome == .pulled)
        let error = "Head \"http://\(dead)/v2/gone/app/manifests/1\": dial tcp \(dead): connect: connection refused"
        let failed = try #require(observations["\(dead)/gone/app:1"])
        #expect(failed.outcome == .failed)
        #expect(failed.error == error)
        #expect(failed.attempts == [EndpointAttempt(endpoint: "http://\(dead)", error: error, fellBack: true)])
        #expect(Self.line(result, "failed", "\(dead)/gone/app:1") == Self.prefix("failed", "\(dead)/gone/app:1") + error)
        // A selector entry whose tag list cannot be read fails as a whole, under its repository name.
        let listing = "listing tags: Get \"http://\(dead)/v2/gone/listed/tags/list\": dial tcp \(dead): connect: connection refused"
        let unlisted = try #require(observations["\(dead)/gone/listed"])
        #expect(unlisted.outcome == .failed)
        #expect(unlisted.error == listing)
        #expect(result.stdoutLines.filter { $0.contains("/gone/listed") } == [Self.prefix("failed", "\(dead)/gone/listed") + listing])
        #expect(result.stdoutLines.last?.contains("4 references (2 pulled, 0 up-to-date, 0 updated, 2 failed, 0 drift)") == true)
    }
}
