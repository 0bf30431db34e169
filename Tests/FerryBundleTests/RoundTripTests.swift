import FerryBundle
import FerrySystem
import FerryTestSupport
import Foundation
import LayoutStore
import Ledger
import OCIModel
import Testing

/// A source store with an OCI image, a Docker image sharing nothing, and a three-platform index.
func populatedSource(_ directory: TemporaryDirectory) async throws -> (SourceStore, [String: Digest]) {
    let source = try SourceStore(in: directory)
    var digests: [String: Digest] = [:]
    digests["team/app:1.0"] =
        try await source.addImage(.small(seed: 1), repository: "team/app", tag: "1.0", at: at(0)).manifestDigest
    digests["team/tool:stable"] =
        try await source.addImage(
            .small(seed: 2, format: .docker), repository: "team/tool", tag: "stable", at: at(100),
            attempts: [
                EndpointAttempt(endpoint: "https://mirror-a.example", error: "503 Service Unavailable", fellBack: true)
            ]
        ).manifestDigest
    digests["team/multi:1"] = try await source.addIndex(
        .multiArch(seed: 3), repository: "team/multi", tag: "1", at: at(200)
    )
    .digest
    return (source, digests)
}

@Suite struct RoundTripTests {
    @Test func singleFileBundleRestoresEveryReferenceAndBlobByteForByte() async throws {
        let directory = try TemporaryDirectory()
        let (source, digests) = try await populatedSource(directory)
        let file = directory.appending("bundle.tar")
        let summary = try await source.export(to: file)

        #expect(summary.parts.map(\.path) == [file])
        #expect(summary.sidecarPath == file + ".ferry-bundle.json")
        #expect(try TestFiles.size(file) == summary.bundleBytes)
        #expect(Digest.sha256(of: try TestFiles.read(file)) == summary.parts[0].part.sha256)
        #expect(!TestFiles.exists(file + ".partial"))
        #expect(
            summary.description.references.map(\.name).sorted() == digests.keys.map { "registry.test/" + $0 }.sorted())
        #expect(Set(summary.description.blobs.map(\.digest)) == Set(try source.store.allBlobs()))
        #expect(summary.description.excludedBlobs.isEmpty)
        // Manifests and indexes stream first.
        let manifests = summary.description.blobs.prefix(5).map(\.digest)
        #expect(Set(manifests).isSuperset(of: digests.values))

