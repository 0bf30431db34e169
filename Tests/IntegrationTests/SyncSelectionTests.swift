import FerryTestSupport
import Foundation
import Ledger
import OCIModel
import Testing

/// `ferry sync` options against real registries: `--only` selects images (and nothing else is asked for),
/// `--report-dir` gets copies of the three reports, and `--jobs 4` fetches a blob two images share exactly once.
@Suite(.demoRegistry) struct SyncSelectionTests {
    @Test func onlySyncsTheMatchingImagesAndReportDirGetsTheThreeReports() async throws {
        let demo = try DemoRegistry.get()
        let proxy = try RegistryProxy(for: demo.registry)
        let host = proxy.host
        let workspace = try FerryWorkspace()
        try workspace.writeConfig(plainHTTPList([host], images: [
            "- source: \(host)/demo/app:1.0.0", "- source: \(host)/demo/tool", "  tags: [\"1.0.0\", \"1.1.0\"]",
            "- source: \(host)/demo/multi:1.0.0",
        ]))
        let copies = workspace.directory.appending("published/reports")

        let result = try await workspace.sync(["--only", "*/demo/t??l", "--report-dir", copies])
        #expect(result.status == 0, "\(result)")
        let (run, observations) = try await SyncIntegrationTests.lastRun(workspace)
        #expect(observations.keys.sorted() == ["\(host)/demo/tool:1.0.0", "\(host)/demo/tool:1.1.0"])
        // Not a single request for the images left out.
        let paths = proxy.requests.map(\.path)
        #expect(!paths.isEmpty && paths.allSatisfy { $0.hasPrefix("/v2/demo/tool/") }, "\(paths)")
        #expect(proxy.requests("HEAD").map(\.path).sorted() == [
            "/v2/demo/tool/manifests/1.0.0", "/v2/demo/tool/manifests/1.1.0",
        ])

        // The directory is created, and holds the run's three reports, equal to the store's.
        #expect(try TestFiles.list(copies).sorted() == ["html", "json", "md"].map { "\(run.id).\($0)" })
        for format in ["json", "md", "html"] {
            #expect(
                try TestFiles.read("\(copies)/\(run.id).\(format)")
                    == TestFiles.read("\(workspace.store)/reports/\(run.id).\(format)"), "\(format)")
        }
        let document = try JSONValue.parse(try TestFiles.read("\(copies)/\(run.id).json"))
        #expect(document["images"]?.elements?.count == 2)
    }

    @Test func fourJobsFetchABlobTwoImagesShareOnce() async throws {
        let registry = try await RegistryServer.start()
        let directory = try TemporaryDirectory()
        let layout = try OCILayoutBuilder(path: directory.appending("layout"))
        let shared = LayerSpec.generated(seed: 1301, files: 8, fileSize: 4096)
        let first = try layout.image(ImageSpec(layers: [shared, .generated(seed: 1302)], labels: ["image": "first"]))
        let second = try layout.image(ImageSpec(layers: [shared, .generated(seed: 1303)], labels: ["image": "second"]))
        let seeder = RegistrySeeder(registry)
        try await seeder.push(first, from: layout, to: "team/first", tag: "1")
        try await seeder.push(second, from: layout, to: "team/second", tag: "1")
        let proxy = try RegistryProxy(for: registry)
        let sharedDigest = try #require(first.layers.first).digest
        #expect(second.layers.first?.digest == sharedDigest)
        let workspace = try FerryWorkspace()
        try workspace.writeConfig(plainHTTPList([proxy.host], images: [
            "- source: \(proxy.host)/team/first:1", "- source: \(proxy.host)/team/second:1",
        ]))
        // The shared layer is held at the proxy until both images have everything else, so both wait for it at
        // the same time, whichever asked first.
        proxy.stallBodies(after: 0) { $0.path.hasSuffix("/blobs/\(sharedDigest)") }
        let own = [first.config.digest, second.config.digest] + [first, second].compactMap { $0.layers.last?.digest }
        let sync = Task { try await workspace.sync(["--jobs", "4"]) }
        for digest in own {
            _ = try await proxy.events.wait(for: "blob \(digest)") { event in
                if case .completed(let request, status: 200, bytes: _) = event { return request.path.hasSuffix("/blobs/\(digest)") }
                return false
            }
        }
        proxy.releaseStalls()
        let result = try await sync.value
        #expect(result.status == 0, "\(result)")

        let fetches = proxy.requests("GET") { $0.hasSuffix("/blobs/\(sharedDigest)") }
        #expect(fetches.count == 1, "\(fetches.map(\.path))")
        // Every other blob once too.
        for digest in own { #expect(proxy.requests("GET") { $0.hasSuffix("/blobs/\(digest)") }.count == 1) }
        #expect(try workspace.storedBlobs().isSuperset(of: first.blobs.map(\.digest) + second.blobs.map(\.digest)))
        #expect(try workspace.corruptBlobs() == [])
    }
}
