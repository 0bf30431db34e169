import FerryBundle
import FerrySystem
import FerryTestSupport
import Foundation
import LayoutStore
import OCIModel
import Testing

/// `ferry import --check`: the import's checks, with nothing written to any store.
@Suite struct CheckTests {
    static func check(_ files: [String], store: ContentStore?, in directory: TemporaryDirectory) throws
        -> BundleCheckSummary
    {
        let scratch = try directory.makeSubdirectory("scratch-\(UUID().uuidString)")
        defer { try? FileSystem.removeTree(scratch) }
        return try BundleImporter.check(try LocatedBundle.locate(files), store: store, scratch: scratch)
    }

    @Test func aCompleteBundleChecksOutWithoutAStore() async throws {
        let directory = try TemporaryDirectory()
        let (source, _) = try await populatedSource(directory)
        let exported = try await source.export(to: directory.appending("bundle.tar"), splitSize: 8192)
        let before = try treeSnapshot(source.layout.path)

        let summary = try Self.check([exported.sidecarPath], store: nil, in: directory)
        #expect(summary.id == exported.description.id)
        #expect(summary.references == 3)
        #expect(summary.blobs == exported.description.blobs.count)
        #expect(summary.partsChecked == exported.parts.count)
        #expect(summary.bytesRead == exported.parts.map(\.part.size).reduce(0, +))
        #expect(summary.excludedBlobs == 0)
        #expect(summary.relyingOnBase == [])
        #expect(try treeSnapshot(source.layout.path) == before)
    }

    @Test func anIncrementalBundleNeedsItsBaseOnlyForWhatItLeftOut() async throws {
        let directory = try TemporaryDirectory()
        let (source, _) = try await populatedSource(directory)
        let first = try await source.export(to: directory.appending("week1.tar"))
        let target = try TargetStore(in: directory)
        _ = try await target.importBundle([first.sidecarPath])
        _ = try await source.addImage(
            IncrementalTests.sharingImage(), repository: "team/app", tag: "1.1", at: at(5000))
        let second = try await source.export(
            to: directory.appending("week2.tar"), since: first.description.id.description, now: at(11_000))
        let excluded = second.description.excludedBlobs.count
        #expect(excluded > 0)

        // Alone, the references whose manifests went in the first bundle cannot be walked; the new tag can, its
        // shared layers counting as present.
        let alone = try Self.check([second.sidecarPath], store: nil, in: directory)
        #expect(alone.references == 4)
        #expect(alone.excludedBlobs == excluded)
        #expect(alone.excludedInStore == 0)
        #expect(
            alone.relyingOnBase.sorted() == [
                "registry.test/team/app:1.0", "registry.test/team/multi:1", "registry.test/team/tool:stable",
            ])

        // Next to the store that imported the first bundle, everything is found, and that store is not touched.
        let before = try treeSnapshot(target.root)
        let withBase = try Self.check([second.sidecarPath], store: target.store, in: directory)
        #expect(withBase.excludedInStore == excluded)
        #expect(withBase.relyingOnBase == [])
        #expect(try treeSnapshot(target.root) == before)

        // A store without the first bundle's blobs: the new tag's shared layers count as left out, nothing more.
        let empty = try TargetStore(in: directory, name: "empty")
        let unrelated = try Self.check([second.sidecarPath], store: empty.store, in: directory)
        #expect(unrelated.excludedInStore == 0)
        #expect(unrelated.relyingOnBase.count == 3)
    }

    @Test(arguments: Tamper.allCases)
    func aBadBundleFailsTheCheckWithTheErrorImportGives(tamper: Tamper) async throws {
        let scene = try await RejectionScene.make()
        let before = try treeSnapshot(scene.target.root)
        let (files, expected) = try scene.forge(tamper)

        #expect(throws: expected) { try Self.check(files, store: scene.target.store, in: scene.directory) }
        #expect(try treeSnapshot(scene.target.root) == before)
    }
}
