import ArgumentParser
import FerryBundle
import FerryTestSupport
import Foundation
import LayoutStore
import Ledger
import OCIModel
import Synchronization
import Testing

@testable import FerryCommands

/// Collects a command's output lines.
final class CollectedLines: LineSink, Sendable {
    private let storage = Mutex<[String]>([])
    func writeLine(_ text: String) { storage.withLock { $0.append(text) } }
    var lines: [String] { storage.withLock { $0 } }
}

/// Runs `ferry <arguments>` in-process as the binary would parse it; returns the status and stdout lines, or the
/// `CommandFailure` the command threw.
func ferry(_ arguments: [String]) async throws -> (status: FerryCommands.ExitStatus, lines: [String]) {
    let parsed = try FerryCommand.parseAsRoot(arguments)
    let output = CollectedLines()
    switch parsed {
    case let command as FerryCommand.Sync:
        return (try await command.run(Environment(global: command.global)), [])
    case let command as FerryCommand.Export:
        return (try await command.run(Environment(global: command.global), output: output), output.lines)
    case let command as FerryCommand.Import:
        return (try await command.run(Environment(global: command.global), output: output), output.lines)
    default:
        throw TestSupportError.invalidArgument("not a command this test runs: \(arguments)")
    }
}

/// The end-to-end flow of the issue: a real registry, `ferry sync`, `ferry export`, `ferry import` into a fresh
/// store, and skopeo copying the imported images to a second registry with their original digests.
@Suite(.serialized) struct BundleIntegrationTests {
    /// Seeds registry A with the demo set and syncs some of it into store A.
    static func syncedStore(
        _ directory: TemporaryDirectory, registry: RegistryServer, tags: [String]
    ) async throws
        -> [SeededReference]
    {
        let layout = try OCILayoutBuilder(path: directory.appending("seed-layout"))
        let seeded = try await SampleImages.seedDemo(into: registry.endpoint, layout: layout)
        try writeList(directory, registry: registry, appTags: tags)
        let (status, _) = try await ferry([
            "sync", "--config", directory.appending("list.yaml"), "--store", directory.appending("store-a"), "--quiet",
        ])
        #expect(status == .ok)
        return seeded
    }

    static func writeList(_ directory: TemporaryDirectory, registry: RegistryServer, appTags: [String]) throws {
        let host = registry.host
        try TestFiles.write(
            """
            version: 1
            registries:
              \(host):
                tls: plain-http
            images:
              - source: \(host)/demo/app
                tags: [\(appTags.map { "\"\($0)\"" }.joined(separator: ", "))]
              - source: \(host)/demo/multi:1.0.0
                platforms: all
              - source: \(host)/demo/tool:1.0.0
            """, to: directory.appending("list.yaml"))
    }

    @Test func exportImportAndSkopeoCopyKeepEveryDigest() async throws {
        let registryA = try await RegistryServer.start()
        let registryB = try await RegistryServer.start()
        defer {
            _ = registryA.stop()
            _ = registryB.stop()
        }
        let directory = try TemporaryDirectory()
        let seeded = try await Self.syncedStore(directory, registry: registryA, tags: ["1.0.0"])
        let host = registryA.host
        func original(_ repository: String, _ tag: String) throws -> BuiltArtifact {
            try #require(seeded.first { $0.repository == repository && $0.tag == tag }).artifact
        }

        // Export in parts small enough that every boundary falls somewhere inside the stream's entries.
        let bundle = directory.appending("usb/week1.tar")
        try directory.makeSubdirectory("usb")
        let exported = try await ferry([
            "export", "--store", directory.appending("store-a"), "--to", bundle, "--split-size", "48KiB",
        ])
        #expect(exported.status == .ok)
        #expect(exported.lines.first?.hasPrefix("bundle sha256:") == true)
        #expect(exported.lines.last?.hasPrefix("exported 3 references, ") == true)
        let sidecar = try BundleSidecar.decode(try TestFiles.read(bundle + ".ferry-bundle.json"), path: bundle)
        #expect(sidecar.parts.count > 1)

        let storeB = directory.appending("store-b")
        // Checked first, as on the media before they cross the air gap: nothing is written, no store is created.
        let checked = try await ferry(["import", "--check", bundle + ".part0002", "--store", storeB])
        #expect(checked.status == .ok)
        #expect(checked.lines.contains { $0.hasPrefix("checked \(sidecar.parts.count) parts") })
        #expect(
            checked.lines.last?.hasPrefix(
                "bundle sha256:\(sidecar.description.id.shortHex) is good: 3 references (every manifest "
                    + "read), \(sidecar.description.blobs.count) blobs in ") == true, "\(checked.lines)")
        #expect(checked.lines.last?.hasSuffix("; nothing was written") == true)
        #expect(!FileManager.default.fileExists(atPath: storeB))

