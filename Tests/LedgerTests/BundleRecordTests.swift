import Foundation
import OCIModel
import Testing

@testable import Ledger

@Suite struct BundleRecordTests {
    @Test func aVersion1FileIsUpgradedWithItsDataKept() async throws {
        let directory = try TemporaryDirectory()
        try ReferenceStore.openAsOlderVersion(
            at: directory.database, through: "v1-reference-store",
            then: """
                INSERT INTO run (id, command, dryRun, startedAt, status)
                    VALUES ('20261129T103000Z-0001', 'sync', 0, '2026-11-29 10:30:00.000', 'completed');
                INSERT INTO repository (name, domain, path, firstSeen, firstRunId)
                    VALUES ('docker.io/library/alpine', 'docker.io', 'library/alpine', '2026-11-29 10:30:01.000',
                            '20261129T103000Z-0001');
                INSERT INTO tag (repositoryId, name, manifestDigest, mediaType, firstSeen, lastSeen, lastChecked,
                                 servedBy, lastRunId)
                    VALUES (1, '3.20', '\(digest("A"))', 'application/vnd.oci.image.manifest.v1+json',
                            '2026-11-29 10:30:01.000', '2026-11-29 10:30:01.000', '2026-11-29 10:30:01.000',
                            'https://mirror.example.internal', '20261129T103000Z-0001');
                """)
        let store = try ReferenceStore.open(at: directory.database)
        defer { try? store.close() }
        #expect(try await store.storageInfo().migrations == ["v1-reference-store", "v2-pushes", "v3-bundles", "v4-names", "v5-request-economy", "v6-referrers", "v7-shards"])
        #expect(try await store.storageInfo().schemaVersion == 7)
        let tag = try await store.tag(repository: try ref("alpine").repository, tag: "3.20")
        #expect(tag?.manifestDigest == digest("A"))
        #expect(tag?.bundleID == nil)
        #expect(try await store.latestRun()?.bundleID == nil)
        let id = try await store.storeID()
        #expect(id.count == 32 && id.allSatisfy(\.isHexDigit))
        #expect(try await store.bundleImports().isEmpty)
        #expect(try await store.bundleExports().isEmpty)
    }

