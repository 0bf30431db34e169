import FerryTestSupport
import Foundation
import LayoutStore
import Ledger
import OCIModel
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The built binary killed (SIGKILL) in the window between a batch's reference-store commit and its index.json
/// write: the store stays healthy, index.json only lags, and the next run completes without downloading again.
@Suite(.demoRegistry) struct CrashConsistencyTests {
    static let references = ["demo/app:1.0.0", "demo/app:1.1.0", "demo/tool:1.0.0"]

    @Test func aSyncKilledAfterItsCommitBeforeIndexJSONLeavesAHealthyStoreTheRerunCompletes() async throws {
        let demo = try DemoRegistry.get()
        let proxy = try RegistryProxy(for: demo.registry)
        defer { proxy.stop() }
        let workspace = try FerryWorkspace()
        let names = Self.references.map { "\(proxy.host)/\($0)" }
        try workspace.writeConfig(plainHTTPList([proxy.host], images: names.map { "- source: \($0)" }))

        let killed = try workspace.spawn(
            ["sync", "--config", workspace.config], environment: ["FERRY_FAILPOINT": "after-record-commit"])
        #expect(try await killed.waitForExit() == .signaled(SIGKILL))
        let blobs = try workspace.storedBlobs()
        #expect(!blobs.isEmpty)
        // The reference store has the batch; index.json was never rewritten, so it names nothing yet.
        #expect(try ContentStore(root: workspace.store).references().isEmpty)
        let (recorded, integrity) = try await workspace.withLedger { ledger in
            (try await ledger.recordedNames().map(\.name), try await ledger.integrityProblems())
        }
        // The first batch (whatever had finished when it was committed) is recorded.
        #expect(!recorded.isEmpty && Set(recorded).isSubset(of: names))
        #expect(integrity.isEmpty)

        let verify = try await workspace.run(["verify"])
        #expect(verify.status == 0, "\(verify)")
        #expect(verify.stdoutLines.filter { $0.hasPrefix("lagging ") }.count == recorded.count)
        let noun = recorded.count == 1 ? "reference" : "references"
        #expect(
            verify.stdoutLines.last?.contains(
                ": healthy; index.json is behind the reference store for \(recorded.count) \(noun)") == true)

        let before = proxy.blobRequests.count
        let rerun = try await workspace.sync()
        #expect(rerun.status == 0, "\(rerun)")
        // No blob committed before the kill travels again.
        let fetchedAgain = proxy.blobRequests.dropFirst(before).filter { request in
            blobs.contains { request.path.hasSuffix("/blobs/\($0)") }
        }
        #expect(fetchedAgain.isEmpty, "\(fetchedAgain.map(\.path))")
        let named = try ContentStore(root: workspace.store).references().compactMap {
            $0.annotations?[Descriptor.refNameAnnotation]
        }
        #expect(named.sorted() == names.sorted())
        let healthy = try await workspace.run(["verify"])
        #expect(healthy.status == 0, "\(healthy)")
        #expect(healthy.stdoutLines.filter { $0.hasPrefix("lagging ") }.isEmpty)
        #expect(healthy.stdoutLines.last?.hasSuffix(": healthy") == true)
        #expect(try workspace.storedBlobs().isSuperset(of: blobs))
    }

    @Test func verifyRepairBringsALaggingIndexInLineWithoutTheNetwork() async throws {
        let demo = try DemoRegistry.get()
        let proxy = try RegistryProxy(for: demo.registry)
        defer { proxy.stop() }
        let workspace = try FerryWorkspace()
        let names = Self.references.map { "\(proxy.host)/\($0)" }
        try workspace.writeConfig(plainHTTPList([proxy.host], images: names.map { "- source: \($0)" }))
        let killed = try workspace.spawn(
            ["sync", "--config", workspace.config], environment: ["FERRY_FAILPOINT": "after-record-commit"])
        #expect(try await killed.waitForExit() == .signaled(SIGKILL))
        let recorded = try await workspace.withLedger { try await $0.recordedNames().map(\.name) }
        #expect(!recorded.isEmpty)
        let requests = proxy.requests.count
        let repair = try await workspace.run(["verify", "--repair"])
        #expect(repair.status == 0, "\(repair)")
        let noun = recorded.count == 1 ? "reference" : "references"
        #expect(repair.stdoutLines.contains("index.json: restored \(recorded.count) \(noun) from the reference store"))
        #expect(repair.stdoutLines.last?.hasSuffix(": healthy") == true)
        #expect(proxy.requests.count == requests)
        let named = try ContentStore(root: workspace.store).references().compactMap {
            $0.annotations?[Descriptor.refNameAnnotation]
        }
        #expect(named.sorted() == recorded.sorted())
    }

    @Test func anImportKilledAfterItsRecordCatchesUpWhenRerun() async throws {
        let demo = try DemoRegistry.get()
        let workspace = try FerryWorkspace()
        let names = Self.references.map { "\(demo.registry.host)/\($0)" }
        try workspace.writeConfig(plainHTTPList([demo.registry.host], images: names.map { "- source: \($0)" }))
        #expect(try await workspace.sync().status == 0)
        let bundle = workspace.directory.appending("bundle.tar")
        #expect(try await workspace.spawn(["export", "--to", bundle]).waitForExit() == .exited(0))

        let target = workspace.directory.appending("airgap")
        let path = try PackageProduct.path(of: "ferry")
        let killed = try BackgroundProcess(
            path: path, arguments: ["import", bundle, "--store", target],
            environment: workspace.environment(["FERRY_FAILPOINT": "after-import-record"]))
        #expect(try await killed.waitForExit() == .signaled(SIGKILL))
        #expect(try ContentStore(root: target).references().isEmpty)

        let rerun = try BackgroundProcess(
            path: path, arguments: ["import", bundle, "--store", target], environment: workspace.environment())
        #expect(try await rerun.waitForExit() == .exited(0))
        #expect(rerun.stdout.lines().last?.contains("was already imported") == true)
        let named = try ContentStore(root: target).references().compactMap {
            $0.annotations?[Descriptor.refNameAnnotation]
        }
        #expect(named.sorted() == names.sorted())
        let verify = try BackgroundProcess(path: path, arguments: ["verify", "--store", target], environment: workspace.environment())
        #expect(try await verify.waitForExit() == .exited(0))
        #expect(verify.stdout.lines().last?.hasSuffix(": healthy") == true, "\(verify.stdout.lines()) \(verify.stderr.lines())")
    }
}
