import FerrySystem
import FerryTestSupport
import Foundation
import LayoutStore
import Ledger
import OCIModel
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `ferry sync`, `ferry import` and `ferry export` killed with SIGKILL at seeded moments among every durable step
/// they take (each rename into place, each reference-store commit: `FERRY_CRASH_AFTER=N`), then checked: the rerun
/// exits 0, no blob committed before the kill travels again, `ferry verify` (which runs `PRAGMA integrity_check`)
/// calls the store healthy, and `index.json` names exactly what the reference store records.
///
/// `FERRY_CRASH_SEED` replays a run; `FERRY_CRASH_POINTS` (kill points per command, default 20 sync, 18 import,
/// 12 export: 50 in all) makes it longer. `scripts/crash-test.sh` runs many more, and kills at random times too.
@Suite(.demoRegistry) struct RandomKillTests {
    static let seed = SeededRandom.seed(fromEnvironment: "FERRY_CRASH_SEED", default: 0x2026_1202)
    static let scale = Int(ProcessInfo.processInfo.environment["FERRY_CRASH_POINTS"] ?? "") ?? 0

    static func points(_ fallback: Int) -> Int { scale > 0 ? scale : fallback }

    static let references = ["demo/app:1.0.0", "demo/app:1.1.0", "demo/tool:1.0.0", "demo/multi:1.0.0"]

    /// A workspace whose mirror list names the demo images through `host`.
    static func workspace(host: String) throws -> FerryWorkspace {
        let workspace = try FerryWorkspace()
        try workspace.writeConfig(plainHTTPList([host], images: references.map { "- source: \(host)/\($0)" }))
        return workspace
    }

    /// How many fail points `arguments` reaches when nothing kills it.
    static func countPoints(_ arguments: [String], store: String, workspace: FerryWorkspace) async throws -> Int {
        let trace = workspace.directory.appending("trace-\(UInt32.random(in: 0...UInt32.max))")
        let process = try BackgroundProcess(
            path: try PackageProduct.path(of: "ferry"), arguments: arguments + ["--store", store],
            environment: workspace.environment(["FERRY_FAILPOINT_TRACE": trace]))
        #expect(try await process.waitForExit() == .exited(0), "\(arguments): \(process.stderr.lines())")
        let count = try TestFiles.readText(trace).split(separator: "\n").count
        #expect(count > 3, "too few fail points reached by \(arguments)")
        return count
    }

