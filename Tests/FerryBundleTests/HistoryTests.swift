import FerryBundle
import FerrySystem
import FerryTestSupport
import Foundation
import LayoutStore
import Ledger
import OCIModel
import Testing

@Suite struct HistoryTests {
    @Test func theImportingSideKnowsWhereEveryReferenceCameFrom() async throws {
        let directory = try TemporaryDirectory()
        let (source, digests) = try await populatedSource(directory)
        let app = try ImageReference(parsing: "registry.test/team/app:1.0")
        let original = try #require(source.layout.artifact(named: app.string))
        // The tag moved away and back (the second time as an immutable tag: drift), so there is history and a
        // drift event to carry.
        let moved = try await source.addImage(
            .small(seed: 50), repository: "team/app", tag: "1.0", at: at(1000), servedBy: "https://registry.test")
        let driftRun = try await source.ledger.beginRun(RunStart(startedAt: at(1500), command: "sync"))
        _ = try await source.ledger.record(
            Observation(
                runID: driftRun, reference: app, immutable: true, observedAt: at(1501),
                result: .resolved(
                    ResolvedManifest(
                        digest: digests["team/app:1.0"]!, mediaType: .ociManifest,
                        imageID: original.images[0].imageID,
                        servedBy: mirrorEndpoint))))
        try await source.ledger.finishRun(driftRun, RunFinish(finishedAt: at(1502), status: .completed, exitStatus: 2))
        // index.json still points at the image recorded last.
        try source.layout.tag(original, as: app.string)
        #expect(moved.manifestDigest != original.digest)

        let sourceTag = try #require(try await source.ledger.tag(repository: app.repository, tag: "1.0"))
        let sourceHistory = try await source.ledger.tagHistory(repository: app.repository, tag: "1.0")
        let sourceDrift = try await source.ledger.driftEvents(reference: app)
        #expect(sourceHistory.count == 3)
        #expect(sourceDrift.map(\.kind) == [.tagMoved])

        let bundle = try await source.export(to: directory.appending("b.tar"))
        let history = try bundle.wholeDescription().history
        #expect(history.driftEvents.map(\.kind) == [.tagMoved])
        #expect(history.runs.count == 5)
        let target = try TargetStore(in: directory)
        let imported = try await target.importBundle([bundle.sidecarPath], now: at(20_000))

        try await target.withLedger { ledger async throws in
            let tag = try #require(try await ledger.tag(repository: app.repository, tag: "1.0"))
            #expect(tag.manifestDigest == sourceTag.manifestDigest)
            #expect(tag.servedBy == mirrorEndpoint)
            #expect(tag.firstSeen == sourceTag.firstSeen)
            #expect(tag.lastSeen == sourceTag.lastSeen)
            #expect(tag.lastRunID == sourceTag.lastRunID)
            #expect(tag.bundleID == bundle.description.id)
            #expect(try await ledger.tagHistory(repository: app.repository, tag: "1.0") == sourceHistory)

            let drift = try await ledger.driftEvents(reference: app)
            #expect(drift.map(\.kind) == [.tagMoved])
            #expect(drift.first?.runID == sourceDrift.first?.runID)
            #expect(drift.first?.oldValue == sourceDrift.first?.oldValue)
            #expect(drift.first?.bundleID == bundle.description.id)

            // Every mapping of every exported manifest, with the run and endpoint that first recorded it.
            let tool = try ImageReference(parsing: "registry.test/team/tool:stable")
            let toolMapping = try #require(
                try await ledger.digest(repository: tool.repository, digest: digests["team/tool:stable"]!))
            let sourceMapping = try await source.ledger.digest(
                repository: tool.repository, digest: digests["team/tool:stable"]!)
            #expect(toolMapping == sourceMapping)
            let multi = try ImageReference(parsing: "registry.test/team/multi:1")
            #expect(
                try await ledger.digestMappings(repository: multi.repository, digest: digests["team/multi:1"]!).count
                    == 3)

            // The source runs arrive with their IDs; the import is a run of its own.
            let runs = try await ledger.runs(limit: 100)
            #expect(runs.count == 6)
            let importRun = try #require(runs.first { $0.command == "import" })
            #expect(importRun.id == imported.runID)
            #expect(importRun.status == .completed)
            #expect(importRun.counts.pulled == 3)
            #expect(runs.filter { $0.command == "sync" }.allSatisfy { $0.bundleID == bundle.description.id })
            let observations = try await ledger.observations(run: importRun.id)
            #expect(observations.map(\.reference).sorted() == digests.keys.map { "registry.test/" + $0 }.sorted())
            #expect(observations.allSatisfy { $0.bundleID == bundle.description.id })
            #expect(observations.first { $0.reference == tool.string }?.servedBy == mirrorEndpoint)
            // The observation that explains the tool's provenance: the mirror that was skipped, and why.
            let toolRun = try #require(sourceMapping?.firstRunID)
            let toolObservations = try await ledger.observations(run: toolRun)
            #expect(toolObservations.first?.attempts.map(\.endpoint) == ["https://mirror-a.example"])
            #expect(toolObservations.first?.bundleID == bundle.description.id)

