import FerryTestSupport
import Foundation
import OCIModel
import Testing

@Suite struct RegistryStorageWriterTests {
    /// Three images written straight into the storage tree, then served by a real registry: every manifest and blob
    /// comes back byte for byte under its digest, with the media type and the tags that were written.
    @Test func treeWrittenDirectlyIsServedByteForByte() async throws {
        let directory = try TemporaryDirectory()
        let storage = RegistryStorage(root: directory.appending("storage"))
        // 1000 bytes is not a multiple of 8: the generator's last word is split, as in a streamed layer.
        let images = try (0..<3).map { seed in
            try InMemoryImage(
                ImageSpec(layers: [.random(seed: UInt64(seed), size: 1000)], labels: ["seed": String(seed)]))
        }
        let placed = [("direct/app", ["1.0.0", "latest"]), ("direct/app", ["1.1.0"]), ("direct/tool", ["2.0.0"])]
        let writer = RegistryStorageWriter(storage: storage)
        for (image, (repository, tags)) in zip(images, placed) {
            try writer.put(image, repository: repository, tags: tags)
        }
        let digest = images[0].image.manifestDigest
        let link = try TestFiles.read(storage.tagLinkPath(repository: "direct/app", tag: "latest"))
        #expect(link == Array(digest.description.utf8), "a link holds the digest without a line feed")

        let registry = try await RegistryServer.start(RegistryServerOptions(storageDirectory: storage.root))
        let seeder = RegistrySeeder(registry)
        #expect(Set(try await seeder.tags("direct/app")) == ["1.0.0", "1.1.0", "latest"])
        #expect(try await seeder.tags("direct/tool") == ["2.0.0"])
        let client = HTTPProbe()
        for (image, (repository, tags)) in zip(images, placed) {
            for tag in tags {
                let served = try await seeder.inspectRaw(repository, reference: tag)
                #expect(served == image.image.manifestBytes, "\(repository):\(tag)")
                #expect(Digest.sha256(of: served) == image.image.manifestDigest)
            }
            let head = try await client.send(
                "HEAD", "\(registry.baseURL)/v2/\(repository)/manifests/\(image.image.manifestDigest)",
                headers: ["Accept": MediaType.ociManifest.rawValue])
            #expect(head.header("Content-Type") == MediaType.ociManifest.rawValue)
            for (descriptor, bytes) in image.blobs where descriptor != image.image.manifest {
                let blob = try await client.send("GET", "\(registry.baseURL)/v2/\(repository)/blobs/\(descriptor.digest)")
                #expect(blob.status == 200)
                #expect(blob.body == bytes, "\(repository) blob \(descriptor.digest)")
            }
        }
        // A blob is readable only through the repositories it was linked into.
        let foreign = images[2].image.layers[0].digest
        let missing = try await client.send("HEAD", "\(registry.baseURL)/v2/direct/app/blobs/\(foreign)")
        #expect(missing.status == 404)
    }

    /// The scale set: names, one distinct image per reference, and the first references of a larger set are the
    /// smaller set, which is what lets one registry serve every size of the benchmark.
    @Test func scaleSetIsServedAndNestsBySize() async throws {
        let directory = try TemporaryDirectory()
        let registry = try await RegistryServer.start(
            RegistryServerOptions(storageDirectory: directory.appending("storage")))
        let seeded = try SampleImages.seedScale(
            into: registry.endpoint.storage, images: 3, tagsPerRepository: 2, layerSize: 1024)
        let references = seeded.map { "\($0.repository):\($0.tag)" }
        #expect(references == ["scale/repo-000:1.0.0", "scale/repo-000:1.1.0", "scale/repo-001:1.0.0"])
        #expect(Set(seeded.flatMap { $0.artifact.images.flatMap(\.blobs).map(\.digest) }).count == 6)
        let seeder = RegistrySeeder(registry)
        for entry in seeded {
            let served = try await seeder.inspectRaw(entry.repository, reference: entry.tag)
            #expect(served == entry.artifact.manifestBytes)
            #expect(Digest.sha256(of: served) == entry.artifact.digest)
        }

        let larger = try SampleImages.seedScale(
            into: RegistryStorage(root: directory.appending("larger")), images: 5, tagsPerRepository: 2,
            layerSize: 1024)
        #expect(Array(larger.prefix(3)) == seeded)
    }

    /// An image built in memory is the image the layout builder streams to files, digest for digest.
    @Test func inMemoryImagesEqualLayoutImages() throws {
        let directory = try TemporaryDirectory()
        let layout = try OCILayoutBuilder(path: directory.appending("layout"))
        let spec = ImageSpec(
            layers: [.random(seed: 7, size: 1000), .generated(seed: 8, compression: .none)], labels: ["a": "b"])
        let built = try InMemoryImage(spec)
        let streamed = try layout.image(spec)
        #expect(built.image == streamed)
        for (descriptor, bytes) in built.blobs {
            #expect(try TestFiles.read(layout.blobPath(descriptor.digest)) == bytes)
        }
        #expect(throws: TestSupportError.self) { try InMemoryImage(.small(seed: 9)) }
    }
}
