import FerryTestSupport
import Foundation
import Ledger
import OCIModel
import Testing

/// Issue 5 against real registries: pushing to registry targets (digests preserved, a no-op second push, mounts),
/// `ferry push --to` from the store alone, `ferry verify` (`--repair`) and `ferry prune`.
@Suite(.demoRegistry) struct TargetIntegrationTests {
    /// `sha256(skopeo inspect --raw docker://REF)`: the digest a registry serves for a reference.
    static func servedDigest(_ reference: String) async throws -> Digest {
        let skopeo = try ProcessRunner.requireTool("skopeo")
        let result = try await ProcessRunner.runChecked(
            skopeo, ["inspect", "--raw", "--tls-verify=false", "docker://\(reference)"])
        return Digest.sha256(of: result.stdout)
    }

    /// The destination path component of a source registry host (`:` becomes `_`).
    static func mapped(_ host: String) -> String { host.replacingOccurrences(of: ":", with: "_") }

    @Test func syncPushesByteForByteAndASecondSyncCostsOneHeadPerTag() async throws {
        let demo = try DemoRegistry.get()
        let source = try RegistryProxy(for: demo.registry)
        let targetRegistry = try await RegistryServer.start()
        let target = try RegistryProxy(for: targetRegistry)
        let workspace = try FerryWorkspace()
        try workspace.writeConfig(plainHTTPList([source.host, target.host], images: [
            "- source: \(source.host)/demo/app:1.0.0", "  targets: [internal]",
            "- source: \(source.host)/demo/tool:1.0.0", "  targets: [internal]",
            "- source: \(source.host)/demo/multi:1.0.0", "  platforms: all", "  targets: [internal]",
        ], extra: "targets:\n  internal:\n    registry: \"\(target.host)\"\n    prefix: mirror\n"))

        let first = try await workspace.sync()
        #expect(first.status == 0, "\(first)")
        let prefix = "\(target.host)/mirror/\(Self.mapped(source.host))"
        for (repository, tag) in [("demo/app", "1.0.0"), ("demo/tool", "1.0.0"), ("demo/multi", "1.0.0")] {
            #expect(try await Self.servedDigest("\(prefix)/\(repository):\(tag)") == (try demo.artifact(repository, tag)).digest)
            #expect(first.stdout.contains("  pushed     -> \(prefix)/\(repository):\(tag)"), "\(first)")
        }
        let pushes = try await workspace.withLedger { ledger in
            try await ledger.pushes(run: try #require(try await ledger.latestRun()).id)
        }
        #expect(pushes.map(\.outcome) == [.pushed, .pushed, .pushed])

        let before = target.requests.count
        let second = try await workspace.sync()
        #expect(second.status == 0, "\(second)")
        let requests = target.requests.dropFirst(before).map { "\($0.method) \($0.path)" }.sorted()
        #expect(requests == [
            "HEAD /v2/mirror/\(Self.mapped(source.host))/demo/app/manifests/1.0.0",
            "HEAD /v2/mirror/\(Self.mapped(source.host))/demo/multi/manifests/1.0.0",
            "HEAD /v2/mirror/\(Self.mapped(source.host))/demo/tool/manifests/1.0.0",
        ])
        #expect(second.stdout.contains("  up-to-date -> \(prefix)/demo/app:1.0.0"), "\(second)")
    }

    @Test func twoImagesSharingLayersInTwoRepositoriesUseAMount() async throws {
        let sourceRegistry = try await RegistryServer.start()
        let directory = try TemporaryDirectory()
        let layout = try OCILayoutBuilder(path: directory.appending("layout"))
        let shared = LayerSpec.generated(seed: 7001)
        let first = try layout.image(ImageSpec(layers: [shared, .generated(seed: 7002)], labels: ["image": "first"]))
        let second = try layout.image(ImageSpec(layers: [shared, .generated(seed: 7003)], labels: ["image": "second"]))
        let seeder = RegistrySeeder(sourceRegistry)
        try await seeder.push(first, from: layout, to: "team/first", tag: "1")
        try await seeder.push(second, from: layout, to: "team/second", tag: "1")
        let targetRegistry = try await RegistryServer.start()
        let target = try RegistryProxy(for: targetRegistry)
        let workspace = try FerryWorkspace()
        // One job: the first image is pushed completely before the second starts, so its layer can be mounted.
        try workspace.writeConfig(plainHTTPList([sourceRegistry.host, target.host], images: [
            "- source: \(sourceRegistry.host)/team/first:1", "  targets: [internal]",
            "- source: \(sourceRegistry.host)/team/second:1", "  targets: [internal]",
        ], extra: "targets:\n  internal:\n    registry: \"\(target.host)\"\n"))
        let result = try await workspace.sync(["--jobs", "1"])
        #expect(result.status == 0, "\(result)")
        let sharedDigest = try #require(first.layers.first).digest
        let mounts = target.requests("POST").filter { $0.query?.contains("mount=\(sharedDigest)") == true }
        #expect(mounts.count == 1)
        #expect(mounts.first?.query?.contains("from=\(Self.mapped(sourceRegistry.host))/team/first") == true)
        // The shared layer's bytes went over the wire once.
        let uploads = target.requests("PUT").filter { $0.query?.contains("digest=\(sharedDigest)") == true }
        #expect(uploads.count == 1)
        let records = try await workspace.withLedger { ledger in
            try await ledger.pushes(run: try #require(try await ledger.latestRun()).id)
        }
        #expect(records.map(\.blobsMounted).sorted() == [0, 1])
        #expect(try await Self.servedDigest("\(target.host)/\(Self.mapped(sourceRegistry.host))/team/second:1") == second.manifestDigest)
    }

    @Test func pushFromTheStoreAloneKeepsDigestsAndSkopeoCopiesThemOut() async throws {
        let demo = try DemoRegistry.get()
        let source = try RegistryProxy(for: demo.registry)
        let workspace = try FerryWorkspace()
        try workspace.writeConfig(plainHTTPList([source.host], images: [
            "- source: \(source.host)/demo/app:1.1.0", "- source: \(source.host)/demo/multi-docker:1.0.0", "  platforms: all",
        ]))
        #expect(try await workspace.sync().status == 0)
        let targetRegistry = try await RegistryServer.start()
        // No --config: 127.0.0.1 is insecure by default, so the push falls back to plain http by itself.
        let pushed = try await workspace.run(["push", "--to", "\(targetRegistry.host)/airgap", "--retry-delay", "0"])
        #expect(pushed.status == 0, "\(pushed)")
        #expect(pushed.stdoutLines.last?.contains("2 references (2 pushed, 0 up-to-date, 0 failed); exit 0") == true)
        let destination = "\(targetRegistry.host)/airgap/\(Self.mapped(source.host))"
        #expect(try await Self.servedDigest("\(destination)/demo/app:1.1.0") == (try demo.artifact("demo/app", "1.1.0")).digest)
        #expect(try await Self.servedDigest("\(destination)/demo/multi-docker:1.0.0")
            == (try demo.artifact("demo/multi-docker", "1.0.0")).digest)
        let out = try TemporaryDirectory()
        let skopeo = try ProcessRunner.requireTool("skopeo")
        _ = try await ProcessRunner.runChecked(skopeo, [
            "copy", "--src-tls-verify=false", "docker://\(destination)/demo/app:1.1.0", "oci:\(out.appending("copy")):app",
        ])
        let again = try await workspace.run(["push", "--to", "\(targetRegistry.host)/airgap", "--retry-delay", "0"])
        #expect(again.stdoutLines.last?.contains("(0 pushed, 2 up-to-date, 0 failed)") == true, "\(again)")
    }

    @Test func verifyFindsACorruptBlobAndRepairFetchesItAgain() async throws {
        let demo = try DemoRegistry.get()
        let source = try RegistryProxy(for: demo.registry)
        let workspace = try FerryWorkspace()
        try workspace.writeConfig(plainHTTPList([source.host], images: ["- source: \(source.host)/demo/app:1.2.0"]))
        #expect(try await workspace.sync().status == 0)
        let healthy = try await workspace.run(["verify"])
        #expect(healthy.status == 0, "\(healthy)")
        let layer = try #require(try demo.image("demo/app", "1.2.0").layers.last).digest
        let path = workspace.store + "/blobs/sha256/" + layer.hex
        var bytes = try TestFiles.read(path)
        bytes[bytes.count / 2] ^= 0x01
        try Data(bytes).write(to: URL(fileURLWithPath: path))

        let broken = try await workspace.run(["verify"])
        #expect(broken.status == 1)
        #expect(broken.stdoutLines.contains("corrupt     \(layer): content hashes to \(Digest.sha256(of: bytes))"), "\(broken)")
        let before = source.requests.count
        let repaired = try await workspace.run(["verify", "--repair", "--config", workspace.config])
        #expect(repaired.status == 0, "\(repaired)")
        #expect(repaired.stdoutLines.last?.hasSuffix("healthy") == true, "\(repaired)")
        #expect(source.requests.dropFirst(before).map(\.path) == ["/v2/demo/app/blobs/\(layer)"])
        #expect(try workspace.corruptBlobs().isEmpty)
    }

    @Test func verifyFindsAStrayFileUnderBlobsAndRepairLeavesItAlone() async throws {
        let demo = try DemoRegistry.get()
        let workspace = try FerryWorkspace()
        try workspace.writeConfig(plainHTTPList([demo.registry.host], images: ["- source: \(demo.registry.host)/demo/app:1.0.0"]))
        #expect(try await workspace.sync().status == 0)
        let blobs = try workspace.storedBlobs()
        // What an editor or a careless copy leaves next to the blobs: not named like a digest.
        let stray = workspace.store + "/blobs/sha256/" + (try #require(blobs.first)).hex + ".orig"
        try TestFiles.write("leftover", to: stray)

        let result = try await workspace.run(["verify"])
        #expect(result.status == 1, "\(result)")
        #expect(result.stdoutLines.count == 2, "\(result)")
        #expect(result.stdoutLines.first == "stray       blobs/sha256/\((stray as NSString).lastPathComponent)")
        #expect(result.stdoutLines.last?.hasPrefix("verified \(blobs.count) blobs (") == true)
        #expect(result.stdoutLines.last?.hasSuffix(" and 1 reference: 0 corrupt, 0 missing, 0 inconsistent, 1 stray") == true)
        // Nothing to re-fetch, and a file ferry did not write is not ferry's to delete.
        let repair = try await workspace.run(["verify", "--repair", "--config", workspace.config])
        #expect(repair.status == 1, "\(repair)")
        #expect(TestFiles.exists(stray))
        try FileManager.default.removeItem(atPath: stray)
        #expect(try await workspace.run(["verify"]).status == 0)
    }

    @Test func pruneFreesExactlyTheBlobsNoReferenceNeeds() async throws {
        let registry = try await RegistryServer.start()
        let directory = try TemporaryDirectory()
        let layout = try OCILayoutBuilder(path: directory.appending("layout"))
        let old = try layout.image(.small(seed: 8101))
        let new = try layout.image(.small(seed: 8102))
        let seeder = RegistrySeeder(registry)
        try await seeder.push(old, from: layout, to: "team/app", tag: "1")
        try await seeder.push(new, from: layout, to: "team/app", tag: "next")
        let workspace = try FerryWorkspace()
        try workspace.writeConfig(plainHTTPList([registry.host], images: ["- source: \(registry.host)/team/app:1"]))
        #expect(try await workspace.sync().status == 0)
        try await seeder.moveTag("team/app", tag: "1", to: new.manifestDigest)
        #expect(try await workspace.sync().status == 0)
        let oldBlobs = Set([old.manifestDigest, old.imageID] + old.layers.map(\.digest))
        let all = try workspace.storedBlobs()
        #expect(oldBlobs.isSubset(of: all))

        let kept = try await workspace.run(["prune", "--keep", "2"])
        #expect(kept.stdoutLines.last == "freed 0 B (0 blobs); kept \(all.count) blobs", "\(kept)")
        let dry = try await workspace.run(["prune", "--dry-run"])
        let listed = Set(dry.stdoutLines.filter { $0.hasPrefix("would remove") }.compactMap {
            try? Digest(parsing: String($0.split(separator: " ", omittingEmptySubsequences: true)[2]))
        })
        #expect(listed == oldBlobs, "\(dry)")
        #expect(try workspace.storedBlobs() == all)
        let pruned = try await workspace.run(["prune"])
        #expect(pruned.status == 0)
        #expect(try workspace.storedBlobs() == all.subtracting(oldBlobs))
        #expect(try await workspace.run(["verify"]).status == 0)
    }
}