        let imported = try await ferry(["import", bundle + ".part0001", "--store", storeB])
        #expect(imported.status == .ok)
        #expect(
            imported.lines.last?.hasPrefix("imported 3 references (3 pulled, 0 up-to-date, 0 updated, 0 drift)") == true
        )
        #expect(imported.lines.contains { $0.hasPrefix("checked \(sidecar.parts.count) parts") })

        // skopeo reads the imported store and pushes it; the second registry serves the original digests.
        for (repository, tag) in [("demo/app", "1.0.0"), ("demo/multi", "1.0.0")] {
            let artifact = try original(repository, tag)
            let ref = "\(host)/\(repository):\(tag)"
            let raw = try await ProcessRunner.runChecked("skopeo", ["inspect", "--raw", "oci:\(storeB):\(ref)"])
            #expect(Digest.sha256(of: raw.stdout) == artifact.digest, "\(ref) in store B")
            try await ProcessRunner.runChecked(
                "skopeo",
                [
                    "copy", "--all", "--preserve-digests", "--quiet", "--dest-tls-verify=false", "oci:\(storeB):\(ref)",
                    "docker://\(registryB.host)/mirror/\(repository):\(tag)",
                ])
            let pushed = try await ProcessRunner.runChecked(
                "skopeo",
                ["inspect", "--raw", "--tls-verify=false", "docker://\(registryB.host)/mirror/\(repository):\(tag)"])
            #expect(Digest.sha256(of: pushed.stdout) == artifact.digest, "\(ref) on registry B")
            let inspected = try await ProcessRunner.runChecked(
                "skopeo", ["inspect", "--tls-verify=false", "docker://\(registryB.host)/mirror/\(repository):\(tag)"])
            let digest =
                try #require(
                    try JSONSerialization.jsonObject(with: Data(inspected.stdout)) as? [String: Any])["Digest"]
                as? String
            #expect(digest == artifact.digest.description, "skopeo inspect of \(ref) on registry B")
            for child in artifact.images {
                let served = try await ProcessRunner.runChecked(
                    "skopeo",
                    [
                        "inspect", "--raw", "--tls-verify=false",
                        "docker://\(registryB.host)/mirror/\(repository)@\(child.manifestDigest)",
                    ])
                #expect(served.stdout == child.manifestBytes)
            }
        }
        // A Docker-typed image arrives byte for byte too (skopeo 1.9's oci: transport does not read Docker media
        // types, see TESTING.md, so it is checked in the store itself).
        let tool = try original("demo/tool", "1.0.0")
        let storeBLayout = ContentStore(root: storeB)
        #expect(try storeBLayout.reference(named: "\(host)/demo/tool:1.0.0")?.digest == tool.digest)
        for blob in tool.blobs { #expect(storeBLayout.hasBlob(blob.digest)) }

        // The reference store on the air-gapped side says where every image came from.
        let ledger = try ReferenceStore.open(at: storeB + "/ferry.db")
        defer { try? ledger.close() }
        let inventory = try await ledger.inventory()
        #expect(
            inventory.repositories.map(\.repository) == ["\(host)/demo/app", "\(host)/demo/multi", "\(host)/demo/tool"])
        for entry in inventory.repositories {
            for tag in entry.tags {
                #expect(tag.servedBy == registryA.baseURL, "\(entry.repository):\(tag.tag)")
                #expect(tag.bundleID == sidecar.description.id)
            }
        }
        #expect(try await ledger.runs(limit: 10).map(\.command).sorted() == ["import", "sync"])
    }

    @Test func anIncrementalBundleCarriesOnlyTheNewTagsBlobs() async throws {
        let registryA = try await RegistryServer.start()
        defer { _ = registryA.stop() }
        let directory = try TemporaryDirectory()
        let seeded = try await Self.syncedStore(directory, registry: registryA, tags: ["1.0.0"])
        let storeA = directory.appending("store-a")
        let storeB = directory.appending("store-b")
        let week1 = directory.appending("week1.tar")
        #expect(try await ferry(["export", "--store", storeA, "--to", week1]).status == .ok)
        #expect(try await ferry(["import", week1, "--store", storeB]).status == .ok)
        let week1ID = try BundleSidecar.decode(try TestFiles.read(week1 + ".ferry-bundle.json"), path: week1)
            .description.id

        // One new tag upstream, synced; the weekly bundle holds exactly its blobs.
        try Self.writeList(directory, registry: registryA, appTags: ["1.0.0", "1.1.0"])
        let (status, _) = try await ferry([
            "sync", "--config", directory.appending("list.yaml"), "--store", storeA, "--quiet",
        ])
        #expect(status == .ok)
        let week2 = directory.appending("week2.tar")
        let exported = try await ferry([
            "export", "--store", storeA, "--to", week2, "--since", String(week1ID.hex.prefix(12)),
        ])
        #expect(exported.status == .ok)
        #expect(
            exported.lines.contains { $0.hasPrefix("since bundle sha256:\(week1ID.hex.prefix(12)) (chain of 1): ") })
        let new = try #require(seeded.first { $0.repository == "demo/app" && $0.tag == "1.1.0" }).artifact
        let sidecar = try BundleSidecar.decode(try TestFiles.read(week2 + ".ferry-bundle.json"), path: week2)
        #expect(Set(sidecar.description.blobs.map(\.digest)) == Set([new.digest] + new.blobs.map(\.digest)))
        #expect(sidecar.description.blobs.first?.digest == new.digest)

        // --check next to the store that has week 1 reads every manifest; without it, the three references whose
        // manifests went in week 1 are only partly checked.
        let excluded = sidecar.description.excludedBlobs.count
        let withBase = try await ferry(["import", "--check", week2, "--store", storeB])
        #expect(withBase.status == .ok)
        #expect(withBase.lines.contains { $0.hasSuffix("of them are in \(storeB)") && $0.contains("\(excluded) of") })
        #expect(withBase.lines.last?.contains("4 references (every manifest read)") == true, "\(withBase.lines)")
        let alone = try await ferry(["import", "--check", week2, "--store", directory.appending("nowhere")])
        #expect(alone.status == .ok)
        #expect(alone.lines.filter { $0.hasPrefix("partly checked  ") }.count == 3)
        #expect(alone.lines.last?.contains("4 references (1 with every manifest read, 3 partly)") == true)

        let imported = try await ferry(["import", week2 + ".ferry-bundle.json", "--store", storeB])
        #expect(imported.status == .ok)
        #expect(
            imported.lines.last?.hasPrefix(
                "imported 4 references (1 pulled, 3 up-to-date, 0 updated, 0 drift), "
                    + "\(sidecar.description.blobs.count) blobs (\(sidecar.description.blobs.count) new"
            ) == true)
        let ref = "\(registryA.host)/demo/app:1.1.0"
        let raw = try await ProcessRunner.runChecked("skopeo", ["inspect", "--raw", "oci:\(storeB):\(ref)"])
        #expect(Digest.sha256(of: raw.stdout) == new.digest)

        // Again: nothing to do, exit 0, and the store does not change.
        let before = try Self.snapshot(storeB)
        let again = try await ferry(["import", week2, "--store", storeB])
        #expect(again.status == .ok)
        #expect(again.lines.count == 1 && again.lines[0].contains("was already imported"))
        #expect(try Self.snapshot(storeB) == before)
    }

    @Test func aTamperedBundleExits65AndLeavesTheStoreAlone() async throws {
        let registryA = try await RegistryServer.start()
        defer { _ = registryA.stop() }
        let directory = try TemporaryDirectory()
        _ = try await Self.syncedStore(directory, registry: registryA, tags: ["1.0.0"])
        let storeA = directory.appending("store-a")
        let bundle = directory.appending("b.tar")
        #expect(try await ferry(["export", "--store", storeA, "--to", bundle, "--split-size", "16KiB"]).status == .ok)

        // The receiving store already holds something (an earlier bundle with another tag), and stays as it is.
        let storeB = directory.appending("store-b")
        let seedBundle = directory.appending("seed.tar")
        try Self.writeList(directory, registry: registryA, appTags: ["1.2.0"])
        let (status, _) = try await ferry([
            "sync", "--config", directory.appending("list.yaml"), "--store", directory.appending("store-c"), "--quiet",
        ])
        #expect(status == .ok)
        #expect(
            try await ferry(["export", "--store", directory.appending("store-c"), "--to", seedBundle]).status == .ok)
        #expect(try await ferry(["import", seedBundle, "--store", storeB]).status == .ok)
        let before = try Self.snapshot(storeB)
        #expect(before["ferry.db"] != nil && before["ferry.db-wal"] != nil && before["index.json"] != nil)

        var part = try TestFiles.read(bundle + ".part0002")
        part[700] ^= 0x20
        try TestFiles.write(part, to: bundle + ".part0002")
        await #expect {
            try await ferry(["import", bundle, "--store", storeB])
        } throws: { error in
            guard let failure = error as? CommandFailure else { return false }
            return failure.status == .invalidInput
                && failure.message.hasPrefix(
                    "cannot import \(bundle).ferry-bundle.json: \(bundle).part0002: bundle part is corrupt: SHA-256 ")
                && failure.message.hasSuffix("; the store is unchanged")
        }
        #expect(try Self.snapshot(storeB) == before)
        // --check finds the same damage, with its own wording, and writes nothing either.
        await #expect {
            try await ferry(["import", "--check", bundle, "--store", storeB])
        } throws: { error in
            guard let failure = error as? CommandFailure else { return false }
            return failure.status == .invalidInput
                && failure.message.hasPrefix(
                    "bundle \(bundle).ferry-bundle.json is bad: \(bundle).part0002: bundle part is corrupt: SHA-256 ")
        }
        #expect(try Self.snapshot(storeB) == before)

        // Into a store that does not exist yet: refused, and no store directory is left behind.
        let fresh = directory.appending("store-new")
        await #expect(throws: CommandFailure.self) { try await ferry(["import", bundle, "--store", fresh]) }
        #expect(!FileManager.default.fileExists(atPath: fresh))

        try FileManager.default.removeItem(atPath: bundle + ".part0003")
        await #expect {
            try await ferry(["import", bundle, "--store", storeB])
        } throws: { error in
            (error as? CommandFailure)?.message.contains("bundle part 3 of ") == true
        }
        #expect(try Self.snapshot(storeB) == before)
    }

    @Test func gnuTarReadsABundleAndSkopeoReadsWhatItUnpacks() async throws {
        let registryA = try await RegistryServer.start()
        defer { _ = registryA.stop() }
        let directory = try TemporaryDirectory()
        let seeded = try await Self.syncedStore(directory, registry: registryA, tags: ["1.0.0"])
        let bundle = directory.appending("b.tar")
        #expect(try await ferry(["export", "--store", directory.appending("store-a"), "--to", bundle]).status == .ok)
        let listing = try await ProcessRunner.runChecked("tar", ["-tf", bundle])
        let names = listing.stdoutText.split(separator: "\n").map(String.init)
        #expect(Array(names.prefix(5)) == ["ferry-bundle.json", "oci-layout", "index.json", "blobs/", "blobs/sha256/"])
        let unpacked = try directory.makeSubdirectory("unpacked")
        try await ProcessRunner.runChecked("tar", ["-xf", bundle, "-C", unpacked])
        let app = try #require(seeded.first { $0.repository == "demo/app" && $0.tag == "1.0.0" }).artifact
        let raw = try await ProcessRunner.runChecked(
            "skopeo", ["inspect", "--raw", "oci:\(unpacked):\(registryA.host)/demo/app:1.0.0"])
        #expect(Digest.sha256(of: raw.stdout) == app.digest)
    }

    /// Relative one-letter paths, as typed at a shell prompt: Foundation's path helpers trap on such names, so
    /// this runs the built binary from inside the working directory.
    @Test func oneLetterRelativePathsWorkForSyncExportAndImport() async throws {
        let registry = try await RegistryServer.start()
        defer { _ = registry.stop() }
        let directory = try TemporaryDirectory()
        _ = try await SampleImages.seedDemo(
            into: registry.endpoint, layout: try OCILayoutBuilder(path: directory.appending("seed-layout")))
        try Self.writeList(directory, registry: registry, appTags: ["1.0.0"])
        let binary = try PackageProduct.path(of: "ferry")
        let script = """
            cd "$1" && "$2" sync --quiet --config list.yaml --store s && "$2" export --quiet --store s --to b \
              && "$2" import --quiet --store i b
            """
        let result = try await ProcessRunner.run("bash", ["-c", script, "bash", directory.path, binary])
        #expect(result.status == .exited(0), "\(result.stderrText)")
        #expect(try ContentStore(root: directory.appending("i")).references().count == 3)
        #expect(FileManager.default.fileExists(atPath: directory.appending("b.ferry-bundle.json")))
    }

    /// The store's files and their SHA-256 (directories as the hash of nothing), `ferry.db-wal` included; without
    /// the run lock's holder note and SQLite's shared-memory index, which readers rewrite. A missing store throws.
    static func snapshot(_ root: String) throws -> [String: Digest] {
        _ = try TestFiles.list(root)
        var out: [String: Digest] = [:]
        let skipped: Set<String> = ["ferry.lock", "ferry.db-shm"]
        let walker = try #require(FileManager.default.enumerator(atPath: root))
        while let relative = walker.nextObject() as? String {
            if skipped.contains(relative) { continue }
            let path = root + "/" + relative
            var isDirectory: ObjCBool = false
            _ = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
            out[relative] = isDirectory.boolValue ? Digest.sha256(of: []) : Digest.sha256(of: try TestFiles.read(path))
        }
        return out
    }
}
