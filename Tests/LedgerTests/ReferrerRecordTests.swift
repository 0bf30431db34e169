import Foundation
import OCIModel
import Testing

@testable import Ledger

/// The referrers of an observation (issue 9): recorded per observation and as the current set, named for
/// `index.json`, and a referrer no longer found is a `referrer-removed` drift event.
@Suite struct ReferrerRecordTests {
    static func referrer(_ label: String, of subject: String, type: String, source: ReferrerSource = .fallbackTag,
                         tag: String? = nil) -> Referrer
    {
        Referrer(
            subject: digest(subject), digest: digest(label), mediaType: .ociManifest, size: 500, artifactType: type,
            source: source, tag: tag)
    }

    static let signature = referrer("sig", of: "A", type: "application/vnd.dev.cosign.artifact.sig.v1+json")
    static let sbom = referrer("sbom", of: "A", type: "application/spdx+json")
    static let cosign = referrer(
        "cosign", of: "A", type: "application/vnd.dev.cosign.artifact.sig.v1+json", source: .cosignTag,
        tag: ReferrerTags.cosignTag(for: digest("A"), suffix: "sig"))

    static func observed(_ referrers: [Referrer]?, types: [String]? = nil) -> ResolvedManifest {
        var manifest = image("A", id: "config A")
        manifest.referrers = referrers
        manifest.referrerTypes = types
        return manifest
    }

    @Test func recordsWhatEachObservationFoundAndNamesThem() async throws {
        let harness = try await Harness()
        let result = try await harness.record("alpine:3.20", Self.observed([Self.signature, Self.sbom, Self.cosign]))
        #expect(result.outcome == .pulled)
        let byObservation = try await harness.store.referrers(run: harness.run)
        #expect(byObservation[result.observationID] == [Self.signature, Self.sbom, Self.cosign])
        let recorded = try await harness.store.recordedReferrers()
        #expect(recorded.map(\.referrer) == [Self.signature, Self.sbom, Self.cosign])
        #expect(recorded.allSatisfy { $0.imageDigest == digest("A") && $0.removedRunID == nil })
        let names = try await harness.store.recordedNames().map(\.name)
        #expect(names.contains("docker.io/library/alpine@\(digest("sig"))"))
        #expect(names.contains("docker.io/library/alpine:\(ReferrerTags.cosignTag(for: digest("A"), suffix: "sig"))"))
        #expect(try await harness.store.referrers(repository: "docker.io/library/alpine", image: digest("A")).count == 3)
    }

    @Test func aReferrerNoLongerFoundIsDriftAndLeavesTheNames() async throws {
        let harness = try await Harness()
        try await harness.record("alpine:3.20", Self.observed([Self.signature, Self.sbom]), at: at(1))
        let again = try await harness.record("alpine:3.20", Self.observed([Self.signature]), at: at(2))
        #expect(again.outcome == .drift)
        #expect(again.driftEvents.map(\.kind) == [.referrerRemoved])
        #expect(again.driftEvents.first?.oldValue == digest("sbom"))
        #expect(again.driftEvents.first?.digest == digest("A"))
        let recorded = try await harness.store.recordedReferrers()
        #expect(recorded.first { $0.referrer == Self.sbom }?.removedRunID == harness.run)
        #expect(!(try await harness.store.recordedNames()).map(\.name).contains("docker.io/library/alpine@\(digest("sbom"))"))
        // Found again: current again, no new event.
        let back = try await harness.record("alpine:3.20", Self.observed([Self.signature, Self.sbom]), at: at(3))
        #expect(back.outcome == .upToDate)
        #expect(try await harness.store.recordedReferrers().allSatisfy { $0.removedRunID == nil })
    }

    @Test func onlyTheTypesLookedForCanBeRemovedAndNoneLookedForChangesNothing() async throws {
        let harness = try await Harness()
        try await harness.record("alpine:3.20", Self.observed([Self.signature, Self.sbom]), at: at(1))
        let onlySBOMs = try await harness.record(
            "alpine:3.20", Self.observed([Self.sbom], types: ["application/spdx+json"]), at: at(2))
        #expect(onlySBOMs.outcome == .upToDate)
        let notLooked = try await harness.record("alpine:3.20", Self.observed(nil), at: at(3))
        #expect(notLooked.outcome == .upToDate)
        #expect(try await harness.store.recordedReferrers().allSatisfy { $0.removedRunID == nil })
    }

    @Test func aDryRunRecordsNoReferrer() async throws {
        let harness = try await Harness()
        try await harness.record("alpine:3.20", Self.observed([Self.signature]), dryRun: true)
        #expect(try await harness.store.recordedReferrers().isEmpty)
    }
}
