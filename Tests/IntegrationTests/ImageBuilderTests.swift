import FerryTestSupport
import Foundation
import OCIModel
import Testing

@Suite struct ImageBuilderTests {
    @Test func sameSpecGivesSameBytesInAnyLayout() throws {
        let first = try TemporaryDirectory()
        let second = try TemporaryDirectory()
        let a = try OCILayoutBuilder(path: first.appending("layout")).index(.multiArch(seed: 7))
        let b = try OCILayoutBuilder(path: second.appending("layout")).index(.multiArch(seed: 7))
        #expect(a == b)
        let c = try OCILayoutBuilder(path: second.appending("layout")).index(.multiArch(seed: 8))
        #expect(a.digest != c.digest)
    }

    @Test func digestsMatchStoredBytes() throws {
        let directory = try TemporaryDirectory()
        let layout = try OCILayoutBuilder(path: directory.appending("layout"))
        let index = try layout.addIndex(.multiArch(seed: 3, format: .docker), refName: "multi:1")
        #expect(index.index.mediaType == .dockerManifestList)
        #expect(Set(index.childDigests.keys) == Set(FixturePlatform.multiArch))
        for image in index.children {
            #expect(
                Digest.sha256(of: try TestFiles.read(layout.blobPath(image.manifestDigest))) == image.manifestDigest)
            let config = try JSONDecoder().decode(ImageConfiguration.self, from: Data(image.configBytes))
            #expect(config.rootfs?.diff_ids == image.layers.map(\.diffID))
            #expect(config.architecture == image.platform.architecture)
            #expect(config.variant == image.platform.variant)
            for layer in image.layers {
                #expect(layer.descriptor.mediaType == .dockerLayerGzip)
                let bytes = try TestFiles.read(layout.blobPath(layer.digest))
                #expect(Int64(bytes.count) == layer.descriptor.size)
                #expect(Digest.sha256(of: bytes) == layer.digest)
            }
        }
        let indexJSON = try JSONDecoder().decode(
            ImageIndex.self, from: Data(try TestFiles.read(layout.path + "/index.json")))
        #expect(indexJSON.manifests.map(\.digest) == [index.digest])
        #expect(indexJSON.manifests.first?.annotations?[Descriptor.refNameAnnotation] == "multi:1")
    }

    @Test func gzipLayersAreValidForTarAndGzip() async throws {
        let directory = try TemporaryDirectory()
        let layout = try OCILayoutBuilder(path: directory.appending("layout"))
        let image = try layout.image(.small(seed: 11, layers: 1))
        let layerPath = layout.blobPath(image.layers[0].digest)
        try await ProcessRunner.runChecked("gzip", ["-t", layerPath])
        let listing = try await ProcessRunner.runChecked("tar", ["-tvzf", layerPath]).stdoutText
        #expect(listing.contains("etc/ferry-fixture"))
        #expect(listing.contains("data/file-2.bin"))
        let unpacked = try await ProcessRunner.runChecked("gzip", ["-dc", layerPath]).stdout
        #expect(Digest.sha256(of: unpacked) == image.layers[0].diffID)
    }

    @Test func umociReadsTheLayout() async throws {
        _ = try ProcessRunner.requireTool("umoci")
        let directory = try TemporaryDirectory()
        let layout = try OCILayoutBuilder(path: directory.appending("layout"))
        let image = try layout.addImage(.small(seed: 5), refName: "app-1.0")
        let stat = try await ProcessRunner.runChecked("umoci", ["stat", "--json", "--image", layout.path + ":app-1.0"])
        #expect(stat.stdoutText.contains("ferry fixture layer 1"))
        let bundle = directory.appending("bundle")
        try await ProcessRunner.runChecked(
            "umoci", ["unpack", "--rootless", "--image", layout.path + ":app-1.0", bundle])
        #expect(TestFiles.exists(bundle + "/rootfs/etc/ferry-fixture"))
        _ = image
    }
}
