import FerryBundle
import FerryTestSupport
import Foundation
import Ledger
import OCIModel
import Testing

/// Issue 9 against the real `docker-registry` (distribution 2.8: no referrers API, so the fallback tag and
/// cosign's tags): signature-like artifacts made here travel with their image through sync, push to a second
/// registry (which gets the fallback tags ferry maintains), export → import → push, and verify; a referrer removed
/// upstream is drift.
@Suite struct ReferrersIntegrationTests {
    /// An image `team/app:1.0` with an OCI 1.1 signature and SBOM (listed by the fallback tag), a signature of the
    /// SBOM (listed by the SBOM's fallback tag) and a legacy cosign signature under `sha256-<hex>.sig`.
    struct Signed {
        var registry: RegistryServer
        var image: BuiltImage
        var signature: TestArtifact
        var sbom: TestArtifact
        var sbomSignature: TestArtifact
        var cosign: TestArtifact
        var directory: TemporaryDirectory

        var all: [TestArtifact] { [signature, sbom, sbomSignature, cosign] }
        var cosignTag: String { ReferrerTags.cosignTag(for: image.manifestDigest, suffix: "sig") }

        static func make() async throws -> Signed {
            let registry = try await RegistryServer.start()
            let directory = try TemporaryDirectory()
            let layout = try OCILayoutBuilder(path: directory.appending("layout"))
            let image = try layout.image(ImageSpec(layers: [.generated(seed: 9001)], labels: ["image": "signed"]))
            let seeder = RegistrySeeder(registry)
            try await seeder.push(image, from: layout, to: "team/app", tag: "1.0")
            let blobs = try directory.makeSubdirectory("artifacts")
            let signature = try TestArtifact.make(
                artifactType: TestArtifact.signatureType, payload: "signature of the image", subject: image.manifest,
                in: blobs)
            let sbom = try TestArtifact.make(
                artifactType: TestArtifact.sbomType, payload: #"{"spdxVersion":"SPDX-2.3","name":"app"}"#,
                subject: image.manifest, in: blobs)
            let sbomSignature = try TestArtifact.make(
                artifactType: TestArtifact.signatureType, payload: "signature of the SBOM", subject: sbom.descriptor,
                in: blobs)
            let cosign = try TestArtifact.make(
                artifactType: ReferrerTags.cosignSignatureType, payload: #"{"critical":{"image":{}}}"#, subject: nil,
                in: blobs, legacyCosign: true)
            for artifact in [signature, sbom, sbomSignature] { try await seeder.push(artifact, to: "team/app") }
            try await seeder.pushFallbackTag(for: image.manifestDigest, listing: [signature, sbom], repository: "team/app")
            try await seeder.pushFallbackTag(for: sbom.digest, listing: [sbomSignature], repository: "team/app")
            try await seeder.push(
                cosign, to: "team/app", reference: ReferrerTags.cosignTag(for: image.manifestDigest, suffix: "sig"))
            return Signed(
                registry: registry, image: image, signature: signature, sbom: sbom, sbomSignature: sbomSignature,
                cosign: cosign, directory: directory)
        }
    }

    static func fallbackIndex(_ repository: String, subject: Digest, at host: String) async throws -> [Digest] {
        let skopeo = try ProcessRunner.requireTool("skopeo")
        let tag = ReferrerTags.fallbackTag(for: subject)
        let result = try await ProcessRunner.runChecked(
            skopeo, ["inspect", "--raw", "--tls-verify=false", "docker://\(host)/\(repository):\(tag)"])
        return try JSONDecoder().decode(ImageIndex.self, from: Data(result.stdout)).manifests.map(\.digest)
    }

