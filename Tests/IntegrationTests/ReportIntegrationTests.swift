import FerryTestSupport
import Foundation
import Ledger
import OCIModel
import Testing

/// Reports of real runs: a run with a failure and drift exits 3 and says so in every report, the JSON documents
/// (run, inventory, changes) are valid by their schemas, and `report --inventory` / `--since` describe a store two
/// real syncs made, one of them after an upstream tag moved.
@Suite struct ReportIntegrationTests {
    @Test func aRunWithAFailureAndDriftExits3AndReportsSinceAndInventoryTellWhatChanged() async throws {
        let registry = try await RegistryServer.start()
        let directory = try TemporaryDirectory()
        let layout = try OCILayoutBuilder(path: directory.appending("layout"))
        let seeder = RegistrySeeder(registry)
        var images: [BuiltImage] = []
        for (offset, (repository, tag)) in [("team/app", "stable"), ("team/app", "next"), ("team/tool", "1"), ("team/gone", "1")]
            .enumerated()
        {
            images.append(try layout.image(.small(seed: 1201 + UInt64(offset))))
            try await seeder.push(images[offset], from: layout, to: repository, tag: tag)
        }
        let (first, moved, gone) = (images[0], images[1], images[3])
        let host = registry.host
        let (app, toolReference, goneReference) = ("\(host)/team/app:stable", "\(host)/team/tool:1", "\(host)/team/gone:1")
        let workspace = try FerryWorkspace()
        func list(_ images: [String]) throws { try workspace.writeConfig(plainHTTPList([host], images: images)) }
        try list(["- source: \(app)", "  immutable: true", "- source: \(goneReference)"])
        let initial = try await workspace.sync()
        #expect(initial.status == 0, "\(initial)")
        let since = try await workspace.withLedger { try #require(try await $0.latestRun()).id }

        // Upstream: the immutable tag moves, one image disappears; the mirror list gains one image.
        try await seeder.moveTag("team/app", tag: "stable", to: moved.manifestDigest)
        try await seeder.deleteManifest("team/gone", digest: gone.manifestDigest)
        try list(["- source: \(app)", "  immutable: true", "- source: \(goneReference)", "- source: \(toolReference)"])
        let result = try await workspace.sync(["--retry-delay", "0"])
        #expect(result.status == 3, "\(result)")
        #expect(result.stdoutLines.last?.contains(
            "3 references (1 pulled, 0 up-to-date, 0 updated, 1 failed, 1 drift); 1 drift event; ") == true, "\(result)")
        #expect(result.stdoutLines.last?.hasSuffix("; exit 3") == true, "\(result)")
        let unknown = "manifest for \(goneReference) not found: manifest unknown: manifest unknown"
        #expect(SecretsIntegrationTests.failure(result, goneReference) == unknown, "\(result)")
        let run = try await workspace.withLedger { try #require(try await $0.latestRun()) }
        #expect(run.exitStatus == 3)

        // The run report in every format, the JSON one valid by its schema.
        let report = try TestFiles.read(workspace.store + "/reports/latest.json")
        #expect(try await workspace.schemaProblems(report) == [])
        let document = try JSONValue.parse(report)
        #expect(document["run"]?["exitStatus"] == .integer(3))
        #expect(document["counts"]?["failed"] == .integer(1))
        #expect(document["counts"]?["drift"] == .integer(1))
        let event = try #require(document["driftEvents"]?.elements?.first)
        #expect(document["driftEvents"]?.elements?.count == 1)
        #expect(event["kind"] == .string("tag-moved"))
        #expect(event["reference"] == .string(app))
        #expect(event["oldValue"] == .string(first.manifestDigest.description))
        #expect(event["newValue"] == .string(moved.manifestDigest.description))
        #expect(event["runID"] == .string(run.id.rawValue))
        let markdown = try TestFiles.readText(workspace.store + "/reports/latest.md")
        #expect(markdown.contains("`\(unknown)`"), "\(markdown)")
        let html = try TestFiles.readText(workspace.store + "/reports/latest.html")
        #expect(html.contains(app) && html.contains(goneReference))
        let metrics = try TestFiles.readText(workspace.store + "/metrics.prom").split(separator: "\n")
        #expect(metrics.contains("ferry_run_exit_status 3"))
        #expect(metrics.contains(#"ferry_drift_events{kind="tag-moved"} 1"#))

        // What changed since the first run: one tag added, one moved, one drift event.
        let changes = try await workspace.runBinary(["report", "--since", since.rawValue, "--format", "json"])
        #expect(changes.status == 0, "\(changes)")
        #expect(try await workspace.schemaProblems(Array(changes.stdout.utf8), schema: ["--since", since.rawValue]) == [])
        let changed = try JSONValue.parse(changes.stdout)
        #expect(changed["added"].map(Self.references) == [toolReference])
        #expect(changed["moved"].map(Self.references) == [app])
        let move = try #require(changed["moved"]?.elements?.first)
        #expect(move["previousDigest"] == .string(first.manifestDigest.description), "\(changes.stdout)")
        #expect(move["digest"] == .string(moved.manifestDigest.description))
        #expect(move["moves"]?.elements?.map { $0["firstRunID"] } == [.string(run.id.rawValue)])
        #expect(changed["driftEvents"].map(Self.references) == [app])
        let text = try await workspace.runBinary(["report", "--since", since.rawValue])
        #expect(text.stdoutLines.first == "# ferry: changes since run `\(since)`", "\(text)")

        // The inventory: every digest the tag pointed to, and the drift history.
        let inventory = try await workspace.runBinary(["report", "--inventory", "--format", "json"])
        #expect(inventory.status == 0, "\(inventory)")
        #expect(try await workspace.schemaProblems(Array(inventory.stdout.utf8), schema: ["--inventory"]) == [])
        let store = try JSONValue.parse(inventory.stdout)
        let repositories = try #require(store["repositories"]?.elements)
        let appEntry = try #require(repositories.first { $0["repository"] == .string("\(host)/team/app") })
        #expect(appEntry["digests"]?.elements?.compactMap { $0["digest"]?.string }.sorted()
            == [first.manifestDigest.description, moved.manifestDigest.description].sorted(), "\(inventory.stdout)")
        #expect(store["driftHistory"].map(Self.references) == [app])
        #expect(store["counts"]?["driftEvents"] == .integer(1))
    }

    /// The `reference` member of every element of an array.
    static func references(_ value: JSONValue) -> [String] {
        (value.elements ?? []).compactMap { $0["reference"]?.string }
    }
}
