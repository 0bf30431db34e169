import FerryBundle
import FerrySystem
import FerryTestSupport
import Foundation
import LayoutStore
import Ledger
import OCIModel
import Testing

@Suite struct IncrementalTests {
    /// An image whose first layer is shared with `.small(seed: 1)` and whose second is new.
    static func sharingImage() -> ImageSpec {
        ImageSpec(layers: [.generated(seed: 1000), .generated(seed: 77_000)], labels: ["org.ferry.fixture.seed": "77"])
    }

    @Test func sinceABundleCarriesOnlyTheNewBlobsAndImportsOnTopOfIt() async throws {
        let directory = try TemporaryDirectory()
        let (source, digests) = try await populatedSource(directory)
        let first = try await source.export(to: directory.appending("week1.tar"))
        let target = try TargetStore(in: directory)
        _ = try await target.importBundle([first.sidecarPath])

        let added = try await source.addImage(Self.sharingImage(), repository: "team/app", tag: "1.1", at: at(5000))
        let shared = added.layers[0].digest
        #expect(first.description.blobs.contains { $0.digest == shared })

        let second = try await source.export(
            to: directory.appending("week2.tar"), since: String(first.description.id.hex.prefix(12)), now: at(11_000))
        let new = [added.manifestDigest, added.config.digest, added.layers[1].digest]
        #expect(second.description.blobs.map(\.digest) == new)
        #expect(second.description.excludedBlobs.map(\.digest).contains(shared))
        #expect(second.description.excludedBlobs.allSatisfy { $0.carriedBy == first.description.id })
        #expect(second.description.since?.bundle == first.description.id)
        #expect(second.description.since?.chain == [first.description.id])
        #expect(second.description.references.count == 4)
        #expect(second.bundleBytes < first.bundleBytes)

        let imported = try await target.importBundle([second.sidecarPath])
        #expect(imported.blobsAdded == 3)
        #expect(
            imported.rows.map(\.outcome).sorted { $0.rawValue < $1.rawValue }
                == [.pulled, .upToDate, .upToDate, .upToDate])
        var expected = Dictionary(uniqueKeysWithValues: digests.map { ("registry.test/" + $0, $1) })
        expected["registry.test/team/app:1.1"] = added.manifestDigest
        #expect(try target.references() == expected)
        #expect(try blobNames(target.store) == blobNames(source.store))

        // The chain: a third bundle since the second leaves out what either carried.
        try await source.addImage(.small(seed: 9), repository: "team/other", tag: "1", at: at(6000))
        let third = try await source.export(
            to: directory.appending("week3.tar"), since: second.sidecarPath, now: at(12_000))
        #expect(third.description.since?.chain == [second.description.id, first.description.id])
        #expect(Set(third.description.blobs.map(\.digest)).isDisjoint(with: first.description.blobs.map(\.digest)))
        #expect(Set(third.description.blobs.map(\.digest)).isDisjoint(with: second.description.blobs.map(\.digest)))
        #expect(third.description.blobs.count == 4)
        _ = try await target.importBundle([third.sidecarPath])
        #expect(try blobNames(target.store) == blobNames(source.store))
    }

    @Test func anIncrementalBundleNeedsItsBaseOnTheOtherSide() async throws {
        let directory = try TemporaryDirectory()
        let (source, _) = try await populatedSource(directory)
        let first = try await source.export(to: directory.appending("week1.tar"))
        let added = try await source.addImage(Self.sharingImage(), repository: "team/app", tag: "1.1", at: at(5000))
        let second = try await source.export(
            to: directory.appending("week2.tar"), since: first.description.id.description, now: at(11_000))
        let fresh = try TargetStore(in: directory, name: "fresh")
        let before = try treeSnapshot(fresh.root)
        await #expect(
            throws: BundleError.missingReferencedBlob(
                reference: "registry.test/team/app:1.0",
                digest: try #require(first.description.blobs.first?.digest))
        ) {
            try await fresh.importBundle([second.sidecarPath])
        }
        #expect(try treeSnapshot(fresh.root) == before)
        _ = added
    }

    @Test func sinceARunLeavesOutWhatTheStoreHadRecordedByThen() async throws {
        let directory = try TemporaryDirectory()
        let (source, _) = try await populatedSource(directory)
        let run = try #require(try await source.ledger.latestRun()).id
        let added = try await source.addImage(Self.sharingImage(), repository: "team/app", tag: "1.1", at: at(5000))
        let bundle = try await source.export(to: directory.appending("delta.tar"), since: run.rawValue)
        #expect(
            bundle.description.blobs.map(\.digest) == [
                added.manifestDigest, added.config.digest, added.layers[1].digest,
            ])
        #expect(bundle.description.since == BundleDescription.Base(bundle: nil, chain: [], run: run))
        #expect(bundle.description.excludedBlobs.allSatisfy { $0.carriedBy == nil })
        let record = try await source.ledger.bundleExport(bundle.description.id)
        #expect(record?.sinceRun == run)
        #expect(record?.excludedBlobCount == bundle.description.excludedBlobs.count)

        // A bundle since that one also leaves out what the run covered (the chain's root).
        try await source.addImage(.small(seed: 9), repository: "team/other", tag: "1", at: at(6000))
        let next = try await source.export(
            to: directory.appending("next.tar"), since: bundle.description.id.description, now: at(12_000))
        #expect(next.description.since?.run == run)
        #expect(next.description.blobs.count == 4)
    }

    @Test(arguments: ["nope", "20261129T103000Z-ffff", "sha256:abcdef"])
    func anUnknownSinceIsRefused(since: String) async throws {
        let directory = try TemporaryDirectory()
        let (source, _) = try await populatedSource(directory)
        await #expect(throws: BundleError.unknownSince(text: since)) {
            try await source.export(to: directory.appending("x.tar"), since: since)
        }
        #expect(!TestFiles.exists(directory.appending("x.tar")))
    }

    @Test func splitSizesParse() throws {
        #expect(try ByteCount.parse("4GiB") == 4 << 30)
        #expect(try ByteCount.parse("700MiB") == 700 << 20)
        #expect(try ByteCount.parse("4.7G") == 4_700_000_000)
        #expect(try ByteCount.parse("650M") == 650_000_000)
        #expect(try ByteCount.parse("64Ki") == 65_536)
        #expect(try ByteCount.parse("1k") == 1000)
        #expect(try ByteCount.parse("4096") == 4096)
        #expect(
            throws: BundleError.invalidSplitSize(
                text: "4XB", reason: "unknown unit \"xb\" (use K, M, G, T, Ki, Mi, Gi or Ti)")
        ) {
            try ByteCount.parse("4XB")
        }
        #expect(throws: BundleError.invalidSplitSize(text: "100", reason: "parts must hold at least 512 bytes")) {
            try ByteCount.parse("100")
        }
        #expect(
            throws: BundleError.invalidSplitSize(
                text: "-1G", reason: "expected a positive number with a unit, e.g. 4GiB")
        ) {
            try ByteCount.parse("-1G")
        }
    }
}
