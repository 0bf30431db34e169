import Foundation
import OCIModel
import Testing

@testable import Ledger

@Suite struct RecordTests {
    /// A sequence of observations of one tag and what each must come out as.
    struct TagCase: Sendable, CustomTestStringConvertible {
        var name: String
        var immutable: Bool
        var manifests: [String]
        var outcomes: [Outcome]
        var driftKinds: [DriftKind]
        var testDescription: String { name }
    }

    @Test(arguments: [
        TagCase(name: "first observation", immutable: false, manifests: ["A"], outcomes: [.pulled], driftKinds: []),
        TagCase(
            name: "same again", immutable: false, manifests: ["A", "A"], outcomes: [.pulled, .upToDate],
            driftKinds: []),
        TagCase(
            name: "tag moved", immutable: false, manifests: ["A", "B"], outcomes: [.pulled, .updated],
            driftKinds: []),
        TagCase(
            name: "tag moved back", immutable: false, manifests: ["A", "B", "A"],
            outcomes: [.pulled, .updated, .updated], driftKinds: []),
        TagCase(
            name: "immutable unchanged", immutable: true, manifests: ["A", "A"], outcomes: [.pulled, .upToDate],
            driftKinds: []),
        TagCase(
            name: "immutable moved", immutable: true, manifests: ["A", "B"], outcomes: [.pulled, .drift],
            driftKinds: [.tagMoved]),
    ])
    func tagOutcomes(_ test: TagCase) async throws {
        let harness = try await Harness()
        var outcomes: [Outcome] = []
        for (step, manifest) in test.manifests.enumerated() {
            let result = try await harness.record(
                "alpine:3.20", image(manifest, id: "config " + manifest), at: at(Double(step + 1)),
                immutable: test.immutable)
            outcomes.append(result.outcome)
        }
        #expect(outcomes == test.outcomes)
        #expect(try await harness.store.driftEvents(run: harness.run).map(\.kind) == test.driftKinds)
        #expect(try await harness.tag("alpine:3.20")?.manifestDigest == digest(test.manifests.last ?? ""))
    }

    @Test func movedTagReportsPreviousDigestAndKeepsHistory() async throws {
        let harness = try await Harness()
        try await harness.record("alpine:3.20", image("A", id: "config A"), at: at(10))
        let again = try await harness.record("alpine:3.20", image("A", id: "config A"), at: at(20))
        let moved = try await harness.record("alpine:3.20", image("B", id: "config B"), at: at(30))

        #expect(again.previousDigest == digest("A"))
        #expect(moved.outcome == .updated)
        #expect(moved.previousDigest == digest("A"))
        #expect(moved.driftEvents.isEmpty)

        let tag = try #require(try await harness.tag("alpine:3.20"))
        #expect(tag.manifestDigest == digest("B"))
        #expect(tag.imageID == digest("config B"))
        #expect(tag.firstSeen == at(10))
        #expect(tag.lastSeen == at(30))
        #expect(tag.lastChecked == at(30))
        #expect(tag.servedBy == mirror)
        #expect(tag.repository == "docker.io/library/alpine")

        let history = try await harness.store.tagHistory(
            repository: try ref("alpine").repository, tag: "3.20")
        #expect(history.map(\.manifestDigest) == [digest("A"), digest("B")])
        #expect(history.map(\.firstSeen) == [at(10), at(30)])
        #expect(history.map(\.lastSeen) == [at(20), at(30)])
        // The old digest's mapping is still there for audits and for `prune --keep`.
        #expect(try await harness.mapping("alpine", "A")?.imageID == digest("config A"))
    }

