import FerryTestSupport
import Foundation
import LayoutStore
import Ledger
import MirrorConfig
import OCIModel
import Testing

@testable import FerryCommands

/// Issue 12 proven by simulation: N processes `ferry sync --shard K/N` against one real registry, each with its own
/// store, then `ferry merge`; the merged store must equal a single-machine sync of the same list.
@Suite(.demoRegistry) struct ShardIntegrationTests {
    /// Every demo repository, with tag listings (app, tool), exact tags, an index and a pinned digest.
    static func mirrorList(_ host: String, pinned: Digest) -> String {
        plainHTTPList([host], images: [
            "- source: \(host)/demo/app", #"  include: ['^1\.\d+\.\d+$']"#,
            "- source: \(host)/demo/tool", #"  semver: ">=1.0.0""#,
            "- source: \(host)/demo/multi:1.0.0", "  platforms: [linux/arm64]",
            "- source: \(host)/demo/multi-docker",
            "- source: \(host)/demo/app@\(pinned)",
        ])
    }

    static let repositories = ["demo/app", "demo/tool", "demo/multi", "demo/multi-docker"]

    /// `index.json`'s names and digests.
    static func names(_ workspace: FerryWorkspace) throws -> [String: Digest] {
        Dictionary(
            uniqueKeysWithValues: try ContentStore(root: workspace.store).namedReferences().map {
                ($0.name, $0.descriptor.digest)
            })
    }

    /// The latest run and its observations by reference (digest of each).
    static func lastRun(_ workspace: FerryWorkspace) async throws -> (RunRecord, [String: Digest?]) {
        try await workspace.withLedger { ledger in
            let run = try #require(try await ledger.latestRun())
            let observations = try await ledger.observations(run: run.id)
            return (run, Dictionary(uniqueKeysWithValues: observations.map { ($0.reference, $0.manifestDigest) }))
        }
    }

    @Test func shardProcessesMergedEqualASingleMachineSync() async throws {
        let demo = try DemoRegistry.get()
        let host = demo.registry.host
        let list = Self.mirrorList(host, pinned: try demo.image("demo/app", "1.0.0").manifestDigest)

        let single = try FerryWorkspace()
        try single.writeConfig(list)
        let one = try await single.sync()
        #expect(one.status == 0, "\(one)")

        // Three processes at once, as three pods of an Indexed Job would run: JOB_COMPLETION_INDEX and --shards.
        let count = 3
        let shards = try (0..<count).map { _ in try FerryWorkspace() }
        for shard in shards { try shard.writeConfig(list) }
        let processes = try shards.enumerated().map { index, shard in
            try shard.spawn(
                ["sync", "--config", shard.config, "--shards", "\(count)"],
                environment: ["JOB_COMPLETION_INDEX": "\(index)", "FERRY_SHARD_GROUP": "ferry-sync-1"])
        }
        for (index, process) in processes.enumerated() {
            let exit = try await process.waitForExit()
            #expect(exit == .exited(0), "shard \(index): \(process.stdout.lines()) \(process.stderr.lines())")
        }
        // Each shard holds exactly its repositories.
        for (index, shard) in shards.enumerated() {
            let (run, observed) = try await Self.lastRun(shard)
            let expected = Set(Self.repositories.filter {
                Shard.index(of: try! RepositoryName(parsing: "\(host)/\($0)"), count: count) == index
            })
            let seen = Set(observed.keys.map { try! ImageReference(parsing: $0).path })
            #expect(seen == expected, "shard \(index)")
            #expect(try await shard.withLedger { try await $0.shard(ofRun: run.id) }
                == RunShard(index: index, count: count, group: "ferry-sync-1"))
        }

        let merged = try FerryWorkspace()
        let result = try await merged.runBinary(["merge"] + shards.map(\.store))
        #expect(result.status == 0, "\(result)")
        #expect(result.stdoutLines.filter { $0.hasPrefix("merged \(shards[0].store): 1 run (1 new), ") }.count == 1)

        // Same blobs, same index.json names at the same digests, a healthy store.
        #expect(try merged.storedBlobs() == single.storedBlobs())
        #expect(try Self.names(merged) == Self.names(single))
        let verify = try await merged.run(["verify"])
        #expect(verify.status == 0, "\(verify)")