    /// Runs `arguments` with a kill at point `n`; it may also finish when a run reaches fewer points.
    static func killed(_ arguments: [String], store: String, at n: Int, workspace: FerryWorkspace) async throws {
        let process = try BackgroundProcess(
            path: try PackageProduct.path(of: "ferry"), arguments: arguments + ["--store", store],
            environment: workspace.environment(["FERRY_CRASH_AFTER": "\(n)"]))
        let status = try await process.waitForExit()
        #expect(
            status == .signaled(SIGKILL) || status == .exited(0),
            "\(arguments) at point \(n) (seed \(seed)): \(status) \(process.stderr.lines())")
    }

    /// The store is healthy, nothing lags, and index.json names exactly what the reference store records.
    static func expectConsistent(_ store: String, context: String) async throws {
        let verify = try BackgroundProcess(
            path: try PackageProduct.path(of: "ferry"), arguments: ["verify", "--store", store],
            environment: ["PATH": "/usr/bin:/bin"])
        #expect(try await verify.waitForExit() == .exited(0), "\(context): \(verify.stdout.lines())")
        #expect(
            verify.stdout.lines().filter { $0.hasPrefix("lagging") || $0.hasPrefix("inconsistent") }.isEmpty,
            "\(context): \(verify.stdout.lines())")
        let ledger = try ReferenceStore.openReadOnly(at: store + "/ferry.db")
        defer { try? ledger.close() }
        let recorded = Set(try await ledger.recordedNames().map(\.name))
        let named = Set(try ContentStore(root: store).namedReferences().map(\.name))
        #expect(recorded == named, "\(context): index.json and the reference store disagree")
        #expect(try await ledger.integrityProblems().isEmpty, "\(context)")
    }

    @Test func syncKilledAtSeededMomentsLeavesAStoreTheRerunCompletes() async throws {
        let demo = try DemoRegistry.get()
        let proxy = try RegistryProxy(for: demo.registry)
        defer { proxy.stop() }
        let counting = try Self.workspace(host: proxy.host)
        let total = try await Self.countPoints(
            ["sync", "--jobs", "1", "--config", counting.config], store: counting.store, workspace: counting)
        var random = SeededRandom(seed: Self.seed)
        for round in 0..<Self.points(20) {
            let n = Int.random(in: 1...total, using: &random)
            let workspace = try Self.workspace(host: proxy.host)
            try await Self.killed(
                ["sync", "--jobs", "1", "--config", workspace.config], store: workspace.store, at: n,
                workspace: workspace)
            let kept = (try? workspace.storedBlobs()) ?? []
            let before = proxy.blobRequests.count
            let rerun = try await workspace.sync()
            let context = "sync round \(round), point \(n) of \(total), seed \(Self.seed)"
            #expect(rerun.status == 0, "\(context): \(rerun)")
            let again = proxy.blobRequests.dropFirst(before).filter { request in
                kept.contains { request.path.hasSuffix("/blobs/\($0)") }
            }
            #expect(again.isEmpty, "\(context): fetched again \(again.map(\.path))")
            try await Self.expectConsistent(workspace.store, context: context)
        }
    }

    @Test func importKilledAtSeededMomentsIsCompletedByTheRerun() async throws {
        let demo = try DemoRegistry.get()
        let source = try Self.workspace(host: demo.registry.host)
        #expect(try await source.sync().status == 0)
        let bundle = source.directory.appending("bundle.tar")
        let export = try source.spawn(["export", "--to", bundle])
        #expect(try await export.waitForExit() == .exited(0))
        let total = try await Self.countPoints(
            ["import", bundle], store: source.directory.appending("count-target"), workspace: source)
        var random = SeededRandom(seed: Self.seed &+ 1)
        for round in 0..<Self.points(18) {
            let n = Int.random(in: 1...total, using: &random)
            let target = source.directory.appending("target-\(round)")
            try await Self.killed(["import", bundle], store: target, at: n, workspace: source)
            let rerun = try BackgroundProcess(
                path: try PackageProduct.path(of: "ferry"), arguments: ["import", bundle, "--store", target],
                environment: source.environment())
            let context = "import round \(round), point \(n) of \(total), seed \(Self.seed)"
            #expect(try await rerun.waitForExit() == .exited(0), "\(context): \(rerun.stderr.lines())")
            try await Self.expectConsistent(target, context: context)
        }
    }

    @Test func exportKilledAtSeededMomentsLeavesOnlyWhatTheRerunRemoves() async throws {
        let demo = try DemoRegistry.get()
        let source = try Self.workspace(host: demo.registry.host)
        #expect(try await source.sync().status == 0)
        let total = try await Self.countPoints(
            ["export", "--split-size", "16KiB", "--to", source.directory.appending("count.tar")], store: source.store,
            workspace: source)
        var random = SeededRandom(seed: Self.seed &+ 2)
        for round in 0..<Self.points(12) {
            let n = Int.random(in: 1...total, using: &random)
            let name = "bundle-\(round).tar"
            let file = source.directory.appending(name)
            let arguments = ["export", "--split-size", "16KiB", "--to", file]
            try await Self.killed(arguments, store: source.store, at: n, workspace: source)
            let context = "export round \(round), point \(n) of \(total), seed \(Self.seed)"
            try await Self.expectConsistent(source.store, context: context)
            let rerun = try source.spawn(arguments)
            #expect(try await rerun.waitForExit() == .exited(0), "\(context): \(rerun.stderr.lines())")
            // Nothing beside the bundle but the files the rerun says it wrote (no staging directory, no part of
            // the killed export), and no scratch directory in the store.
            let wrote = Set(
                rerun.stdout.lines().filter { $0.hasPrefix("wrote ") }.map {
                    FileSystem.lastComponent(of: String($0.dropFirst(6).prefix { $0 != " " }))
                })
            let left = Set(try TestFiles.list(source.directory.path).filter { $0.hasPrefix(name) })
            #expect(left == wrote && wrote.contains(name + ".ferry-bundle.json"), "\(context): \(left.sorted())")
            let scratch = source.store + "/tmp"
            let scratchLeft = TestFiles.exists(scratch) ? try TestFiles.list(scratch) : []
            #expect(scratchLeft.filter { $0.hasPrefix("export-") }.isEmpty, "\(context): \(scratchLeft)")
            let check = try BackgroundProcess(
                path: try PackageProduct.path(of: "ferry"), arguments: ["import", "--check", file],
                environment: source.environment())
            #expect(try await check.waitForExit() == .exited(0), "\(context): \(check.stderr.lines())")
        }
    }
}