    @Test func syncPushExportImportPushAndRemovalCarryEveryReferrerByteForByte() async throws {
        let signed = try await Signed.make()
        let source = signed.registry.host
        let target = try await RegistryServer.start()
        let workspace = try FerryWorkspace()
        try workspace.writeConfig(plainHTTPList([source, target.host], images: [
            "- source: \(source)/team/app:1.0", "  targets: [internal]",
        ], extra: "targets:\n  internal:\n    registry: \"\(target.host)\"\n    prefix: mirror\n"))

        // Sync: the image, its three fallback-tag referrers (one a referrer of the SBOM) and the cosign tag.
        let first = try await workspace.sync()
        #expect(first.status == 0, "\(first)")
        let recorded = try await workspace.withLedger { ledger in try await ledger.recordedReferrers() }
        #expect(Set(recorded.map(\.referrer.digest)) == Set(signed.all.map(\.digest)))
        #expect(recorded.first { $0.referrer.digest == signed.cosign.digest }?.referrer.source == .cosignTag)
        #expect(recorded.first { $0.referrer.digest == signed.cosign.digest }?.referrer.tag == signed.cosignTag)
        #expect(recorded.first { $0.referrer.digest == signed.sbomSignature.digest }?.referrer.subject == signed.sbom.digest)
        #expect(recorded.filter { $0.referrer.source == .fallbackTag }.count == 3)
        #expect(recorded.allSatisfy { $0.imageDigest == signed.image.manifestDigest })

        // Every referrer is stored and named in index.json, which skopeo still reads.
        let index = try String(contentsOfFile: workspace.store + "/index.json", encoding: .utf8)
        for artifact in signed.all { #expect(index.contains(artifact.digest.description)) }
        let skopeo = try ProcessRunner.requireTool("skopeo")
        _ = try await ProcessRunner.runChecked(skopeo, ["inspect", "--raw", "oci:\(workspace.store):\(source)/team/app:1.0"])
        _ = try ProcessRunner.requireTool("umoci")
        let listed = try await ProcessRunner.runChecked("umoci", ["ls", "--layout", workspace.store])
        let names = String(decoding: listed.stdout, as: UTF8.self)
        #expect(names.contains("\(source)/team/app:1.0"), "\(names)")
        #expect(names.contains("\(source)/team/app:\(signed.cosignTag)"), "\(names)")
        _ = try await ProcessRunner.runChecked(
            "umoci", ["stat", "--json", "--image", "\(workspace.store):\(source)/team/app:1.0"])

        // The report says what travelled.
        let markdown = try String(contentsOfFile: workspace.store + "/reports/latest.md", encoding: .utf8)
        #expect(markdown.contains("4 referrers: 3 signatures, 1 SBOM"), "\(markdown)")
        let json = Array(try Data(contentsOf: URL(fileURLWithPath: workspace.store + "/reports/latest.json")))
        #expect(try await workspace.schemaProblems(json) == [])
        let metrics = try String(contentsOfFile: workspace.store + "/metrics.prom", encoding: .utf8)
        #expect(metrics.contains("ferry_referrers{artifact_type=\"application/spdx+json\"} 1"))
        #expect(metrics.contains("ferry_referrers{artifact_type=\"\(TestArtifact.signatureType)\"} 3"))

        // The target: every referrer with its original digest, the cosign tag as a tag, and the fallback tags
        // ferry wrote itself (distribution 2.8 answers a manifest with subject without OCI-Subject).
        let prefix = "\(target.host)/mirror/\(TargetIntegrationTests.mapped(source))"
        for artifact in signed.all {
            #expect(try await TargetIntegrationTests.servedDigest("\(prefix)/team/app@\(artifact.digest)") == artifact.digest)
        }
        #expect(try await TargetIntegrationTests.servedDigest("\(prefix)/team/app:\(signed.cosignTag)") == signed.cosign.digest)
        let targetRepository = "mirror/\(TargetIntegrationTests.mapped(source))/team/app"
        #expect(Set(try await Self.fallbackIndex(targetRepository, subject: signed.image.manifestDigest, at: target.host))
            == [signed.signature.digest, signed.sbom.digest])
        #expect(try await Self.fallbackIndex(targetRepository, subject: signed.sbom.digest, at: target.host)
            == [signed.sbomSignature.digest])

        let verified = try await workspace.run(["verify"])
        #expect(verified.status == 0, "\(verified)")