    @Test func immutableTagMoveIsDriftAndStillMoves() async throws {
        let harness = try await Harness()
        try await harness.record("alpine:3.20", image("A", id: "config A"), immutable: true)
        let moved = try await harness.record("alpine:3.20", image("B", id: "config B"), at: at(5), immutable: true)

        #expect(moved.outcome == .drift)
        #expect(moved.previousDigest == digest("A"))
        let event = try #require(moved.driftEvents.first)
        #expect(moved.driftEvents.count == 1)
        #expect(event.kind == .tagMoved)
        #expect(event.oldValue == digest("A"))
        #expect(event.newValue == digest("B"))
        #expect(event.digest == digest("B"))
        #expect(event.endpoint == mirror)
        #expect(event.reference == "docker.io/library/alpine:3.20")
        #expect(event.runID == harness.run)
        #expect(event.occurredAt == at(5))
        #expect(event.dryRun == false)
        #expect(try await harness.store.driftEvents(run: harness.run) == [event])
        #expect(try await harness.store.driftEvents(reference: try ref("alpine:3.20")) == [event])
        // moby forces tags; immutability is reported, not enforced.
        #expect(try await harness.tag("alpine:3.20")?.manifestDigest == digest("B"))
    }

    @Test func imageIDDriftKeepsTheOldMappingAndTheTagStillMoves() async throws {
        let harness = try await Harness()
        try await harness.record("alpine:3.20", image("A", id: "config A"), at: at(1))
        let drifted = try await harness.record("alpine:3.20", image("A", id: "config X"), at: at(2))

        #expect(drifted.outcome == .drift)
        let event = try #require(drifted.driftEvents.first)
        #expect(drifted.driftEvents.count == 1)
        #expect(event.kind == .imageIDDrift)
        #expect(event.digest == digest("A"))
        #expect(event.platform == nil)
        #expect(event.oldValue == digest("config A"))
        #expect(event.newValue == digest("config X"))
        #expect(event.endpoint == mirror)

        let stored = try #require(try await harness.mapping("alpine", "A"))
        #expect(stored.imageID == digest("config A"))
        #expect(stored.firstSeen == at(1))
        let tag = try #require(try await harness.tag("alpine:3.20"))
        #expect(tag.manifestDigest == digest("A"))
        #expect(tag.imageID == digest("config X"))
        #expect(tag.lastSeen == at(2))
    }

    @Test func newTagOnAKnownDigestWithAnotherImageIDIsDrift() async throws {
        let harness = try await Harness()
        try await harness.record("alpine:3.20", image("A", id: "config A"))
        let result = try await harness.record("alpine:3", image("A", id: "config X"))

        #expect(result.outcome == .drift)
        #expect(result.previousDigest == nil)
        #expect(result.driftEvents.map(\.kind) == [.imageIDDrift])
        #expect(try await harness.tag("alpine:3")?.manifestDigest == digest("A"))
        #expect(try await harness.mapping("alpine", "A")?.imageID == digest("config A"))
    }

