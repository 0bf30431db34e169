import FerryTestSupport
import Foundation
import OCIModel
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite struct SampleImagesTests {
    @Test func detachedRegistryServesTheDemoSetAndTerminates() async throws {
        let directory = try TemporaryDirectory()
        let registry = try await DetachedRegistry.launch(
            in: directory.path, options: RegistryServerOptions(storageDirectory: directory.appending("storage")))
        #expect(DetachedRegistry.isRunning(pid: registry.pid))
        let layout = try OCILayoutBuilder(path: directory.appending("layout"))
        let seeded = try await SampleImages.seedDemo(into: registry.endpoint, layout: layout)

        let seeder = RegistrySeeder(registry.endpoint)
        #expect(Set(try await seeder.tags("demo/app")) == Set(SampleImages.demoAppTags + ["latest"]))
        let latest = try #require(seeded.first { $0.repository == "demo/app" && $0.tag == "latest" })
        let pinned = try #require(seeded.first { $0.repository == "demo/app" && $0.tag == "1.2.0" })
        #expect(latest.artifact == pinned.artifact)
        for entry in seeded {
            let served = try await seeder.inspectRaw(entry.repository, reference: entry.tag)
            #expect(served == entry.artifact.manifestBytes, "\(entry.repository):\(entry.tag)")
        }
        let formats = Set(seeded.map { $0.artifact.descriptor.mediaType })
        #expect(formats == [.ociManifest, .dockerManifest, .ociIndex, .dockerManifestList])

        #expect(try DetachedRegistry.terminate(pid: registry.pid))
        #expect(!DetachedRegistry.isRunning(pid: registry.pid))
        #expect(kill(registry.pid, 0) == -1 && errno == ESRCH)
        #expect(try DetachedRegistry.terminate(pid: registry.pid) == false)
    }

    @Test func largeRandomLayersStreamDeterministically() throws {
        let directory = try TemporaryDirectory()
        let size: Int64 = 3 << 20 + 123
        let first = try DeterministicBlob.write(size: size, seed: 9, to: directory.appending("a"))
        let second = try DeterministicBlob.write(size: size, seed: 9, to: directory.appending("b"))
        #expect(first == second)
        #expect(try TestFiles.size(directory.appending("a")) == size)
        #expect(Digest.sha256(of: try TestFiles.read(directory.appending("a"))) == first)

        let layout = try OCILayoutBuilder(path: directory.appending("layout"))
        let image = try layout.image(ImageSpec(layers: [.random(seed: 9, size: size)]))
        let layer = image.layers[0]
        // An uncompressed layer is its own diff: header blocks + content + padding + two end blocks.
        #expect(layer.digest == layer.diffID)
        #expect(layer.descriptor.mediaType == .ociLayer)
        #expect(layer.descriptor.size == 512 * 2 + size + Int64(TarFormat.padding(after: size)) + 1024)
    }

    @Test(arguments: [("256MiB", Int64(256) << 20), ("2M", 2 << 20), ("512KiB", 512 << 10), ("4096", 4096)])
    func sizesParse(text: String, bytes: Int64) throws {
        #expect(try DeterministicBlob.parseSize(text) == bytes)
    }
}
