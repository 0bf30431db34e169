import FerryHTTP
import FerryTestSupport
import Foundation
import LayoutStore
import Ledger
import OCIModel
import Testing

@testable import FerryPush

/// Pushing referrers (issue 9): after the subject, by digest or as a cosign tag, and the referrers fallback tag
/// kept by ferry (read, merge, write) only where the registry does not answer with `OCI-Subject`.
@Suite struct ReferrerPushTests {
    /// Stores a referrer artifact of `subject` (empty config, one payload layer) in the harness's store.
    static func storeReferrer(_ payload: String, subject: Descriptor, in store: ContentStore) throws -> Referrer {
        let config = Array("{}".utf8)
        let layer = Array(payload.utf8)
        try store.writeBlob(config, digest: Digest.sha256(of: config))
        try store.writeBlob(layer, digest: Digest.sha256(of: layer))
        let type = "application/vnd.dev.cosign.artifact.sig.v1+json"
        let manifest = Array(
            #"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"\#(type)","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"\#(Digest.sha256(of: config))","size":2},"layers":[{"mediaType":"\#(type)","digest":"\#(Digest.sha256(of: layer))","size":\#(layer.count)}],"subject":{"mediaType":"\#(subject.mediaType)","digest":"\#(subject.digest)","size":\#(subject.size)},"annotations":{"purpose":"test"}}"#
                .utf8)
        let digest = Digest.sha256(of: manifest)
        try store.writeBlob(manifest, digest: digest)
        return Referrer(
            subject: subject.digest, digest: digest, mediaType: .ociManifest, size: Int64(manifest.count),
            artifactType: type, source: .fallbackTag)
    }

    static let repository = "mirror/source.test/team/app"

    @Test func withoutOCISubjectTheFallbackTagIsMergedAndWrittenOnce() async throws {
        let harness = try await PushHarness()
        harness.source.addImage(repository: "team/app", tag: "1.0", seed: "app")
        let subject = try await harness.pull("source.test/team/app:1.0")
        let reference = try ImageReference(parsing: "source.test/team/app:1.0")
        let pusher = harness.pusher()
        _ = await pusher.push(reference, descriptor: subject, to: PushHarness.target, runID: harness.runID)
        // Another client already listed a referrer of its own in the fallback tag.
        let foreign = harness.destination.addManifest(
            Array(#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}"#.utf8),
            mediaType: .ociManifest, repository: Self.repository)
        let tag = ReferrerTags.fallbackTag(for: subject.digest)
        harness.destination.addManifest(
            Array(#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"\#(foreign)","size":10,"artifactType":"application/example"}]}"#.utf8),
            mediaType: .ociIndex, repository: Self.repository, tag: tag)

        let first = try Self.storeReferrer("signature one", subject: subject, in: harness.store)
        let second = try Self.storeReferrer("signature two", subject: subject, in: harness.store)
        let results = await pusher.pushReferrers(
            [first, second], repository: "source.test/team/app", to: PushHarness.target, runID: harness.runID)
        #expect(results.map(\.record.outcome) == [.pushed, .pushed], "\(results.map(\.record.error))")
        #expect(results.map(\.record.destination) == [
            "dest.test/\(Self.repository)@\(first.digest)", "dest.test/\(Self.repository)@\(second.digest)",
        ])
        let stored = try #require(harness.destination.storedManifest(Self.repository, tag))
        let index = try JSONDecoder().decode(ImageIndex.self, from: Data(stored))
        #expect(index.manifests.map(\.digest) == [foreign, first.digest, second.digest])
        #expect(index.manifests.last?.artifactType == first.artifactType)
        #expect(index.manifests.last?.annotations == ["purpose": "test"])
        let tagPuts = { harness.transport.requests(to: "dest.test").filter { $0.method == .put && $0.url.path.hasSuffix("/manifests/\(tag)") } }
        #expect(tagPuts().count == 1)

        // Again: everything is there, nothing is written.
        _ = await pusher.pushReferrers(
            [first, second], repository: "source.test/team/app", to: PushHarness.target, runID: harness.runID)
        #expect(tagPuts().count == 1)
    }

    @Test func aRegistryThatIndexesSubjectsGetsNoFallbackTag() async throws {
        let harness = try await PushHarness()
        harness.destination.setIndexesSubjects(true)
        harness.source.addImage(repository: "team/app", tag: "1.0", seed: "app")
        let subject = try await harness.pull("source.test/team/app:1.0")
        let pusher = harness.pusher()
        _ = await pusher.push(
            try ImageReference(parsing: "source.test/team/app:1.0"), descriptor: subject, to: PushHarness.target,
            runID: harness.runID)
        let referrer = try Self.storeReferrer("signature", subject: subject, in: harness.store)
        let results = await pusher.pushReferrers(
            [referrer], repository: "source.test/team/app", to: PushHarness.target, runID: harness.runID)
        #expect(results.map(\.record.outcome) == [.pushed])
        #expect(results.first?.subjectIndexed == true)
        let tag = ReferrerTags.fallbackTag(for: subject.digest)
        #expect(!harness.transport.requests(to: "dest.test").contains { $0.url.path.hasSuffix("/manifests/\(tag)") })
        #expect(harness.destination.storedManifest(Self.repository, referrer.digest.description) != nil)
    }

    @Test func aLayoutTargetGetsTheReferrersNamedAsInTheStore() async throws {
        let harness = try await PushHarness()
        harness.source.addImage(repository: "team/app", tag: "1.0", seed: "app")
        let subject = try await harness.pull("source.test/team/app:1.0")
        let layout = PushTarget(name: "usb", destination: .layout(path: harness.directory + "/usb"))
        let pusher = harness.pusher()
        _ = await pusher.push(
            try ImageReference(parsing: "source.test/team/app:1.0"), descriptor: subject, to: layout,
            runID: harness.runID)
        var referrer = try Self.storeReferrer("signature", subject: subject, in: harness.store)
        referrer.source = .cosignTag
        referrer.tag = ReferrerTags.cosignTag(for: subject.digest, suffix: "sig")
        let results = await pusher.pushReferrers(
            [referrer], repository: "source.test/team/app", to: layout, runID: harness.runID)
        try pusher.flushLayouts()
        #expect(results.map(\.record.outcome) == [.pushed])
        let copy = ContentStore(root: harness.directory + "/usb")
        #expect(try copy.digest(named: "source.test/team/app:\(referrer.tag!)") == referrer.digest)
        #expect(copy.hasBlob(referrer.digest))
        #expect(!harness.transport.requests(to: "dest.test").contains { $0.url.path.contains("sha256-") })
    }
}
