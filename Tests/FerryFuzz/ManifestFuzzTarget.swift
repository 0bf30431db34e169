import FerryTestSupport
import Foundation
import OCIModel
import OCIRegistry

extension FuzzTargets {
    /// `FetchedManifest.decode` over image manifests and indexes (OCI and Docker), plus the media-type sniffer.
    ///
    /// Property: a refusal is ``RegistryError/invalidResponse(url:message:)`` naming the manifest by digest, or
    /// ``RegistryError/unsupportedManifestFormat(_:)``; what is accepted encodes and decodes back to the same value.
    public static func manifest() -> FuzzTarget {
        FuzzTarget(name: "manifest", seeds: manifestSeeds(), tokens: manifestTokens) { bytes throws(FuzzViolation) in
            _ = FetchedManifest.sniff(bytes)
            let digest = Digest.sha256(of: bytes)
            var verdict = FuzzTarget.Verdict.rejected
            for mediaType in [MediaType.ociManifest, .dockerManifest, .ociIndex, .dockerManifestList] {
                let fetched = FetchedManifest(bytes: bytes, mediaType: mediaType, digest: digest)
                let content: FetchedManifest.Content
                do throws(RegistryError) {
                    content = try fetched.decode()
                } catch {
                    guard case .invalidResponse(let url, let message) = error, url == "manifest \(digest)",
                        message.hasPrefix("invalid \(mediaType) document: ")
                    else { throw FuzzViolation("\(mediaType): refused with \(error)") }
                    continue
                }
                try roundTrip(content, mediaType: mediaType)
                verdict = .accepted
            }
            return verdict
        }
    }

    private static func roundTrip(_ content: FetchedManifest.Content, mediaType: MediaType) throws(FuzzViolation) {
        let encoded: Data
        do {
            switch content {
            case .image(let image): encoded = try JSONEncoder().encode(image)
            case .index(let index): encoded = try JSONEncoder().encode(index)
            }
        } catch {
            throw FuzzViolation("\(mediaType): accepted, but encoding it failed: \(error)")
        }
        let again = FetchedManifest(bytes: Array(encoded), mediaType: mediaType, digest: Digest.sha256(of: encoded))
        let decoded: FetchedManifest.Content
        do { decoded = try again.decode() } catch {
            throw FuzzViolation("\(mediaType): accepted, but its re-encoding \(String(decoding: encoded, as: UTF8.self)) is refused: \(error)")
        }
        guard decoded == content else {
            throw FuzzViolation("\(mediaType): re-encoding changes the value: \(String(decoding: encoded, as: UTF8.self))")
        }
    }

    static let manifestTokens: [[UInt8]] = [
        #""digest":"#, #""size":"#, #""mediaType":"#, #""manifests":["#, #""layers":["#, #""config":"#,
        #""platform":{"architecture":"arm64","os":"linux","variant":"v8","os.version":"10","os.features":["a"]}"#,
        #""annotations":{"a":"b"}"#, #""urls":["https://x/y"]"#, #""subject":"#, #""artifactType":"a/b""#,
        #""schemaVersion":2"#, #""schemaVersion":1"#, #""fsLayers":[]"#,
        "sha256:" + String(repeating: "a", count: 64), "sha512:" + String(repeating: "b", count: 128),
        "sha256:" + String(repeating: "a", count: 63) + "/", "sha256:" + String(repeating: "A", count: 64),
        "md5:0123", "application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.v2+json",
    ].map { Array($0.utf8) }

    static func manifestSeeds() -> [[UInt8]] {
        let registry = InMemoryRegistry(host: "fuzz.test")
        let oci = TestImage(seed: "fuzz-oci")
        let docker = TestImage(seed: "fuzz-docker", mediaType: .dockerManifest, layerCount: 3)
        let platforms = [
            Platform(os: "linux", architecture: "amd64"), Platform(os: "linux", architecture: "arm", variant: "v7"),
        ]
        registry.addIndex(repository: "fuzz/index", tag: "oci", seed: "i", platforms: platforms)
        registry.addIndex(
            repository: "fuzz/index", tag: "docker", seed: "l", platforms: platforms, mediaType: .dockerManifestList)
        let hex = String(repeating: "c", count: 64)
        let artifact = #"""
            {"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/x.test",
             "config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:\#(hex)","size":2,"data":"e30="},
             "layers":[{"mediaType":"application/x.blob","digest":"sha256:\#(hex)","size":9223372036854775807,
             "urls":["https://example.com/b"],"annotations":{"org.opencontainers.image.title":"b \u00e9 \ud83d\ude00"}}],
             "subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:\#(hex)","size":7},
             "annotations":{"k":"v"}}
            """#
        return [oci.manifest, docker.manifest, Array(artifact.utf8)]
            + ["oci", "docker"].compactMap { registry.storedManifest("fuzz/index", $0) }
    }
}