            let record = try #require(try await ledger.bundleImport(bundle.description.id))
            #expect(record.runID == importRun.id)
            #expect(record.sourceStore == bundle.description.sourceStore.id)
            #expect(record.files == [bundle.sidecarPath, bundle.parts[0].path])
            #expect(record.blobsAdded == bundle.description.blobs.count)

            let inventory = try await ledger.inventory()
            #expect(
                inventory.repositories.map(\.repository) == [
                    "registry.test/team/app", "registry.test/team/multi", "registry.test/team/tool",
                ])
        }
    }

    @Test func aTagObservedLaterHereKeepsItsDigest() async throws {
        let directory = try TemporaryDirectory()
        let (source, digests) = try await populatedSource(directory)
        let old = try await source.export(to: directory.appending("old.tar"), now: at(10_000))
        let newer = try await source.addImage(.small(seed: 60), repository: "team/app", tag: "1.0", at: at(11_000))
        let new = try await source.export(to: directory.appending("new.tar"), now: at(12_000))

        let target = try TargetStore(in: directory)
        _ = try await target.importBundle([new.sidecarPath])
        #expect(try target.references()["registry.test/team/app:1.0"] == newer.manifestDigest)
        // The older bundle arrives late: the tag does not move back, the rest is still imported.
        let late = try await target.importBundle([old.sidecarPath])
        #expect(late.rows.first { $0.reference == "registry.test/team/app:1.0" }?.outcome == .upToDate)
        #expect(try target.references()["registry.test/team/app:1.0"] == newer.manifestDigest)
        #expect(try target.references()["registry.test/team/tool:stable"] == digests["team/tool:stable"])
        try await target.withLedger { ledger async throws in
            let tag = try await ledger.tag(
                repository: try ImageReference(parsing: "registry.test/team/app").repository, tag: "1.0")
            #expect(tag?.manifestDigest == newer.manifestDigest)
            #expect(tag?.bundleID == new.description.id)
        }
    }

    @Test func theSidecarIsTheEmbeddedDescriptionPlusParts() async throws {
        let directory = try TemporaryDirectory()
        let (source, _) = try await populatedSource(directory)
        let bundle = try await source.export(to: directory.appending("b.tar"), splitSize: 4096)
        let sidecarBytes = try TestFiles.read(bundle.sidecarPath)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(sidecarBytes)) as? [String: Any])
        #expect(
            Set(object.keys) == [
                "formatVersion", "id", "createdAt", "toolVersion", "sourceStore", "references", "blobs",
                "excludedBlobs", "history", "parts",
            ])
        #expect(object["formatVersion"] as? Int == 1)
        #expect(object["createdAt"] as? String == "2026-11-29T13:16:40.000Z")
        let parts = try #require(object["parts"] as? [[String: Any]])
        #expect(parts.count == bundle.parts.count)
        #expect(parts.first?["name"] as? String == "b.tar.part0001")
        #expect(parts.first?["sha256"] as? String == bundle.parts[0].part.sha256.description)
        let history = try #require(object["history"] as? [String: Any])
        #expect(Set(history.keys) == ["runs", "repositories", "observations", "driftEvents"])

        var archive: [UInt8] = []
        for part in bundle.parts { archive += try TestFiles.read(part.path) }
        let entries = Forge.entries(of: archive)
        #expect(
            entries.prefix(5).map(\.path) == [
                "ferry-bundle.json", "oci-layout", "index.json", "blobs/", "blobs/sha256/",
            ])
        #expect(entries[0].content == (try bundle.wholeDescription().encoded()))
        #expect(entries[1].content == ContentStore.layoutMarker)
        #expect(entries.dropFirst(5).map(\.path) == bundle.description.blobs.map { "blobs/sha256/\($0.digest.hex)" })
        let decoded = try BundleSidecar.decode(sidecarBytes, path: bundle.sidecarPath)
        #expect(decoded.description.outline == bundle.description)
        #expect(decoded.parts == bundle.parts.map(\.part))
    }
}