        // One run with every reference at the same digest, as one machine's run.
        let (singleRun, singleObserved) = try await Self.lastRun(single)
        let (mergedRun, mergedObserved) = try await Self.lastRun(merged)
        #expect(mergedObserved == singleObserved)
        // Whether the pinned digest of demo/app counts as pulled or up-to-date depends on which of the two
        // references of that repository got there first, in either store; the rest must be equal.
        #expect(mergedRun.counts.references == singleRun.counts.references)
        #expect(mergedRun.counts.pulled + mergedRun.counts.upToDate == singleRun.counts.pulled + singleRun.counts.upToDate)
        #expect(mergedRun.counts.failed == 0)
        #expect(mergedRun.counts.driftEvents == 0)
        #expect(mergedRun.counts.bytesTransferred == singleRun.counts.bytesTransferred)
        #expect(mergedRun.status == .completed)
        #expect(mergedRun.exitStatus == 0)
        #expect(mergedRun.command == "sync")
        let runs = try await merged.withLedger { try await $0.runs() }
        #expect(runs.map(\.id) == [mergedRun.id])
        let sources = try await merged.withLedger { try await $0.mergedSources(of: mergedRun.id) }
        #expect(sources.map(\.shardIndex) == [0, 1, 2])
        #expect(result.stdoutLines.contains {
            $0.hasPrefix(
                "run \(mergedRun.id) completed (3 of 3 shards): \(singleObserved.count) references "
                    + "(\(mergedRun.counts.pulled) pulled, ")
        }, "\(result)")
        let report = try await merged.runBinary(["report", "--format", "json"])
        #expect(report.status == 0)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(report.stdout.utf8)) as? [String: Any])
        #expect((json["images"] as? [Any])?.count == singleObserved.count)
        #expect(((json["run"] as? [String: Any])?["id"] as? String) == mergedRun.id.rawValue)
        #expect(try await merged.schemaProblems(Array(report.stdout.utf8)) == [])
        #expect(FileManager.default.fileExists(atPath: merged.store + "/reports/\(mergedRun.id).json"))

        // Merging again adds nothing.
        let blobs = try merged.storedBlobs()
        let again = try await merged.runBinary(["merge"] + shards.map(\.store))
        #expect(again.status == 0, "\(again)")
        #expect(again.stdoutLines.contains { $0.hasPrefix("merged \(shards[1].store): 1 run (0 new), ") })
        #expect(again.stdoutLines.contains { $0.hasSuffix(" 0 observations added") })
        #expect(try merged.storedBlobs() == blobs)
        #expect(try await merged.withLedger { try await $0.runs() }.count == 1)
        #expect(try await Self.lastRun(merged).1 == singleObserved)
    }

    @Test func aShardListsTheTagsOfItsOwnRepositoriesOnly() async throws {
        let demo = try DemoRegistry.get()
        let proxy = try RegistryProxy(for: demo.registry)
        let host = proxy.host
        let list = Self.mirrorList(host, pinned: try demo.image("demo/app", "1.0.0").manifestDigest)
        for index in 0..<2 {
            let workspace = try FerryWorkspace()
            try workspace.writeConfig(list)
            let before = proxy.requests.count
            let result = try await workspace.sync(["--shard", "\(index)/2", "--dry-run"])
            #expect(result.status == 0, "\(result)")
            let listed = Set(proxy.requests.dropFirst(before).map(\.path).filter { $0.hasSuffix("/tags/list") })
            let expected = Set(["demo/app", "demo/tool"].filter {
                Shard.index(of: try! RepositoryName(parsing: "\(host)/\($0)"), count: 2) == index
            }.map { "/v2/\($0)/tags/list" })
            #expect(listed == expected, "shard \(index)/2")
        }
    }

    @Test(arguments: [
        (["--shard", "3/3"], [String: String](), "shard 3/3 does not exist: the index counts from 0 and must be below 3"),
        (["--shard", "1-3"], [:], "invalid shard \"1-3\": expected K/N, e.g. 0/3 (shard K of N, counting from 0)"),
        (["--shards", "0"], [:], "invalid shard count \"0\": expected a whole number from 1 to 10000"),
        (["--shards", "3"], [:],
         "--shards 3 needs this process's shard index: --shard K/3, FERRY_SHARD=K or JOB_COMPLETION_INDEX (set by a Kubernetes Indexed Job)"),
        (["--shard", "1/3", "--shards", "4"], [:], "shard 1/3 disagrees with --shards 4"),
        (["--shards", "3"], ["JOB_COMPLETION_INDEX": "x"], "JOB_COMPLETION_INDEX=\"x\" is not a shard index: expected a whole number from 0"),
        ([], ["FERRY_SHARD": "2"], "FERRY_SHARD=2 needs the shard count: pass --shards N, or set FERRY_SHARD=2/N"),
        (["--shard-group", "g"], [:], "--shard-group g needs a shard: --shard K/N or --shards N"),
    ])
    func badShardValuesAreUsageErrors(arguments: [String], environment: [String: String], message: String)
        async throws
    {
        let workspace = try FerryWorkspace()
        try workspace.writeConfig(plainHTTPList(["127.0.0.1:9"], images: ["- source: 127.0.0.1:9/demo/app:1.0.0"]))
        let result = try await workspace.sync(arguments, environment: environment)
        #expect(result.status == 64, "\(result)")
        #expect(result.stderrLines == ["Error: \(message)"])
        #expect(!FileManager.default.fileExists(atPath: workspace.store))
    }

    @Test func anEmptyShardSucceeds() async throws {
        let demo = try DemoRegistry.get()
        let host = demo.registry.host
        let source = "\(host)/demo/tool:1.0.0"
        let index = Shard.index(of: try ImageReference(parsing: source).repository, count: 2)
        let workspace = try FerryWorkspace()
        try workspace.writeConfig(plainHTTPList([host], images: ["- source: \(source)"]))
        let result = try await workspace.sync([], environment: ["FERRY_SHARD": "\(1 - index)/2"])
        #expect(result.status == 0, "\(result)")
        #expect(try await Self.lastRun(workspace).1.isEmpty)
    }

    @Test func planSplitsByRepositoryAsSyncDoes() async throws {
        let workspace = try FerryWorkspace()
        let host = "127.0.0.1:5999"
        try workspace.writeConfig(Self.mirrorList(host, pinned: Digest.sha256(of: Array("x".utf8))))
        let out = CapturedOutput()
        let err = CapturedOutput()
        let plan = try #require(
            try FerryCommand.parseAsRoot(["plan", "--shards", "3", "--json", "--config", workspace.config])
                as? FerryCommand.Plan)
        let status = plan.run(output: CommandOutput(standardOutput: out, standardError: err), environment: [:])
        #expect(status == .ok, "\(err.all)")
        let array = try #require(try JSONSerialization.jsonObject(with: Data(out.all.utf8)) as? [[String: Any]])
        #expect(array.map { $0["arg"] as? String } == ["0/3", "1/3", "2/3"])
        var all: [String] = []
        for (index, element) in array.enumerated() {
            let repositories = try #require(element["repositories"] as? [String])
            for name in repositories {
                #expect(Shard.index(of: try RepositoryName(parsing: name), count: 3) == index)
            }
            all += repositories
        }
        #expect(all.sorted() == Self.repositories.map { "\(host)/\($0)" }.sorted())
        let tagListed = array.flatMap { $0["tagListed"] as? [String] ?? [] }
        #expect(tagListed.sorted() == ["\(host)/demo/app", "\(host)/demo/tool"])
        let references = array.flatMap { $0["references"] as? [String] ?? [] }
        #expect(references.contains("\(host)/demo/multi-docker:latest"))
        #expect(references.contains("\(host)/demo/multi:1.0.0"))

        let bad = try #require(
            try FerryCommand.parseAsRoot(["plan", "--shards", "x", "--config", workspace.config]) as? FerryCommand.Plan)
        let badErr = CapturedOutput()
        #expect(bad.run(output: CommandOutput(standardOutput: out, standardError: badErr), environment: [:]) == .usage)
        #expect(badErr.lines == ["Error: invalid shard count \"x\": expected a whole number from 1 to 10000"])
    }
}