    @Test func digestReferences() async throws {
        let harness = try await Harness()
        let pinned = "alpine@" + digest("A").description
        #expect(try await harness.record(pinned, image("A", id: "config A")).outcome == .pulled)
        #expect(try await harness.record(pinned, image("A", id: "config A")).outcome == .upToDate)
        let conflict = try await harness.record(pinned, image("A", id: "config X"))
        #expect(conflict.outcome == .drift)
        #expect(conflict.previousDigest == nil)
        #expect(conflict.driftEvents.map(\.kind) == [.imageIDDrift])
        #expect(try await harness.mapping("alpine", "A")?.imageID == digest("config A"))
        // A digest reference never creates a tag, even when it is also written with one.
        try await harness.record("alpine:3.20@" + digest("A").description, image("A", id: "config A"))
        #expect(try await harness.tag("alpine:3.20") == nil)
        #expect(try await harness.tag("alpine:latest") == nil)

        // A digest first stored through a tag is already known to a digest reference.
        try await harness.record("busybox:1.36", image("C", id: "config C"))
        #expect(
            try await harness.record("busybox@" + digest("C").description, image("C", id: "config C")).outcome
                == .upToDate)
    }

    @Test func nameOnlyReferenceIsLatest() async throws {
        let harness = try await Harness()
        try await harness.record("alpine", image("A", id: "config A"))
        #expect(try await harness.tag("alpine:latest")?.manifestDigest == digest("A"))
        #expect(
            try await harness.store.observations(run: harness.run).first?.reference == "docker.io/library/alpine:latest"
        )
    }

    @Test func indexRecordsEachPlatformAndEachChild() async throws {
        let harness = try await Harness()
        let amd64 = try Platform(parsing: "linux/amd64")
        let arm64 = try Platform(parsing: "linux/arm64")
        let index = ResolvedManifest(
            digest: digest("index"), mediaType: .ociIndex, imageID: nil,
            platforms: [
                PlatformManifest(
                    platform: amd64, digest: digest("amd64"), mediaType: .ociManifest, imageID: digest("config amd64")),
                PlatformManifest(
                    platform: arm64, digest: digest("arm64"), mediaType: .ociManifest, imageID: digest("config arm64")),
            ],
            servedBy: mirror)
        let result = try await harness.record("alpine:3.20", index)
        #expect(result.outcome == .pulled)

        let mappings = try await harness.store.digestMappings(
            repository: try ref("alpine").repository, digest: digest("index"))
        #expect(mappings.count == 2)
        #expect(Set(mappings.compactMap(\.platform)) == [amd64, arm64])
        let armMapping = try #require(try await harness.mapping("alpine", "index", platform: "linux/arm64"))
        #expect(armMapping.imageID == digest("config arm64"))
        #expect(armMapping.childDigest == digest("arm64"))
        #expect(armMapping.mediaType == .ociIndex)
        #expect(
            try await harness.mapping("alpine", "index", platform: "linux/amd64")?.imageID == digest("config amd64"))
        #expect(try await harness.mapping("alpine", "index") == nil)
        #expect(try await harness.mapping("alpine", "amd64")?.imageID == digest("config amd64"))
        #expect(try await harness.mapping("alpine", "arm64")?.mediaType == .ociManifest)

        let tag = try #require(try await harness.tag("alpine:3.20"))
        #expect(tag.manifestDigest == digest("index"))
        #expect(tag.mediaType == .ociIndex)
        #expect(tag.imageID == nil)
        let observed = try #require(try await harness.store.observations(run: harness.run).first)
        #expect(
            observed.platforms
                == index.platforms.map {
                    PlatformManifest(
                        platform: $0.platform.normalized(), digest: $0.digest, mediaType: $0.mediaType,
                        imageID: $0.imageID)
                })

        // The same index with one child's config changed drifts for that platform only.
        var drifted = index
        drifted.platforms[1].imageID = digest("config arm64 rebuilt")
        let again = try await harness.record("alpine:3.20", drifted)
        #expect(again.outcome == .drift)
        #expect(again.driftEvents.map(\.digest) == [digest("index"), digest("arm64")])
        #expect(again.driftEvents.first?.platform == arm64)
        #expect(
            try await harness.mapping("alpine", "index", platform: "linux/arm64")?.imageID == digest("config arm64"))
    }

    /// What the upstream HEAD says versus what the mirror served.
    struct DivergenceCase: Sendable, CustomTestStringConvertible {
        var name: String
        var servedBy: String
        var upstreamDigest: String
        var expectEvent: Bool
        var testDescription: String { name }
    }

    @Test(arguments: [
        DivergenceCase(name: "mirror agrees", servedBy: mirror, upstreamDigest: "A", expectEvent: false),
        DivergenceCase(name: "mirror is stale", servedBy: mirror, upstreamDigest: "B", expectEvent: true),
        DivergenceCase(name: "upstream served it itself", servedBy: upstream, upstreamDigest: "B", expectEvent: false),
    ])
    func mirrorDivergence(_ test: DivergenceCase) async throws {
        let harness = try await Harness()
        let check = UpstreamCheck(digest: digest(test.upstreamDigest), endpoint: upstream)
        let result = try await harness.record(
            "alpine:3.20", image("A", id: "config A", servedBy: test.servedBy, upstreamSaid: check))
        #expect(result.outcome == (test.expectEvent ? .drift : .pulled))
        if test.expectEvent {
            let event = try #require(result.driftEvents.first)
            #expect(event.kind == .mirrorDivergence)
            #expect(event.endpoint == mirror)
            #expect(event.upstreamEndpoint == upstream)
            #expect(event.oldValue == digest("A"))
            #expect(event.newValue == digest("B"))
        } else {
            #expect(result.driftEvents.isEmpty)
        }
        // What the mirror served is what is stored; divergence is reported, not corrected.
        #expect(try await harness.tag("alpine:3.20")?.manifestDigest == digest("A"))
        let observed = try #require(try await harness.store.observations(run: harness.run).first)
        #expect(observed.upstream == check)
    }

    @Test func failureWritesOnlyTheObservation() async throws {
        let harness = try await Harness()
        try await harness.record("alpine:3.20", image("A", id: "config A"), at: at(1))
        let before = try await harness.tag("alpine:3.20")
        let failed = try await harness.fail("alpine:3.20", error: "manifest unknown", at: at(2))
        let unknown = try await harness.fail("quay.io/prometheus/node-exporter:v1.8.2", error: "timeout", at: at(3))

        #expect(failed.outcome == .failed)
        #expect(failed.previousDigest == digest("A"))
        #expect(failed.driftEvents.isEmpty)
        #expect(unknown.outcome == .failed)
        #expect(try await harness.tag("alpine:3.20") == before)
        #expect(try await harness.tag("quay.io/prometheus/node-exporter:v1.8.2") == nil)
        #expect(try await harness.store.inventory().repositories.map(\.repository) == ["docker.io/library/alpine"])

        let observed = try await harness.store.observations(run: harness.run)
        #expect(observed.map(\.outcome) == [.pulled, .failed, .failed])
        #expect(observed[1].error == "manifest unknown")
        #expect(observed[1].manifestDigest == nil)
        #expect(
            observed[1].attempts == [
                EndpointAttempt(endpoint: mirror, error: "503 Service Unavailable", fellBack: true)
            ])
    }

    @Test func dryRunChangesNeitherTagsNorDigests() async throws {
        let harness = try await Harness()
        try await harness.record("alpine:3.20", image("A", id: "config A"), at: at(1))
        let tagBefore = try await harness.tag("alpine:3.20")

        let moved = try await harness.record("alpine:3.20", image("B", id: "config B"), at: at(2), dryRun: true)
        let fresh = try await harness.record("alpine:3.21", image("C", id: "config C"), at: at(2), dryRun: true)
        let newRepository = try await harness.record("busybox:1.36", image("D", id: "config D"), dryRun: true)
        let immutable = try await harness.record(
            "alpine:3.20", image("B", id: "config B"), at: at(3), immutable: true, dryRun: true)

        // Outcomes say what a real run would have done.
        #expect(moved.outcome == .updated)
        #expect(fresh.outcome == .pulled)
        #expect(newRepository.outcome == .pulled)
        #expect(immutable.outcome == .drift)
        #expect(immutable.driftEvents.map(\.dryRun) == [true])

        #expect(try await harness.tag("alpine:3.20") == tagBefore)
        #expect(try await harness.tag("alpine:3.21") == nil)
        #expect(try await harness.mapping("alpine", "B") == nil)
        #expect(try await harness.mapping("alpine", "C") == nil)
        #expect(try await harness.store.tagHistory(repository: try ref("alpine").repository, tag: "3.20").count == 1)
        let inventory = try await harness.store.inventory()
        #expect(inventory.repositories.map(\.repository) == ["docker.io/library/alpine"])
        #expect(inventory.driftHistory.isEmpty)
        #expect(try await harness.store.driftEvents(reference: try ref("alpine:3.20")).isEmpty)
        #expect(try await harness.store.driftEvents(reference: try ref("alpine:3.20"), includeDryRuns: true).count == 1)
        #expect(
            try await harness.store.observations(run: harness.run).map(\.dryRun) == [false, true, true, true, true])
    }

    @Test func observationRoundTrip() async throws {
        let harness = try await Harness()
        let observation = Observation(
            runID: harness.run, reference: try ref("ghcr.io/example/tool:v2"), immutable: true,
            attempts: [
                EndpointAttempt(endpoint: mirror, error: "connection refused", fellBack: true),
                EndpointAttempt(endpoint: "https://mirror2.example", error: "404 manifest unknown", fellBack: true),
            ],
            bytesTransferred: 12_345_678, duration: .milliseconds(1_250), observedAt: at(7),
            result: .resolved(image("T", id: "config T", servedBy: "https://ghcr.io")))
        let result = try await harness.store.record(observation)

        let stored = try #require(try await harness.store.observations(run: harness.run).first)
        #expect(stored.id == result.observationID)
        #expect(stored.runID == harness.run)
        #expect(stored.reference == "ghcr.io/example/tool:v2")
        #expect(stored.repository == "ghcr.io/example/tool")
        #expect(stored.tag == "v2")
        #expect(stored.requestedDigest == nil)
        #expect(stored.manifestDigest == digest("T"))
        #expect(stored.mediaType == .ociManifest)
        #expect(stored.imageID == digest("config T"))
        #expect(stored.servedBy == "https://ghcr.io")
        #expect(stored.attempts == observation.attempts)
        #expect(stored.outcome == .pulled)
        #expect(stored.immutable)
        #expect(!stored.dryRun)
        #expect(stored.bytesTransferred == 12_345_678)
        #expect(stored.durationMilliseconds == 1_250)
        #expect(stored.observedAt == at(7))
        #expect(stored.error == nil)
    }

    /// Observations that contradict themselves.
    struct InvalidCase: Sendable, CustomTestStringConvertible {
        var name: String
        var reference: String
        var manifest: ResolvedManifest
        var testDescription: String { name }
    }

    @Test(arguments: [
        InvalidCase(
            name: "digest differs from the pinned one", reference: "alpine@" + digest("A").description,
            manifest: image("B", id: "config B")),
        InvalidCase(
            name: "no image ID and no children", reference: "alpine:3.20",
            manifest: ResolvedManifest(digest: digest("A"), mediaType: .ociManifest, imageID: nil, servedBy: mirror)),
        InvalidCase(
            name: "platform listed twice", reference: "alpine:3.20",
            manifest: ResolvedManifest(
                digest: digest("I"), mediaType: .ociIndex, imageID: nil,
                platforms: [
                    PlatformManifest(
                        platform: Platform(os: "linux", architecture: "arm64"), digest: digest("a"),
                        mediaType: .ociManifest, imageID: digest("ca")),
                    PlatformManifest(
                        platform: Platform(os: "linux", architecture: "aarch64", variant: "v8"), digest: digest("b"),
                        mediaType: .ociManifest, imageID: digest("cb")),
                ],
                servedBy: mirror)),
    ])
    func rejectsContradictoryObservations(_ test: InvalidCase) async throws {
        let harness = try await Harness()
        await #expect {
            try await harness.record(test.reference, test.manifest)
        } throws: { error in
            guard case LedgerError.invalidObservation(let path, _, _) = error else { return false }
            return path == ":memory:"
        }
        #expect(try await harness.store.observations(run: harness.run).isEmpty)
        #expect(try await harness.store.inventory().repositories.isEmpty)
    }

    @Test func recordingNeedsAnOpenRun() async throws {
        let harness = try await Harness()
        let stranger = try #require(RunID(rawValue: "20261129T103000Z-0000"))
        await #expect(throws: LedgerError.unknownRun(path: ":memory:", run: stranger)) {
            try await harness.store.record(
                Observation(runID: stranger, reference: try ref("alpine:3.20"), result: .resolved(image("A", id: "c"))))
        }
        try await harness.store.finishRun(harness.run, RunFinish(finishedAt: at(9), status: .completed, exitStatus: 0))
        await #expect(throws: LedgerError.runFinished(path: ":memory:", run: harness.run)) {
            try await harness.record("alpine:3.20", image("A", id: "c"))
        }
    }
}
