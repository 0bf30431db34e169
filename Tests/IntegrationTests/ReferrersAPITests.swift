import FerryTestSupport
import FerryHTTP
import Foundation
import Ledger
import OCIModel
import Synchronization
import Testing

/// A registry with the OCI 1.1 referrers API on the test HTTP server: one image `team/app:1.0`, its referrers, and
/// the spec's answers to `GET /v2/<name>/referrers/<digest>` (with `OCI-Filters-Applied` when it filters).
final class ReferrersAPIRegistry: Sendable {
    let image = TestImage(seed: "referrers-api")
    let artifacts: [TestArtifact]
    /// Each referrer's subject.
    let subjects: [Digest: Digest]
    /// Whether `?artifactType=` is applied (and said so with `OCI-Filters-Applied`).
    let appliesFilters: Bool
    /// Manifests served with other bytes than their digest says (a registry serving a tampered referrer).
    let tampered: Set<Digest>
    private let blobs: [Digest: [UInt8]]
    let server: TestHTTPServer

    /// The registry refuses `tags/list` (403), as one whose credential may only pull does.
    let refusesTagList: Bool
    /// A legacy cosign signature under `sha256-<hex>.sig`, when made with `cosign: true`.
    let cosign: TestArtifact?

    init(
        appliesFilters: Bool, tamper: Bool = false, refusesTagList: Bool = false, cosign: Bool = false,
        directory: String
    ) throws {
        let subject = Descriptor(
            mediaType: .ociManifest, digest: Digest.sha256(of: image.manifest), size: Int64(image.manifest.count))
        let signature = try TestArtifact.make(
            artifactType: TestArtifact.signatureType, payload: "signature of the image", subject: subject, in: directory)
        let sbom = try TestArtifact.make(
            artifactType: TestArtifact.sbomType, payload: #"{"spdxVersion":"SPDX-2.3"}"#, subject: subject, in: directory)
        let sbomSignature = try TestArtifact.make(
            artifactType: TestArtifact.signatureType, payload: "signature of the SBOM", subject: sbom.descriptor,
            in: directory)
        artifacts = [signature, sbom, sbomSignature]
        subjects = [signature.digest: subject.digest, sbom.digest: subject.digest, sbomSignature.digest: sbom.digest]
        self.appliesFilters = appliesFilters
        self.refusesTagList = refusesTagList
        self.cosign = cosign
            ? try TestArtifact.make(
                artifactType: TestArtifact.signatureType, payload: "legacy signature", subject: nil, in: directory,
                legacyCosign: true)
            : nil
        tampered = tamper ? [sbom.digest] : []
        var blobs: [Digest: [UInt8]] = [:]
        for bytes in image.blobs { blobs[Digest.sha256(of: bytes)] = bytes }
        for artifact in artifacts + (self.cosign.map { [$0] } ?? []) {
            for (descriptor, path) in artifact.blobs {
                blobs[descriptor.digest] = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
            }
        }
        self.blobs = blobs
        let box = Mutex<ReferrersAPIRegistry?>(nil)
        server = try TestHTTPServer { request in
            guard let registry = box.withLock({ $0 }) else { return TestHTTPResponse(status: 503) }
            return registry.answer(request)
        }
        box.withLock { $0 = self }
    }

    var host: String { "127.0.0.1:\(server.port)" }
    var subjectDigest: Digest { Digest.sha256(of: image.manifest) }

    /// The `/referrers/` requests received, with their query.
    var referrerRequests: [String] {
        server.requests.filter { $0.path.contains("/referrers/") }.map(\.target)
    }

    private func manifest(_ bytes: [UInt8], head: Bool, digest: Digest? = nil) -> TestHTTPResponse {
        var headers = HTTPHeaders()
        headers.set("Content-Type", MediaType.ociManifest.rawValue)
        headers.set("Docker-Content-Digest", (digest ?? Digest.sha256(of: bytes)).description)
        headers.set("Content-Length", "\(bytes.count)")
        return TestHTTPResponse(status: 200, headers: headers, body: .bytes(head ? [] : bytes))
    }

    private func answer(_ request: TestHTTPRequest) -> TestHTTPResponse {
        let path = request.path
        let head = request.method == "HEAD"
        if path == "/v2/" { return .text("{}") }
        let prefix = "/v2/team/app/"
        guard path.hasPrefix(prefix) else { return .text("{\"errors\":[{\"code\":\"NAME_UNKNOWN\"}]}", status: 404) }
        let rest = String(path.dropFirst(prefix.count))
        if rest == "tags/list" {
            if refusesTagList {
                return .text(#"{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}"#, status: 403)
            }
            let cosignTag = cosign.map { _ in ",\"\(ReferrerTags.cosignTag(for: subjectDigest, suffix: "sig"))\"" } ?? ""
            return .text(#"{"name":"team/app","tags":["1.0"\#(cosignTag)]}"#)
        }
        if let cosign, rest == "manifests/\(ReferrerTags.cosignTag(for: subjectDigest, suffix: "sig"))" {
            return manifest(cosign.manifestBytes, head: head)
        }
        if rest == "manifests/1.0" || rest == "manifests/\(subjectDigest)" { return manifest(image.manifest, head: head) }
        if rest.hasPrefix("manifests/"), let digest = try? Digest(parsing: rest.dropFirst("manifests/".count)),
            let artifact = artifacts.first(where: { $0.digest == digest })
        {
            if tampered.contains(digest) {
                // Same length, one byte changed: the size the listing gives still holds, the digest does not.
                var bytes = artifact.manifestBytes
                bytes[bytes.count - 3] = bytes[bytes.count - 3] == UInt8(ascii: "Z") ? UInt8(ascii: "Y") : UInt8(ascii: "Z")
                return manifest(bytes, head: head, digest: digest)
            }
            return manifest(artifact.manifestBytes, head: head)
        }
        if rest.hasPrefix("blobs/"), let digest = try? Digest(parsing: rest.dropFirst("blobs/".count)),
            let bytes = blobs[digest]
        {
            return .serving(.bytes(bytes), for: request)
        }
        if rest.hasPrefix("referrers/"), let subject = try? Digest(parsing: rest.dropFirst("referrers/".count)) {
            var listed = artifacts.filter { subjects[$0.digest] == subject }
            var headers = HTTPHeaders()
            headers.set("Content-Type", MediaType.ociIndex.rawValue)
            if appliesFilters, let query = request.query, query.hasPrefix("artifactType=") {
                let wanted = String(query.dropFirst("artifactType=".count)).removingPercentEncoding ?? ""
                listed = listed.filter { $0.descriptor.artifactType == wanted }
                headers.set("OCI-Filters-Applied", "artifactType")
            }
            return TestHTTPResponse(status: 200, headers: headers, body: .bytes(TestArtifact.fallbackIndex(listed)))
        }
        return .text("{\"errors\":[{\"code\":\"MANIFEST_UNKNOWN\",\"message\":\"manifest unknown\"}]}", status: 404)
    }
}

/// The referrers API path (the test HTTP server implementing the spec's answers): discovery there, the artifact
/// type filter whether or not the registry applies it, referrers of referrers, and a tampered referrer refused.
@Suite struct ReferrersAPITests {
    func run(_ registry: ReferrersAPIRegistry, referrers: String) async throws -> (FerryResult, FerryWorkspace) {
        let workspace = try FerryWorkspace()
        try workspace.writeConfig(plainHTTPList([registry.host], images: [
            "- source: \(registry.host)/team/app:1.0", "  referrers: \(referrers)",
        ]))
        return (try await workspace.sync(), workspace)
    }

    func recorded(_ workspace: FerryWorkspace) async throws -> [Referrer] {
        try await workspace.withLedger { ledger in try await ledger.recordedReferrers().map(\.referrer) }
    }

    @Test func allReferrersAndTheirReferrersAreFoundThroughTheAPIWithOneProbe() async throws {
        let directory = try TemporaryDirectory()
        let registry = try ReferrersAPIRegistry(appliesFilters: true, directory: directory.path)
        let (result, workspace) = try await run(registry, referrers: "all")
        #expect(result.status == 0, "\(result)")
        let found = try await recorded(workspace)
        #expect(found.map(\.digest) == registry.artifacts.map(\.digest))
        #expect(found.allSatisfy { $0.source == .api })
        #expect(found.map(\.subject) == registry.artifacts.map { registry.subjects[$0.digest]! })
        // The image, then each referrer as a subject (the SBOM's signature is a referrer of a referrer); the
        // registry has the API, so no tag is ever looked for as a fallback.
        #expect(registry.referrerRequests.count == 4)
        #expect(!registry.server.requests.contains { $0.path.contains("/manifests/sha256-") })
        #expect(Referrer.summary(found) == "3 referrers: 2 signatures, 1 SBOM")
        for artifact in registry.artifacts {
            #expect(TestFiles.exists(workspace.store + "/blobs/sha256/" + artifact.digest.hex))
        }
    }

    @Test(arguments: [true, false]) func anArtifactTypeFilterHoldsWhetherOrNotTheRegistryAppliesIt(applies: Bool)
        async throws
    {
        let directory = try TemporaryDirectory()
        let registry = try ReferrersAPIRegistry(appliesFilters: applies, directory: directory.path)
        let (result, workspace) = try await run(registry, referrers: "[\"application/spdx+json\"]")
        #expect(result.status == 0, "\(result)")
        let found = try await recorded(workspace)
        #expect(found.map(\.artifactType) == ["application/spdx+json"])
        #expect(registry.referrerRequests.first == "/v2/team/app/referrers/\(registry.subjectDigest)?artifactType=application/spdx%2Bjson")
    }

    @Test func aReferrerWhoseBytesDoNotMatchItsDigestIsRefusedNamingIt() async throws {
        let directory = try TemporaryDirectory()
        let registry = try ReferrersAPIRegistry(appliesFilters: true, tamper: true, directory: directory.path)
        let (result, workspace) = try await run(registry, referrers: "all")
        #expect(result.status == 1, "\(result)")
        let sbom = registry.artifacts[1].digest
        let expected =
            "referrer \(sbom) of \(registry.subjectDigest) refused: manifest verification failed for digest \(sbom)"
        let observation = try await workspace.withLedger { ledger in
            try await ledger.observations(run: try #require(try await ledger.latestRun()).id).first
        }
        #expect(observation?.error == expected)
        #expect(!TestFiles.exists(workspace.store + "/blobs/sha256/" + sbom.hex))
    }

    @Test func verifyNamesTheImageWhoseRecordedReferrerIsMissing() async throws {
        let directory = try TemporaryDirectory()
        let registry = try ReferrersAPIRegistry(appliesFilters: true, directory: directory.path)
        let (result, workspace) = try await run(registry, referrers: "all")
        #expect(result.status == 0, "\(result)")
        let sbom = registry.artifacts[1].digest
        try FileManager.default.removeItem(atPath: workspace.store + "/blobs/sha256/" + sbom.hex)
        let verified = try await workspace.run(["verify"])
        #expect(verified.status == 1, "\(verified)")
        #expect(verified.stdoutLines.contains(
            "missing     \(registry.host)/team/app:1.0: referrer SBOM \(sbom) (application/spdx+json)"), "\(verified)")
        #expect(verified.stdoutLines.last?.contains("1 referrers missing") == true, "\(verified)")
        // The next sync finds the referrer again and fetches what is missing.
        let again = try await workspace.sync()
        #expect(again.status == 0, "\(again)")
        #expect(TestFiles.exists(workspace.store + "/blobs/sha256/" + sbom.hex))
        let healthy = try await workspace.run(["verify"])
        #expect(healthy.status == 0, "\(healthy)")
    }

    @Test(arguments: [false, true]) func cosignTagsAreFoundWithTheTagListOrTagByTagWhenListingIsRefused(refused: Bool)
        async throws
    {
        let directory = try TemporaryDirectory()
        let registry = try ReferrersAPIRegistry(
            appliesFilters: true, refusesTagList: refused, cosign: true, directory: directory.path)
        let (result, workspace) = try await run(registry, referrers: "all")
        #expect(result.status == 0, "\(result)")
        let found = try await recorded(workspace)
        let cosign = try #require(registry.cosign)
        #expect(found.first { $0.digest == cosign.digest }?.source == .cosignTag)
        #expect(found.count == 4)
        // With a listing, only the tag that exists is fetched; without one, each of the three is asked for.
        let asked = registry.server.requests.filter { $0.method == "GET" && $0.path.contains("/manifests/sha256-") }
        #expect(asked.count == (refused ? 3 * registry.referrerRequests.count : 1), "\(asked.map(\.path))")
    }
}
