import FerryTestSupport
import Foundation
import OCIModel
import Testing

@Suite struct RegistrySeederTests {
    @Test(arguments: ManifestFormat.allCases)
    func imagesAndIndexesKeepTheirBytesAndMediaTypes(format: ManifestFormat) async throws {
        let registry = try await RegistryServer.start()
        let directory = try TemporaryDirectory()
        let layout = try OCILayoutBuilder(path: directory.appending("layout"))
        let image = try layout.image(.small(seed: 21, format: format))
        let index = try layout.index(.multiArch(seed: 22, format: format))
        let seeder = RegistrySeeder(registry)
        try await seeder.push(image, from: layout, to: "fixtures/single", tag: "1.0.0")
        try await seeder.push(index, from: layout, to: "fixtures/multi", tag: "latest")

        #expect(try await seeder.inspectRaw("fixtures/single", reference: "1.0.0") == image.manifestBytes)
        #expect(try await seeder.inspectRaw("fixtures/multi", reference: "latest") == index.indexBytes)
        for child in index.children {
            let served = try await seeder.inspectRaw("fixtures/multi", reference: child.manifestDigest.description)
            #expect(served == child.manifestBytes)
        }

        let client = HTTPProbe()
        let accept = MediaType.acceptedManifestTypes.map(\.rawValue).joined(separator: ", ")
        let head = try await client.send(
            "HEAD", registry.baseURL + "/v2/fixtures/multi/manifests/latest", headers: ["Accept": accept])
        #expect(head.header("Content-Type") == format.indexMediaType.rawValue)
        #expect(head.header("Docker-Content-Digest") == index.digest.description)
        let layer = index.children[0].layers[0]
        let blob = try await client.send("GET", registry.baseURL + "/v2/fixtures/multi/blobs/\(layer.digest)")
        #expect(Digest.sha256(of: blob.body) == layer.digest)
    }

    @Test func pushOverHTTPMatchesSkopeoPush() async throws {
        let registry = try await RegistryServer.start()
        let directory = try TemporaryDirectory()
        let layout = try OCILayoutBuilder(path: directory.appending("layout"))
        let index = try layout.index(.multiArch(seed: 31, format: .docker))
        let seeder = RegistrySeeder(registry)
        try await seeder.pushOverHTTP(index, from: layout, to: "plain/http", tag: "v1")
        #expect(try await seeder.inspectRaw("plain/http", reference: "v1") == index.indexBytes)
        #expect(try await seeder.tags("plain/http") == ["v1"])
    }

    @Test func tagMovesAndStorageTampering() async throws {
        let registry = try await RegistryServer.start()
        let directory = try TemporaryDirectory()
        let layout = try OCILayoutBuilder(path: directory.appending("layout"))
        let old = try layout.image(.small(seed: 41))
        let new = try layout.image(.small(seed: 42))
        let seeder = RegistrySeeder(registry)
        try await seeder.push(old, from: layout, to: "moving/app", tag: "1.0")
        try await seeder.push(new, from: layout, to: "moving/app", tag: "2.0")
        try await seeder.push(old, from: layout, to: "moving/app", tag: "latest")

        // Upstream moves `latest` through the API.
        try await seeder.moveTag("moving/app", tag: "latest", to: new.manifestDigest)
        #expect(Digest.sha256(of: try await seeder.inspectRaw("moving/app", reference: "latest")) == new.manifestDigest)

        // A stale mirror: the tag is pointed back on disk, behind the registry's back.
        let storage = registry.endpoint.storage
        try storage.pointTag(repository: "moving/app", tag: "latest", to: old.manifestDigest)
        #expect(try storage.tagDigest(repository: "moving/app", tag: "latest") == old.manifestDigest)
        #expect(Digest.sha256(of: try await seeder.inspectRaw("moving/app", reference: "latest")) == old.manifestDigest)

        // A tampered blob keeps its size but no longer matches its digest.
        let layer = old.layers[0]
        let original = try storage.readBlob(layer.digest)
        let tampered = try storage.corruptBlob(layer.digest)
        let served = try await HTTPProbe().send("GET", registry.baseURL + "/v2/moving/app/blobs/\(layer.digest)")
        #expect(served.status == 200)
        #expect(served.body == tampered)
        #expect(served.body != original)
        #expect(served.body.count == original.count)
        #expect(Digest.sha256(of: served.body) != layer.digest)

        try await seeder.deleteManifest("moving/app", digest: new.manifestDigest)
        let gone = try await HTTPProbe().send("GET", registry.baseURL + "/v2/moving/app/manifests/2.0")
        #expect(gone.status == 404)
    }
}

/// Pins down a skopeo 1.9 limitation the seeder works around (and ferry's store users will meet): the `oci:`
/// transport only looks at `index.json` entries with OCI media types, so a Docker-typed entry is "not found".
@Suite struct SkopeoOCITransportTests {
    @Test func dockerTypedLayoutEntriesAreInvisibleToSkopeo() async throws {
        let directory = try TemporaryDirectory()
        let layout = try OCILayoutBuilder(path: directory.appending("layout"))
        try layout.addImage(.small(seed: 51, format: .docker), refName: "docker-typed")
        let oci = try layout.addImage(.small(seed: 52, format: .oci), refName: "oci-typed")
        let found = try await ProcessRunner.run("skopeo", ["inspect", "--raw", "oci:\(layout.path):oci-typed"])
        #expect(found.status.isSuccess)
        #expect(found.stdout == oci.manifestBytes)
        let missing = try await ProcessRunner.run("skopeo", ["inspect", "--raw", "oci:\(layout.path):docker-typed"])
        #expect(!missing.status.isSuccess)
        #expect(missing.stderrText.contains("no descriptor found for reference"))
    }
}