        let target = try TargetStore(in: directory)
        let imported = try await target.importBundle([file])
        #expect(imported.alreadyImported == nil)
        #expect(imported.blobsAdded == summary.description.blobs.count)
        #expect(imported.partsChecked == 1)
        #expect(imported.rows.map(\.outcome) == [.pulled, .pulled, .pulled])
        #expect(
            try target.references() == Dictionary(uniqueKeysWithValues: digests.map { ("registry.test/" + $0, $1) }))
        let blobs = try treeSnapshot(source.store.root + "/blobs")
        #expect(try treeSnapshot(target.root + "/blobs") == blobs)
        #expect(try FileSystem.list(target.root + "/tmp").isEmpty)
    }

    @Test func theSidecarCanBeGivenInsteadOfTheTar() async throws {
        let directory = try TemporaryDirectory()
        let (source, _) = try await populatedSource(directory)
        let file = directory.appending("bundle.tar")
        let summary = try await source.export(to: file)
        let target = try TargetStore(in: directory)
        let imported = try await target.importBundle([summary.sidecarPath])
        #expect(imported.id == summary.description.id)
        #expect(imported.blobsAdded == summary.description.blobs.count)
    }

    @Test(arguments: [512, 700, 4096 + 17, 65_536, 1 << 20])
    func splitBundleRoundTripsAtAnyPartSize(splitSize: Int) async throws {
        let directory = try TemporaryDirectory()
        let (source, digests) = try await populatedSource(directory)
        let file = directory.appending("split.tar")
        let summary = try await source.export(to: file, splitSize: Int64(splitSize))

        let expectedCount = Int((summary.bundleBytes + Int64(splitSize) - 1) / Int64(splitSize))
        #expect(summary.parts.count == expectedCount)
        for (index, part) in summary.parts.enumerated() {
            #expect(part.path == BundleFiles.partPath(for: file, number: index + 1))
            #expect(try TestFiles.size(part.path) == part.part.size)
            #expect(Digest.sha256(of: try TestFiles.read(part.path)) == part.part.sha256)
            if index < summary.parts.count - 1 { #expect(part.part.size == Int64(splitSize)) }
        }
        #expect(!TestFiles.exists(file))

        let target = try TargetStore(in: directory)
        // Any part names the bundle; the others are found next to it.
        let imported = try await target.importBundle([summary.parts.last!.path])
        #expect(imported.partsChecked == expectedCount)
        #expect(
            try target.references() == Dictionary(uniqueKeysWithValues: digests.map { ("registry.test/" + $0, $1) }))
        #expect(try treeSnapshot(target.root + "/blobs") == treeSnapshot(source.store.root + "/blobs"))
    }

    @Test func partBoundariesInsideTarHeadersAreFine() async throws {
        let directory = try TemporaryDirectory()
        let (source, digests) = try await populatedSource(directory)
        let whole = try await source.export(to: directory.appending("whole.tar"))
        // Header offsets, found by walking the ustar stream independently of FerryBundle.
        let archive = try TestFiles.read(whole.parts[0].path)
        var headers: [Int] = []
        var offset = 0
        for entry in Forge.entries(of: archive) {
            headers.append(offset)
            offset += 512 + entry.content.count + TarFormat.padding(after: Int64(entry.content.count))
        }
        #expect(headers.count > 6)
        // Each size puts the first boundary 100 bytes into a different header (index.json's, a blob's).
        for header in [headers[2], headers[5], headers[headers.count - 1]] {
            let splitSize = header + 100
            let out = try TemporaryDirectory()
            let summary = try await source.export(to: out.appending("b.tar"), splitSize: Int64(splitSize))
            #expect(summary.description.id == whole.description.id)
            let target = try TargetStore(in: out)
            _ = try await target.importBundle([summary.sidecarPath])
            #expect(
                try target.references() == Dictionary(uniqueKeysWithValues: digests.map { ("registry.test/" + $0, $1) })
            )
        }
    }

    @Test func importingTheSameBundleTwiceChangesNothing() async throws {
        let directory = try TemporaryDirectory()
        let (source, _) = try await populatedSource(directory)
        let file = directory.appending("bundle.tar")
        let summary = try await source.export(to: file, splitSize: 4096)
        let target = try TargetStore(in: directory)
        let first = try await target.importBundle([summary.sidecarPath], now: at(20_000))
        let before = try treeSnapshot(target.root)

        let second = try await target.importBundle([summary.parts[0].path], now: at(30_000))
        #expect(second.alreadyImported?.runID == first.runID)
        #expect(second.alreadyImported?.importedAt == at(20_000))
        #expect(second.runID == nil && second.blobsAdded == 0 && second.partsChecked == 0)
        #expect(try treeSnapshot(target.root) == before)
        try await target.withLedger { ledger async throws in
            #expect(try await ledger.bundleImports().map(\.id) == [summary.description.id])
            #expect(try await ledger.runs().filter { $0.command == "import" }.count == 1)
        }
    }

    @Test func exportingUnchangedContentAgainGivesTheSameBundleID() async throws {
        let directory = try TemporaryDirectory()
        let (source, _) = try await populatedSource(directory)
        let first = try await source.export(to: directory.appending("a.tar"), now: at(10_000))
        let second = try await source.export(to: directory.appending("b.tar"), now: at(11_000))
        #expect(first.description.id == second.description.id)
        #expect(first.parts[0].part.sha256 != second.parts[0].part.sha256)
        let target = try TargetStore(in: directory)
        _ = try await target.importBundle([first.sidecarPath])
        #expect(try await target.importBundle([second.sidecarPath]).alreadyImported != nil)
        let record = try await source.ledger.bundleExport(first.description.id)
        #expect(record?.path == directory.appending("b.tar"))
        #expect(try await source.ledger.bundleExports().count == 1)
    }

    @Test func exportRefusesToOverwriteAndLeavesNothingBehindOnFailure() async throws {
        let directory = try TemporaryDirectory()
        let (source, _) = try await populatedSource(directory)
        let file = directory.appending("bundle.tar")
        try TestFiles.write("keep me", to: file + ".part0002")
        await #expect(throws: BundleError.outputExists(path: file + ".part0002")) {
            try await source.export(to: file, splitSize: 4096)
        }
        #expect(try TestFiles.readText(file + ".part0002") == "keep me")
        #expect(!TestFiles.exists(file + ".part0001"))

        // A blob damaged in the store stops the export; no file of the bundle remains, nothing is recorded.
        let layer = try #require(source.layout.artifact(named: SourceStore.name("team/app", "1.0"))?.blobs.last)
        let path = source.store.blobPath(layer.digest)
        var bytes = try TestFiles.read(path)
        bytes[bytes.count / 2] ^= 0x01
        try TestFiles.write(bytes, to: path)
        let out = directory.appending("damaged.tar")
        await #expect(
            throws: BundleError.storeBlobCorrupt(digest: layer.digest, actual: Digest.sha256(of: bytes), path: path)
        ) {
            try await source.export(to: out, splitSize: 4096)
        }
        let left = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter {
            $0.hasPrefix("damaged")
        }
        #expect(left.isEmpty)
        #expect(try await source.ledger.bundleExports().isEmpty)
    }

    @Test func aStoreWithoutReferencesHasNothingToExport() async throws {
        let directory = try TemporaryDirectory()
        let store = ContentStore(root: directory.appending("empty"))
        try store.prepare()
        let ledger = try ReferenceStore.open(at: directory.appending("empty/ferry.db"))
        defer { try? ledger.close() }
        await #expect(throws: BundleError.nothingToExport(store: store.root)) {
            try await BundleExporter(store: store, ledger: ledger, logger: silentLogger).export(
                BundleExporter.Options(file: directory.appending("x.tar"), toolVersion: "test"))
        }
    }

    @Test func partsOnSeveralMediaAreFoundFromTheFilesGiven() async throws {
        let directory = try TemporaryDirectory()
        let (source, digests) = try await populatedSource(directory)
        let summary = try await source.export(to: directory.appending("b.tar"), splitSize: 8192)
        #expect(summary.parts.count >= 3)
        // Spread the parts over "discs"; the sidecar travels on the first.
        var given: [String] = []
        for (index, part) in summary.parts.enumerated() {
            let disc = try directory.makeSubdirectory("disc\(index % 2)")
            let moved = disc + "/" + part.part.name
            try FileSystem.rename(part.path, to: moved)
            given.append(moved)
        }
        try FileSystem.rename(summary.sidecarPath, to: directory.appending("disc0/b.tar.ferry-bundle.json"))
        let target = try TargetStore(in: directory)
        _ = try await target.importBundle([directory.appending("disc0/b.tar.ferry-bundle.json"), given[1]])
        #expect(
            try target.references() == Dictionary(uniqueKeysWithValues: digests.map { ("registry.test/" + $0, $1) }))
    }
}
