import FerryHTTP
import FerryTestSupport
import Foundation
import LayoutStore
import OCIModel
import OCIRegistry
import Testing

@testable import FerryPull

/// Manifests built to make a pull recurse, loop or write outside the store (issue 11, "hostile input").
@Suite struct HostileManifestTests {
    static let amd64 = Platform(os: "linux", architecture: "amd64")

    /// An OCI index listing `children` (digest, media type, size) for linux/amd64.
    static func index(_ children: [(Digest, MediaType, Int)]) -> [UInt8] {
        let entries = children.map { digest, mediaType, size in
            #"{"digest":"\#(digest)","mediaType":"\#(mediaType)","platform":{"architecture":"amd64","os":"linux"},"size":\#(size)}"#
        }
        return Array(#"{"manifests":[\#(entries.joined(separator: ","))],"mediaType":"application/vnd.oci.image.index.v1+json","schemaVersion":2}"#.utf8)
    }

    /// GET requests for manifest `digest`.
    static func gets(_ transport: ScriptedTransport, _ digest: Digest) -> Int {
        transport.requests.filter { $0.method == .get && $0.url.path.hasSuffix("/manifests/\(digest)") }.count
    }

    @Test(arguments: [PlatformSelection.single(amd64), .all])
    func anIndexListingAnIndexIsRefusedBeforeFetchingIt(platforms: PlatformSelection) async throws {
        let registry = InMemoryRegistry(host: "registry.example")
        let inner = registry.addIndex(repository: "nest", tag: "inner", seed: "n", platforms: [Self.amd64])
        let innerSize = try #require(registry.storedManifest("nest", "inner")).count
        let outer = registry.addManifest(
            Self.index([(inner.index, .ociIndex, innerSize)]), mediaType: .ociIndex, repository: "nest", tag: "1")
        let harness = try PullHarness { registry.handle($0) }
        defer { harness.remove() }
        await #expect(throws: PullFailure(
            kind: .unknown,
            message: "index \(outer) lists \(inner.index) as an index; ferry pulls one level of index, with image manifests as its children",
            provenance: Provenance(servedBy: nil, servedByMirror: false, attempts: [EndpointAttempt(
                endpoint: "https://registry.example", isMirror: false,
                error: "index \(outer) lists \(inner.index) as an index; ferry pulls one level of index, with image manifests as its children",
                fellBack: true, skipped: false)]))
        ) {
            try await harness.pull("registry.example/nest:1", platforms: platforms)
        }
        #expect(Self.gets(harness.transport, inner.index) == 0)
    }

    /// Three levels, the middle one typed as an image manifest: the pull fetches it once, sees an index, and stops
    /// there without asking for the third level.
    @Test func aNestedIndexTypedAsAnImageStopsAtTheSecondLevel() async throws {
        let registry = InMemoryRegistry(host: "registry.example")
        let deepest = registry.addIndex(repository: "nest", tag: "deepest", seed: "d", platforms: [Self.amd64])
        let deepestSize = try #require(registry.storedManifest("nest", "deepest")).count
        let middleBytes = Self.index([(deepest.index, .ociIndex, deepestSize)])
        let middle = registry.addManifest(middleBytes, mediaType: .ociIndex, repository: "nest")
        let top = registry.addManifest(
            Self.index([(middle, .ociManifest, middleBytes.count)]), mediaType: .ociIndex, repository: "nest", tag: "1")
        let harness = try PullHarness { registry.handle($0) }
        defer { harness.remove() }
        do {
            _ = try await harness.pull("registry.example/nest:1")
            Issue.record("expected a failure")
        } catch {
            #expect(error.message
                == "index \(top) lists \(middle) as an index; ferry pulls one level of index, with image manifests as its children")
        }
        #expect(Self.gets(harness.transport, middle) == 1)
        #expect(Self.gets(harness.transport, deepest.index) == 0)
    }

    /// A registry that answers every manifest request with the same index, so that the index's child "is" the
    /// index: the child fails verification against the digest the index gave, once, with no recursion.
    @Test func aRegistryServingTheIndexAsItsOwnChildFailsVerification() async throws {
        let child = Digest.sha256(of: Array("a child that is never served".utf8))
        let bytes = Self.index([(child, .ociManifest, 512)])
        let harness = try PullHarness { request in
            guard request.url.path.contains("/manifests/") else { return .response(HTTPResponse(status: 404)) }
            return .response(HTTPResponse(status: 200, reason: "OK", headers: [
                "Content-Type": MediaType.ociIndex.rawValue, "Content-Length": "\(bytes.count)",
                "Docker-Content-Digest": Digest.sha256(of: bytes).description,
            ], body: request.method == .head ? [] : bytes))
        }
        defer { harness.remove() }
        do {
            _ = try await harness.pull("registry.example/loop:1")
            Issue.record("expected a failure")
        } catch {
            #expect(error.message == "manifest verification failed for digest \(child)")
        }
        #expect(harness.transport.requests.map(\.method) == [.head, .get, .get])
        #expect(try harness.store.allBlobs() == [Digest.sha256(of: bytes)])
    }

    @Test(arguments: ["sha256:../../../ferry-escape", "sha256:" + String(repeating: "0", count: 48) + "/../../../escape"])
    func aDigestThatIsAPathIsRefusedBeforeAnyFileIsWritten(layerDigest: String) async throws {
        let config = Array(#"{"architecture":"amd64","os":"linux","rootfs":{"diff_ids":[],"type":"layers"}}"#.utf8)
        let configDigest = Digest.sha256(of: config)
        let manifest = Array(#"{"config":{"digest":"\#(configDigest)","mediaType":"application/vnd.oci.image.config.v1+json","size":\#(config.count)},"layers":[{"digest":"\#(layerDigest)","mediaType":"application/vnd.oci.image.layer.v1.tar","size":1}],"mediaType":"application/vnd.oci.image.manifest.v1+json","schemaVersion":2}"#.utf8)
        let registry = InMemoryRegistry(host: "registry.example")
        registry.addBlob(config)
        let digest = registry.addManifest(manifest, mediaType: .ociManifest, repository: "app", tag: "1")
        let harness = try PullHarness { registry.handle($0) }
        defer { harness.remove() }
        let parent = (harness.directory as NSString).deletingLastPathComponent
        let problem = layerDigest.count == 71 ? "invalid checksum digest format" : "invalid checksum digest length"
        do {
            _ = try await harness.pull("registry.example/app:1")
            Issue.record("expected a failure")
        } catch {
            #expect(error.message == #"manifest \#(digest): invalid application/vnd.oci.image.manifest.v1+json document: layers[0].digest: invalid digest "\#(layerDigest)": \#(problem)"#)
        }
        // Neither the manifest nor anything named after the digest was written, inside the store or next to it.
        #expect(try harness.store.allBlobs().isEmpty)
        #expect(!FileManager.default.fileExists(atPath: parent + "/ferry-escape"))
        #expect(!FileManager.default.fileExists(atPath: parent + "/escape"))
        #expect(!harness.transport.requests.contains { $0.url.path.contains("/blobs/") })
    }
}
