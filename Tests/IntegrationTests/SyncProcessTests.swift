import FerryTestSupport
import Foundation
import Ledger
import OCIModel
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The built `ferry` binary as cron runs it: the store lock and a clean stop on SIGTERM.
@Suite(.demoRegistry) struct SyncProcessTests {
    static func isStall(_ event: RegistryProxy.Event, path: @escaping (String) -> Bool) -> Bool {
        if case .stalled(let request, _) = event { return path(request.path) }
        return false
    }

    /// The JSON object on a `--log-format json` console line, if it is one.
    static func json(_ line: String) -> [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
    }

    @Test func aSecondSyncWhileOneRunsExits75NamingTheHolder() async throws {
        let demo = try DemoRegistry.get()
        let proxy = try RegistryProxy(for: demo.registry)
        defer { proxy.stop() }
        let workspace = try FerryWorkspace()
        try workspace.writeConfig(plainHTTPList([proxy.host], images: ["- source: \(proxy.host)/demo/app:1.0.0"]))
        // The first run holds the lock while a blob transfer hangs at the proxy.
        let holder = try await workspace.spawnStalledSync(through: proxy)

        let second = try workspace.spawn(["sync", "--config", workspace.config])
        #expect(try await second.waitForExit() == .exited(75))
        #expect(second.stderr.lines() == [try workspace.lockedLine(holder: holder, command: "sync")])
        #expect(second.stdout.lines() == [])

        holder.send(SIGTERM)
        #expect(try await holder.waitForExit() == .exited(143))
    }

    @Test func sigtermMidTransferStopsCleanlyAndTheRerunResumesWithRange() async throws {
        let registry = try await RegistryServer.start()
        let directory = try TemporaryDirectory()
        let layout = try OCILayoutBuilder(path: directory.appending("layout"))
        let small = try layout.image(.small(seed: 97))
        let big = try layout.image(ImageSpec(layers: [.random(seed: 98, size: 6 << 20)], labels: ["seed": "98"]))
        let seeder = RegistrySeeder(registry)
        try await seeder.push(small, from: layout, to: "team/small", tag: "1")
        try await seeder.push(big, from: layout, to: "team/big", tag: "1")
        let proxy = try RegistryProxy(for: registry)
        defer { proxy.stop() }
        let layer = big.layers[0].digest
        let stallAt: Int64 = 5 << 19  // 2.5 MiB of 6
        proxy.stallBodies(after: stallAt) { $0.path.hasSuffix("/blobs/\(layer)") }
        let smallReference = "\(proxy.host)/team/small:1"
        let bigReference = "\(proxy.host)/team/big:1"
        let workspace = try FerryWorkspace()
        try workspace.writeConfig(plainHTTPList([proxy.host], images: ["- source: \(smallReference)", "- source: \(bigReference)"]))

        let process = try workspace.spawn(["sync", "--config", workspace.config, "--jobs", "1", "--log-format", "json"])
        // Wait until the small image is recorded, the big image's config is stored, and its layer is mid-transfer
        // with at least one buffer (1 MiB) written to the partial file.
        let smallDone = await process.stdout.waitForLine(timeout: 30) { line in
            let object = Self.json(line)
            return object?["event"] as? String == "finished" && object?["reference"] as? String == smallReference
        }
        guard case .line = smallDone else { Issue.record("small image not finished: \(smallDone)"); return }
        let configDone = await process.stdout.waitForLine(timeout: 30) { line in
            Self.json(line)?["digest"] as? String == big.config.digest.description
                && Self.json(line)?["event"] as? String == "blob-finished"
        }
        guard case .line = configDone else { Issue.record("big config not stored: \(configDone)"); return }
        _ = try await proxy.events.wait(for: "the big layer to stall") { Self.isStall($0) { $0.hasSuffix(layer.hex) } }
        let partial = workspace.store + "/tmp/sha256-\(layer.hex).partial"
        try await DirectoryWatch.wait(in: workspace.store + "/tmp", for: "1 MiB of the layer on disk") {
            ((try? TestFiles.size(partial)) ?? 0) >= 1 << 20
        }

        process.send(SIGTERM)
        #expect(try await process.waitForExit() == .exited(143))
        let events = process.stdout.lines().compactMap(Self.json)
        #expect(events.contains { $0["event"] as? String == "stopping" && $0["signal"] as? Int == 15 })
        let summary = try #require(events.last)
        #expect(summary["event"] as? String == "summary")
        #expect(summary["status"] as? String == "interrupted")
        #expect(summary["exitStatus"] as? Int == 143)
        #expect(summary["interrupted"] as? Int == 1)
        let (interrupted, firstObservations) = try await workspace.withLedger { ledger in
            let run = try #require(try await ledger.latestRun())
            return (run, try await ledger.observations(run: run.id))
        }
        #expect(interrupted.status == .interrupted)
        #expect(interrupted.exitStatus == 143)
        #expect(firstObservations.map(\.reference) == [smallReference])
        let kept = try TestFiles.size(partial)
        #expect(kept >= 1 << 20 && kept <= stallAt)
        #expect(!(try workspace.storedBlobs()).contains(layer))

        proxy.releaseStalls()
        let before = proxy.requests.count
        let rerun = try await workspace.sync(["--jobs", "1"])
        #expect(rerun.status == 0, "\(rerun)")
        let requests = proxy.requests.dropFirst(before)
        // Only the unfinished layer is fetched again, from where the first run stopped.
        let blobs = requests.filter { $0.path.contains("/blobs/") }
        #expect(blobs.map(\.path) == ["/v2/team/big/blobs/\(layer)"])
        #expect(blobs.first?.headers["Range"] == "bytes=\(kept)-")
        #expect(requests.map { "\($0.method) \($0.path)" }.filter { $0.contains("/manifests/") } == [
            "HEAD /v2/team/small/manifests/1", "HEAD /v2/team/big/manifests/1",
        ])
        let observations = try await workspace.withLedger { ledger in
            let run = try #require(try await ledger.latestRun())
            return try await ledger.observations(run: run.id)
        }
        #expect(observations.map(\.outcome) == [.upToDate, .pulled])
        #expect(observations.last?.bytesTransferred == big.layers[0].descriptor.size - kept)

        // The store verifies: every blob hashes to its name, nothing is left in tmp/, skopeo reads the image.
        #expect(try workspace.corruptBlobs() == [])
        #expect(try workspace.storedBlobs().isSuperset(of: [layer, big.config.digest, big.manifestDigest]))
        #expect(try workspace.temporaryFiles() == [])
        let inspected = try await ProcessRunner.runChecked(
            "skopeo", ["--insecure-policy", "inspect", "--raw", "oci:\(workspace.store):\(bigReference)"])
        #expect(inspected.stdout == big.manifestBytes)
        withExtendedLifetime(registry) {}
    }
}
