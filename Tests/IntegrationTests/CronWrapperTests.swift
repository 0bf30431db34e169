import FerrySystem
import FerryTestSupport
import Foundation
import OCIModel
import Testing

/// `cron/ferry-cron.sh` with the built binary: the log file, exit statuses, the drift hook, and a held lock (exit
/// 75) treated as success so an overlapping cron slot is not an alert.
@Suite(.demoRegistry) struct CronWrapperTests {
    static var wrapper: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("cron/ferry-cron.sh").path
    }

    func environment(_ workspace: FerryWorkspace, log: String, extra: [String: String] = [:]) throws -> [String: String] {
        [
            "HOME": workspace.home, "PATH": "/usr/local/bin:/usr/bin:/bin",
            "FERRY_BIN": try PackageProduct.path(of: "ferry"), "FERRY_CONFIG": workspace.config,
            "FERRY_STORE": workspace.store, "FERRY_LOG": log, "FERRY_ARGS": "--retry-delay 0",
            // Never the machine's /etc/default/ferry.
            "FERRY_DEFAULTS": workspace.directory.appending("no-defaults"),
        ].merging(extra) { _, new in new }
    }

    @Test func theDefaultsFileIsExportedToFerry() async throws {
        let demo = try DemoRegistry.get()
        let source = try RegistryProxy(for: demo.registry)
        let workspace = try FerryWorkspace()
        // The mirror list names its registry only through a variable that the defaults file sets.
        try workspace.writeConfig(
            plainHTTPList(["${FERRY_TEST_SOURCE}"], images: ["- source: ${FERRY_TEST_SOURCE}/demo/app:1.0.0"]))
        let defaults = workspace.directory.appending("ferry.default")
        try TestFiles.write("# like /etc/default/ferry\nFERRY_TEST_SOURCE=\(source.host)\n", to: defaults)
        let log = workspace.directory.appending("sync.log")
        let environment = try environment(workspace, log: log, extra: ["FERRY_DEFAULTS": defaults])
        let result = try await ProcessRunner.run("bash", [Self.wrapper], environment: environment)
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? "(no log)"
        #expect(result.status == .exited(0), "\(text)")
        #expect(text.contains("pulled       \(source.host)/demo/app:1.0.0"))
    }

    @Test func logsTheRunAndPassesFerrysExitStatusThrough() async throws {
        let demo = try DemoRegistry.get()
        let source = try RegistryProxy(for: demo.registry)
        let workspace = try FerryWorkspace()
        try workspace.writeConfig(plainHTTPList([source.host], images: ["- source: \(source.host)/demo/app:1.0.0"]))
        let log = workspace.directory.appending("logs/sync.log")
        let result = try await ProcessRunner.run("bash", [Self.wrapper], environment: try environment(workspace, log: log))
        #expect(result.status == .exited(0), "\(result.stderrText)")
        let text = try String(contentsOfFile: log, encoding: .utf8)
        #expect(text.contains("ferry sync --config \(workspace.config) --store \(workspace.store)"))
        #expect(text.contains("pulled       \(source.host)/demo/app:1.0.0"))
        #expect(text.hasSuffix("---- exit 0\n"))
        #expect(FileManager.default.fileExists(atPath: workspace.store + "/reports/latest.json"))
    }

    @Test func driftRunsTheHookWithTheReport() async throws {
        let registry = try await RegistryServer.start()
        let directory = try TemporaryDirectory()
        let layout = try OCILayoutBuilder(path: directory.appending("layout"))
        let first = try layout.image(.small(seed: 9101))
        let second = try layout.image(.small(seed: 9102))
        let seeder = RegistrySeeder(registry)
        try await seeder.push(first, from: layout, to: "team/app", tag: "1")
        try await seeder.push(second, from: layout, to: "team/app", tag: "2")
        let workspace = try FerryWorkspace()
        try workspace.writeConfig(plainHTTPList([registry.host], images: ["- source: \(registry.host)/team/app:1", "  immutable: true"]))
        let log = workspace.directory.appending("sync.log")
        let marker = workspace.directory.appending("drift-hook-called")
        let hook = workspace.directory.appending("hook.sh")
        try TestFiles.write("#!/bin/sh\necho \"$1\" > \(marker)\n", to: hook)
        _ = try await ProcessRunner.runChecked("chmod", ["+x", hook])
        let environment = try environment(workspace, log: log, extra: ["FERRY_ON_DRIFT": hook])
        #expect(try await ProcessRunner.run("bash", [Self.wrapper], environment: environment).status == .exited(0))
        #expect(!FileManager.default.fileExists(atPath: marker))
        try await seeder.moveTag("team/app", tag: "1", to: second.manifestDigest)
        let drifted = try await ProcessRunner.run("bash", [Self.wrapper], environment: environment)
        #expect(drifted.status == .exited(2))
        #expect(try String(contentsOfFile: marker, encoding: .utf8) == workspace.store + "/reports/latest.json\n")
    }

    @Test func aRunHoldingTheStoreIsNotAFailureOfTheNextSlot() async throws {
        let workspace = try FerryWorkspace()
        try workspace.writeConfig("version: 1\nimages: []\n")
        try FileSystem.createDirectory(workspace.store)
        let lock = try RunLock.acquire(at: workspace.store + "/ferry.lock", command: "sync")
        defer { lock.release() }
        let log = workspace.directory.appending("sync.log")
        let result = try await ProcessRunner.run("bash", [Self.wrapper], environment: try environment(workspace, log: log))
        #expect(result.status == .exited(0))
        let text = try String(contentsOfFile: log, encoding: .utf8)
        #expect(text.contains("store is locked by PID \(getpid()) (sync, started "))
        #expect(text.hasSuffix("---- exit 75\n"))
    }
}
