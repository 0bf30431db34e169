import FerryTestSupport
import Foundation
import LayoutStore
import Ledger
import OCIModel
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `ferry merge` refusing what it must: bad arguments, a corrupt blob in a source (nothing of that source's history
/// is merged), a source another run holds; and a second store merged into one that already has runs.
@Suite(.demoRegistry) struct MergeIntegrationTests {
    /// A workspace synced with `images` from the demo registry at `host`.
    static func synced(_ host: String, _ images: [String], shard: String? = nil) async throws -> FerryWorkspace {
        let workspace = try FerryWorkspace()
        try workspace.writeConfig(plainHTTPList([host], images: images.map { "- source: \(host)/\($0)" }))
        let result = try await workspace.sync(shard.map { ["--shard", $0] } ?? [])
        #expect(result.status == 0, "\(result)")
        return workspace
    }

    @Test func badArgumentsAreRefusedBeforeAnythingIsWritten() async throws {
        let demo = try DemoRegistry.get()
        let source = try await Self.synced(demo.registry.host, ["demo/tool:1.0.0"])
        let merged = try FerryWorkspace()
        let missing = merged.directory.appending("nothing-here")
        let cases: [([String], Int32, String)] = [
            (["merge"], 64, "Error: give the stores to merge into --store"),
            (["merge", source.store, source.store], 64, "Error: \(source.store) is given twice"),
            (["merge", merged.store], 64, "Error: cannot merge \(merged.store) into itself: it is the --store"),
            (["merge", missing], 74,
             "Error: no ferry store at \(missing): it needs index.json and ferry.db (the store of a ferry sync --shard run)"),
        ]
        for (arguments, status, line) in cases {
            let result = try await merged.runBinary(arguments)
            #expect(result.status == status, "\(arguments): \(result)")
            #expect(result.stderrLines.first == line, "\(arguments): \(result)")
        }
        #expect(!FileManager.default.fileExists(atPath: merged.store))

        // A copy of the store itself carries its store ID.
        let copy = merged.directory.appending("copy")
        try FileManager.default.copyItem(atPath: source.store, toPath: copy)
        let itself = try await source.runBinary(["merge", copy])
        #expect(itself.status == 74, "\(itself)")
        #expect(itself.stderrLines == [
            "Error: cannot merge \(copy): \(source.store)/ferry.db: \(copy)/ferry.db is this store, or a copy of it "
                + "(same store ID)"
        ])
    }

    @Test func aCorruptBlobStopsTheMergeBeforeThatSourcesHistory() async throws {
        let demo = try DemoRegistry.get()
        let good = try await Self.synced(demo.registry.host, ["demo/tool:1.0.0"])
        let bad = try await Self.synced(demo.registry.host, ["demo/app:1.0.0"])
        let layer = try #require(try demo.image("demo/app", "1.0.0").layers.first?.digest)
        let path = bad.store + "/blobs/sha256/" + layer.hex
        var bytes = try TestFiles.read(path)
        bytes[0] ^= 0xFF
        try TestFiles.write(bytes, to: path)
        let actual = Digest.sha256(of: bytes)

        let merged = try FerryWorkspace()
        let result = try await merged.runBinary(["merge", good.store, bad.store])
        #expect(result.status == 74, "\(result)")
        #expect(result.stderrLines == [
            "Error: cannot merge \(bad.store): \(path): blob \(layer) is corrupt: content hashes to \(actual)"
        ])
        #expect(try merged.corruptBlobs() == [])
        let observed = try await merged.withLedger { ledger in
            var references: [String] = []
            for run in try await ledger.runs() { references += try await ledger.observations(run: run.id).map(\.reference) }
            return references
        }
        // The good store was merged; nothing of the bad one.
        #expect(observed == ["\(demo.registry.host)/demo/tool:1.0.0"])
    }

    @Test func aSourceAnotherRunHoldsIsRefused() async throws {
        let demo = try DemoRegistry.get()
        let proxy = try RegistryProxy(for: demo.registry)
        defer { proxy.stop() }
        let shard = try FerryWorkspace()
        try shard.writeConfig(plainHTTPList([proxy.host], images: ["- source: \(proxy.host)/demo/app:1.0.0"]))
        let holder = try await shard.spawnStalledSync(through: proxy)
        let locked = try shard.lockedLine(holder: holder, command: "sync")
        let merged = try FerryWorkspace()
        let refused = try await merged.runBinary(["merge", shard.store])
        #expect(refused.status == 75, "\(refused)")
        #expect(refused.stderrLines == [locked])
        holder.send(SIGTERM)
        #expect(try await holder.waitForExit() == .exited(143))
        proxy.releaseStalls()
    }

    @Test func aStoreWithHistoryTakesAnotherStoresRunsBesideItsOwn() async throws {
        let demo = try DemoRegistry.get()
        let host = demo.registry.host
        let main = try await Self.synced(host, ["demo/tool:1.0.0"])
        let other = try await Self.synced(host, ["demo/app:1.2.0", "demo/multi:1.0.0"])
        let result = try await main.runBinary(["merge", other.store])
        #expect(result.status == 0, "\(result)")
        let runs = try await main.withLedger { try await $0.runs() }
        #expect(runs.count == 2)
        let names = try ContentStore(root: main.store).namedReferences().map(\.name).sorted()
        #expect(names == ["\(host)/demo/app:1.2.0", "\(host)/demo/multi:1.0.0", "\(host)/demo/tool:1.0.0"])
        #expect(try await main.run(["verify"]).status == 0)
        // The other store's run is the newest: the reports written point at it.
        let latest = try JSONValue.parse(try TestFiles.read(main.store + "/reports/latest.json"))
        #expect(latest["run"]?["id"] == .string(try #require(runs.first).id.rawValue))
    }
}