    @Test func exportsAreRecordedAndChainedForSince() async throws {
        let harness = try await Harness()
        let store = harness.store
        try await harness.record("alpine:3.20", image("A", id: "config A"))
        let first = BundleExportRecord(
            id: digest("bundle 1"), createdAt: at(10), path: "/media/b1.tar", toolVersion: "test",
            references: [
                BundleReference(
                    name: "docker.io/library/alpine:3.20", digest: digest("A"), mediaType: .ociManifest, size: 10)
            ],
            blobs: [BundleBlob(digest: digest("A"), size: 10), BundleBlob(digest: digest("config A"), size: 20)]
                .sorted { $0.digest < $1.digest },  // the store lists them by digest
            excludedBlobCount: 0, parts: [BundlePart(name: "b1.tar", size: 4096, sha256: digest("part"))])
        try await store.recordExport(first)
        let second = BundleExportRecord(
            id: digest("bundle 2"), createdAt: at(20), sinceBundle: first.id, path: "/media/b2.tar",
            toolVersion: "test",
            references: first.references, blobs: [BundleBlob(digest: digest("L"), size: 30)], excludedBlobCount: 2,
            parts: [BundlePart(name: "b2.tar.part0001", size: 512, sha256: digest("p1"))])
        try await store.recordExport(second)

        #expect(try await store.bundleExport(first.id) == first)
        #expect(try await store.bundleExport(second.id) == second)
        #expect(
            try await store.exportChain(from: second.id) == BundleExportChain(bundles: [second.id, first.id], run: nil))
        #expect(try await store.exportChain(from: digest("nope")) == nil)
        #expect(
            try await store.blobsCarried(by: [second.id, first.id]) == [
                digest("L"): second.id, digest("A"): first.id, digest("config A"): first.id,
            ])
        #expect(try await store.bundleExportIDs(matching: String(first.id.hex.prefix(8))) == [first.id])
        #expect(try await store.bundleExportIDs(matching: "sha256:" + second.id.hex) == [second.id])
        #expect(try await store.manifestsRecorded(through: harness.run) == [digest("A")])

        // The same content exported again keeps its blobs and takes the new parts and path.
        var again = first
        again.createdAt = at(30)
        again.path = "/media/again.tar"
        again.parts = [BundlePart(name: "again.tar", size: 4096, sha256: digest("other part"))]
        try await store.recordExport(again)
        #expect(try await store.bundleExport(first.id)?.parts == again.parts)
        #expect(try await store.bundleExport(first.id)?.blobs == first.blobs)
        #expect(try await store.bundleExports().map(\.id) == [first.id, second.id])
    }

    @Test func anImportIsRecordedOnceAndMovesTagsWithTheExportingStoresHistory() async throws {
        let source = try await Harness()
        try await source.record("alpine:3.20", image("A", id: "config A"), at: at(1))
        try await source.store.finishRun(source.run, RunFinish(finishedAt: at(2), status: .completed, exitStatus: 0))
        let alpine = try ref("alpine:3.20")
        let history = try await source.store.history(of: [alpine], manifests: [digest("A")])
        #expect(history.runs.map(\.id) == [source.run])
        #expect(history.repositories.first?.tags.first?.servedBy == mirror)
        #expect(history.observations.count == 1)

        let target = try ReferenceStore.inMemory()
        let request = BundleImportRequest(
            bundleID: digest("bundle"), createdAt: at(10), sourceStore: "abc", exportToolVersion: "test",
            toolVersion: "test", files: ["/media/b.tar.ferry-bundle.json", "/media/b.tar"],
            references: [
                ImportedReference(
                    reference: alpine, digest: digest("A"), mediaType: .ociManifest, imageID: digest("config A"))
            ],
            history: history, blobCount: 3, blobsAdded: 3, bytesAdded: 100, importedAt: at(100))
        let result = try await target.recordImport(request)
        #expect(result.rows.map(\.outcome) == [.pulled])
        #expect(result.driftEvents.isEmpty)
        let tag = try await target.tag(repository: alpine.repository, tag: "3.20")
        #expect(tag?.servedBy == mirror)
        #expect(tag?.lastRunID == source.run)
        #expect(tag?.bundleID == digest("bundle"))
        #expect(try await target.run(source.run)?.bundleID == digest("bundle"))
        #expect(try await target.observations(run: result.runID).first?.bundleID == digest("bundle"))
        #expect(try await target.bundleImport(digest("bundle"))?.files == request.files)

        await #expect(throws: LedgerError.bundleAlreadyImported(path: ":memory:", bundle: digest("bundle"))) {
            try await target.recordImport(request)
        }
        // A later sync here takes the tag over: it no longer came from the bundle.
        let local = try await Harness(store: target, startedAt: at(200))
        try await local.record("alpine:3.20", image("A", id: "config A"), at: at(201))
        #expect(try await target.tag(repository: alpine.repository, tag: "3.20")?.bundleID == nil)
    }

    @Test func aBundleMappingAKnownDigestToAnotherImageIDIsDrift() async throws {
        let target = try await Harness()
        try await target.record("alpine:3.20", image("A", id: "config A"))
        let alpine = try ref("alpine:3.20")
        let request = BundleImportRequest(
            bundleID: digest("bundle"), createdAt: at(10), sourceStore: "abc", exportToolVersion: "test",
            toolVersion: "test", files: [],
            references: [
                ImportedReference(
                    reference: alpine, digest: digest("A"), mediaType: .ociManifest, imageID: digest("config B"))
            ],
            history: LedgerHistory(), blobCount: 0, blobsAdded: 0, bytesAdded: 0, importedAt: at(100))
        let result = try await target.store.recordImport(request)
        #expect(result.rows.map(\.outcome) == [.drift])
        #expect(result.driftEvents.map(\.kind) == [.imageIDDrift])
        #expect(result.driftEvents.first?.oldValue == digest("config A"))
        #expect(result.driftEvents.first?.newValue == digest("config B"))
        #expect(try await target.mapping("alpine", "A")?.imageID == digest("config A"))
        #expect(try await target.store.run(result.runID)?.exitStatus == 2)
    }

    @Test func aHistoryNamingARunItDoesNotCarryIsRefused() async throws {
        let source = try await Harness()
        try await source.record("alpine:3.20", image("A", id: "config A"))
        var history = try await source.store.history(of: [try ref("alpine:3.20")], manifests: [digest("A")])
        history.runs = []
        let target = try ReferenceStore.inMemory()
        let request = BundleImportRequest(
            bundleID: digest("bundle"), createdAt: at(10), sourceStore: "abc", exportToolVersion: "test",
            toolVersion: "test", files: [], references: [], history: history, blobCount: 0, blobsAdded: 0,
            bytesAdded: 0)
        await #expect {
            try await target.recordImport(request)
        } throws: { error in
            guard case LedgerError.invalidBundleHistory(_, let bundle, let reason) = error else { return false }
            return bundle == digest("bundle") && reason.hasPrefix("tag docker.io/library/alpine:3.20 names run")
        }
        #expect(try await target.runs().isEmpty)
    }

    @Test func peekingAtImportsWritesNothing() async throws {
        let directory = try TemporaryDirectory()
        #expect(try ReferenceStore.peekImport(of: digest("b"), at: directory.database) == nil)
        #expect(!FileManager.default.fileExists(atPath: directory.database))
        do {
            let store = try ReferenceStore.open(at: directory.database)
            try store.close()
        }
        let before = try Data(contentsOf: URL(fileURLWithPath: directory.database))
        #expect(try ReferenceStore.peekImport(of: digest("b"), at: directory.database) == nil)
        #expect(try Data(contentsOf: URL(fileURLWithPath: directory.database)) == before)
    }
}
