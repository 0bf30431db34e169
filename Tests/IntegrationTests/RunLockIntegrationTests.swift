import FerryTestSupport
import Foundation
import Ledger
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The built binary holding a store mid-sync: the other commands that change a store are refused with exit 75 and
/// one line naming the holder, and SIGINT stops the holder cleanly with exit 130, a recorded run and its reports.
@Suite(.demoRegistry) struct RunLockIntegrationTests {
    @Test func pruneExportAndImportExit75WhileASyncHoldsTheStoreAndSIGINTStopsItWith130() async throws {
        let demo = try DemoRegistry.get()
        let proxy = try RegistryProxy(for: demo.registry)
        defer { proxy.stop() }
        let workspace = try FerryWorkspace()
        try workspace.writeConfig(plainHTTPList([proxy.host], images: ["- source: \(proxy.host)/demo/app:1.0.0"]))
        #expect(try await workspace.sync().status == 0)
        let bundle = workspace.directory.appending("week1.tar")
        #expect(try await workspace.runBinary(["export", "--to", bundle]).status == 0)

        // The holder syncs one more image, whose blob transfers hang at the proxy.
        let second = "\(proxy.host)/demo/app:1.1.0"
        try workspace.writeConfig(
            plainHTTPList([proxy.host], images: ["- source: \(proxy.host)/demo/app:1.0.0", "- source: \(second)"]))
        let holder = try await workspace.spawnStalledSync(through: proxy)
        let locked = try workspace.lockedLine(holder: holder, command: "sync")
        let refusedExport = workspace.directory.appending("week2.tar")
        for arguments in [["prune"], ["export", "--to", refusedExport], ["import", bundle]] {
            let refused = try await workspace.runBinary(arguments)
            #expect(refused.status == 75, "\(arguments): \(refused)")
            #expect(refused.stderrLines == [locked], "\(arguments)")
            #expect(refused.stdout == "", "\(arguments)")
        }
        #expect(!TestFiles.exists(refusedExport))
        #expect(!TestFiles.exists(refusedExport + ".ferry-bundle.json"))

        holder.send(SIGINT)
        #expect(try await holder.waitForExit() == .exited(130))
        let summary = try #require(holder.stdout.lines().last)
        #expect(summary.hasPrefix("run ") && summary.contains(" interrupted: "), "\(summary)")
        #expect(summary.hasSuffix("; exit 130"), "\(summary)")
        let run = try await workspace.withLedger { try #require(try await $0.latestRun()) }
        #expect(run.status == .interrupted)
        #expect(run.exitStatus == 130)
        // The stopped run has its reports, valid by the schema, and the metrics say it was interrupted.
        let report = try TestFiles.read(workspace.store + "/reports/latest.json")
        #expect(try await workspace.schemaProblems(report) == [])
        let document = try JSONValue.parse(report)
        #expect(document["run"]?["id"] == .string(run.id.rawValue))
        #expect(document["run"]?["status"] == .string("interrupted"))
        #expect(document["run"]?["exitStatus"] == .integer(130))
        let metrics = try TestFiles.readText(workspace.store + "/metrics.prom").split(separator: "\n")
        #expect(metrics.contains("ferry_run_interrupted 1"))
        #expect(metrics.contains("ferry_run_exit_status 130"))

        proxy.releaseStalls()
        let rerun = try await workspace.sync()
        #expect(rerun.status == 0, "\(rerun)")
        #expect(SyncIntegrationTests.line(rerun, "pulled", second) != nil, "\(rerun)")
    }
}