        // Export → import → push: the far registry gets the same referrers, by digest and in fallback tags.
        let bundle = workspace.directory.appending("bundle.tar")
        let exported = try await ferry(["export", "--store", workspace.store, "--to", bundle])
        #expect(exported.status == .ok, "\(exported.lines)")
        let far = try FerryWorkspace()
        #expect(exported.lines.contains("with 4 referrers: 3 signatures, 1 SBOM"), "\(exported.lines)")
        let sidecar = try BundleSidecar.decode(try TestFiles.read(bundle + ".ferry-bundle.json"), path: bundle)
        #expect(sidecar.description.referrers == ["signature": 3, "sbom": 1])
        let checked = try await ferry(["import", "--check", bundle, "--store", far.store])
        #expect(checked.status == .ok, "\(checked.lines)")
        #expect(checked.lines.contains("with 4 referrers: 3 signatures, 1 SBOM"), "\(checked.lines)")
        #expect(checked.lines.contains(
            "referrer        \(source)/team/app@\(signed.sbom.digest): SBOM (application/spdx+json) of \(signed.image.manifestDigest)"),
            "\(checked.lines)")
        #expect(checked.lines.filter { $0.hasPrefix("referrer ") }.count == 4)
        let imported = try await ferry(["import", bundle, "--store", far.store])
        #expect(imported.status == .ok, "\(imported.lines)")
        #expect(imported.lines.contains("with 4 referrers: 3 signatures, 1 SBOM"), "\(imported.lines)")
        let farReferrers = try await far.withLedger { ledger in try await ledger.recordedReferrers() }
        #expect(Set(farReferrers.map(\.referrer.digest)) == Set(signed.all.map(\.digest)))
        #expect(farReferrers.allSatisfy { $0.imageDigest == signed.image.manifestDigest })
        let farVerified = try await far.run(["verify"])
        #expect(farVerified.status == 0, "\(farVerified)")
        let farRegistry = try await RegistryServer.start()
        try far.writeConfig(plainHTTPList([farRegistry.host]))
        let pushed = try await far.run(["push", "--config", far.config, "--to", "\(farRegistry.host)/far"])
        #expect(pushed.status == 0, "\(pushed)")
        let farPrefix = "\(farRegistry.host)/far/\(TargetIntegrationTests.mapped(source))"
        for artifact in signed.all {
            #expect(try await TargetIntegrationTests.servedDigest("\(farPrefix)/team/app@\(artifact.digest)") == artifact.digest)
        }
        #expect(try await TargetIntegrationTests.servedDigest("\(farPrefix)/team/app:\(signed.cosignTag)") == signed.cosign.digest)
        #expect(Set(try await Self.fallbackIndex(
            "far/\(TargetIntegrationTests.mapped(source))/team/app", subject: signed.image.manifestDigest,
            at: farRegistry.host)) == [signed.signature.digest, signed.sbom.digest])

        // Upstream drops the SBOM from the fallback tag: the SBOM and its signature are gone, which is drift.
        try await RegistrySeeder(signed.registry).pushFallbackTag(
            for: signed.image.manifestDigest, listing: [signed.signature], repository: "team/app")
        let third = try await workspace.sync()
        #expect(third.status == 2, "\(third)")
        let events = try await workspace.withLedger { ledger in
            try await ledger.driftEvents(run: try #require(try await ledger.latestRun()).id)
        }
        #expect(events.map(\.kind) == [.referrerRemoved, .referrerRemoved])
        #expect(Set(events.map(\.oldValue)) == [signed.sbom.digest, signed.sbomSignature.digest])
        // Their names leave index.json (they are pushed no further); the store stays healthy.
        let indexAfter = try String(contentsOfFile: workspace.store + "/index.json", encoding: .utf8)
        #expect(!indexAfter.contains(signed.sbom.digest.description))
        #expect(indexAfter.contains(signed.signature.digest.description))
        let verifiedAfter = try await workspace.run(["verify"])
        #expect(verifiedAfter.status == 0, "\(verifiedAfter)")
    }

    @Test func aPlatformFilteredIndexKeepsItsDigestAndSaysItsSignaturesCoverMore() async throws {
        let registry = try await RegistryServer.start()
        let directory = try TemporaryDirectory()
        let layout = try OCILayoutBuilder(path: directory.appending("layout"))
        let index = try layout.index(IndexSpec(images: [
            ImageSpec(platform: Platform(os: "linux", architecture: "amd64"), layers: [.generated(seed: 9101)]),
            ImageSpec(platform: Platform(os: "linux", architecture: "arm64", variant: "v8"), layers: [.generated(seed: 9102)]),
        ]))
        let seeder = RegistrySeeder(registry)
        try await seeder.push(index, from: layout, to: "team/multi", tag: "1")
        let signature = try TestArtifact.make(
            artifactType: TestArtifact.signatureType, payload: "signature of the index", subject: index.index,
            in: try directory.makeSubdirectory("artifacts"))
        try await seeder.push(signature, to: "team/multi")
        try await seeder.pushFallbackTag(for: index.digest, listing: [signature], repository: "team/multi")
        let workspace = try FerryWorkspace()
        try workspace.writeConfig(plainHTTPList([registry.host], images: [
            "- source: \(registry.host)/team/multi:1", "  platforms: [linux/amd64]",
        ]))
        let result = try await workspace.sync()
        #expect(result.status == 0, "\(result)")
        #expect(result.stdoutLines.contains(
            "warning     \(registry.host)/team/multi:1: signatures of index \(index.digest) sign all 2 platforms it "
                + "lists; the mirror holds 1 (platforms: is set)"), "\(result)")
        let recorded = try await workspace.withLedger { ledger in try await ledger.recordedReferrers() }
        #expect(recorded.map(\.referrer.digest) == [signature.digest])
        #expect(recorded.first?.imageDigest == index.digest)
        let markdown = try String(contentsOfFile: workspace.store + "/reports/latest.md", encoding: .utf8)
        #expect(markdown.contains("signatures of this index sign every platform it lists"), "\(markdown)")
    }
}