/// A merge killed at any durable step (each blob renamed into place, the reference-store commits, index.json, each
/// report file) leaves a store the rerun completes: the same as a merge that was never killed.
@Suite(.demoRegistry) struct MergeCrashTests {
    @Test func aMergeKilledAnywhereIsCompletedByTheRerun() async throws {
        let demo = try DemoRegistry.get()
        let host = demo.registry.host
        let list = plainHTTPList([host], images: RandomKillTests.references.map { "- source: \(host)/\($0)" })
        var shards: [FerryWorkspace] = []
        for index in 0..<2 {
            let shard = try FerryWorkspace()
            try shard.writeConfig(list)
            let result = try await shard.sync(["--shard", "\(index)/2", "--shard-group", "crash-1"])
            #expect(result.status == 0, "\(result)")
            shards.append(shard)
        }
        let arguments = ["merge"] + shards.map(\.store)
        let clean = try FerryWorkspace()
        let points = try await RandomKillTests.countPoints(arguments, store: clean.store, workspace: clean)
        let expectedNames = try ContentStore(root: clean.store).namedReferences().map(\.name).sorted()
        let expectedBlobs = try clean.storedBlobs()
        #expect(expectedNames.count == RandomKillTests.references.count)

        // Every point when there are few, else an even spread that includes the first and the last.
        let step = max(1, points / 12)
        for point in Array(stride(from: 1, through: points, by: step)) + [points] {
            let merged = try FerryWorkspace()
            try await RandomKillTests.killed(arguments, store: merged.store, at: point, workspace: merged)
            let rerun = try await merged.runBinary(arguments)
            #expect(rerun.status == 0, "killed at \(point) of \(points): \(rerun)")
            try await RandomKillTests.expectConsistent(merged.store, context: "killed at \(point) of \(points)")
            #expect(try ContentStore(root: merged.store).namedReferences().map(\.name).sorted() == expectedNames)
            #expect(try merged.storedBlobs() == expectedBlobs, "killed at \(point)")
            let runs = try await merged.withLedger { try await $0.runs() }
            #expect(runs.count == 1, "killed at \(point)")
            #expect(runs.first?.counts.references == expectedNames.count, "killed at \(point)")
            let run = try #require(runs.first)
            #expect(FileManager.default.fileExists(atPath: merged.store + "/reports/\(run.id).json"), "killed at \(point)")
        }
    }
}
