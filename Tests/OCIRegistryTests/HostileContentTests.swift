import FerryHTTP
import FerryTestSupport
import Foundation
import OCIModel
import Testing

@testable import OCIRegistry

/// Content that does not match what its descriptor says: more bytes than the size, digests that are paths.
@Suite struct HostileContentTests {
    let layer: [UInt8] = { var generator = SeededBytes(seed: "hostile"); return generator.next(10_000) }()

    /// A descriptor claiming `size` bytes for `layer`.
    func descriptor(size: Int64) -> Descriptor {
        Descriptor(mediaType: .ociLayer, digest: Digest.sha256(of: layer), size: size)
    }

    @Test(arguments: [true, false])
    func aBlobLongerThanItsDescriptorStopsAtTheSize(declaresLength: Bool) async {
        let layer = self.layer
        let transport = ScriptedTransport { _ in
            .response(HTTPResponse(
                status: 200, reason: "OK", headers: declaresLength ? ["Content-Length": "\(layer.count)"] : [:], body: layer))
        }
        let client = makeSession(transport).client(for: endpoint("https://registry.test"))
        let short = descriptor(size: 4_000)
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        await #expect(throws: RegistryError.sizeExceeded(.layer, short.digest, size: 4_000)) {
            try await client.downloadBlob("app", descriptor: short, kind: .layer, to: directory + "/blob")
        }
        // Refused at once, not retried, and nothing kept to resume from.
        #expect(transport.requests.count == 1)
        #expect(!FileManager.default.fileExists(atPath: directory + "/blob"))
        #expect(RegistryError.sizeExceeded(.config, short.digest, size: 4_000).description
            == "image config \(short.digest) is larger than the 4000 bytes its descriptor gives")
    }

    @Test func anIndexEntrysSizeBoundsTheChildManifest() async {
        let image = TestImage(seed: "child")
        let transport = ScriptedTransport { _ in
            .response(HTTPResponse(status: 200, reason: "OK", headers: ["Content-Type": MediaType.ociManifest.rawValue],
                                   body: image.manifest))
        }
        let client = makeSession(transport).client(for: endpoint("https://registry.test"))
        await #expect(throws: RegistryError.manifestTooLarge(
            url: "https://registry.test/v2/app/manifests/\(image.manifestDigest)", limit: 100)
        ) {
            try await client.fetchManifest("app", digest: image.manifestDigest, size: 100)
        }
    }

    /// `sha256:../../x` and a 64-character encoding with `/` in it, as a config, layer or index child digest.
    static let pathDigests: [(field: String, json: String, expected: String)] = {
        let good = Digest.sha256(of: Array("x".utf8))
        let slashes = String(repeating: "a", count: 30) + "/../../" + String(repeating: "b", count: 27)
        func image(config: String, layer: String) -> String {
            #"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"\#(config)","size":1},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"\#(layer)","size":1}]}"#
        }
        let index = #"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:../../x","size":1}]}"#
        return [
            ("layers[0].digest", image(config: good.description, layer: "sha256:../../x"),
             #"invalid digest "sha256:../../x": invalid checksum digest length"#),
            ("config.digest", image(config: "sha256:\(slashes)", layer: good.description),
             #"invalid digest "sha256:\#(slashes)": invalid checksum digest format"#),
            ("manifests[0].digest", index, #"invalid digest "sha256:../../x": invalid checksum digest length"#),
        ]
    }()

    @Test(arguments: pathDigests)
    func aDigestThatIsAPathIsRefusedByTheDecoderNamingTheManifest(field: String, json: String, expected: String) {
        let bytes = Array(json.utf8)
        let mediaType: MediaType = field.hasPrefix("manifests") ? .ociIndex : .ociManifest
        let digest = Digest.sha256(of: bytes)
        #expect(throws: RegistryError.invalidResponse(
            url: "manifest \(digest)", message: "invalid \(mediaType) document: \(field): \(expected)")
        ) {
            try FetchedManifest(bytes: bytes, mediaType: mediaType, digest: digest).decode()
        }
    }
}
