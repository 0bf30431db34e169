import CurlHTTP
import FerryPull
import FerryPush
import FerryTestSupport
import Foundation
import LayoutStore
import Ledger
import Logging
import OCIModel
import OCIRegistry
import Testing

/// Pushing what the store holds to the mirror list's targets: `ferry push --target NAME` to a second real registry,
/// a layout target other tools read, and uploads in `PATCH` chunks above the chunk size.
@Suite(.demoRegistry) struct PushIntegrationTests {
    @Test func pushTargetSendsTheStoreToTheNamedRegistryWithDigestsKept() async throws {
        let demo = try DemoRegistry.get()
        let source = demo.registry.host
        let targetRegistry = try await RegistryServer.start()
        let workspace = try FerryWorkspace()
        try workspace.writeConfig(plainHTTPList([source, targetRegistry.host], images: [
            "- source: \(source)/demo/app:1.1.0", "- source: \(source)/demo/multi:1.0.0", "  platforms: all",
        ], extra: "targets:\n  second:\n    registry: \"\(targetRegistry.host)\"\n    prefix: airgap\n"))
        #expect(try await workspace.sync().status == 0)

        let pushed = try await workspace.run(["push", "--target", "second", "--config", workspace.config])
        #expect(pushed.status == 0, "\(pushed)")
        #expect(pushed.stdoutLines.last?.contains("2 references (2 pushed, 0 up-to-date, 0 failed); exit 0") == true,
                "\(pushed)")
        let destination = "\(targetRegistry.host)/airgap/\(TargetIntegrationTests.mapped(source))"
        for (repository, tag) in [("demo/app", "1.1.0"), ("demo/multi", "1.0.0")] {
            #expect(try await TargetIntegrationTests.servedDigest("\(destination)/\(repository):\(tag)")
                == (try demo.artifact(repository, tag)).digest, "\(repository):\(tag)")
        }
        let pushes = try await workspace.withLedger { ledger in
            try await ledger.pushes(run: try #require(try await ledger.latestRun()).id)
        }
        #expect(pushes.map(\.target) == ["second", "second"])

        let unknown = try await workspace.run(["push", "--target", "third", "--config", workspace.config])
        #expect(unknown.status == 65)
        #expect(unknown.stderrLines == [#"Error: unknown target "third"; the mirror list defines: second"#])
    }

    @Test func aLayoutTargetIsAnImageLayoutThatSkopeoAndUmociRead() async throws {
        let demo = try DemoRegistry.get()
        let source = demo.registry.host
        let workspace = try FerryWorkspace()
        let usb = workspace.directory.appending("usb/ferry")
        try workspace.writeConfig(plainHTTPList([source], images: [
            "- source: \(source)/demo/app:1.2.0", "  targets: [usb]",
            "- source: \(source)/demo/multi:1.0.0", "  platforms: all", "  targets: [usb]",
        ], extra: "targets:\n  usb:\n    layout: \"\(usb)\"\n"))
        let synced = try await workspace.sync()
        #expect(synced.status == 0, "\(synced)")
        let app = try demo.image("demo/app", "1.2.0")
        let reference = "\(source)/demo/app:1.2.0"
        #expect(synced.stdout.contains("  pushed     -> oci:\(usb):\(reference)"), "\(synced)")

        let raw = try await ProcessRunner.runChecked("skopeo", ["--insecure-policy", "inspect", "--raw", "oci:\(usb):\(reference)"])
        #expect(raw.stdout == app.manifestBytes)
        let index = try demo.index("demo/multi", "1.0.0")
        let multi = try await ProcessRunner.runChecked(
            "skopeo", ["--insecure-policy", "inspect", "--raw", "oci:\(usb):\(source)/demo/multi:1.0.0"])
        #expect(multi.stdout == index.indexBytes)
        // skopeo copies every blob out of it, verifying each digest.
        let out = try TemporaryDirectory()
        try await ProcessRunner.runChecked(
            "skopeo", ["--insecure-policy", "copy", "--all", "oci:\(usb):\(source)/demo/multi:1.0.0", "dir:\(out.appending("multi"))"])
        let umoci = try await ProcessRunner.runChecked("umoci", ["stat", "--json", "--image", "\(usb):\(reference)"])
        struct Stat: Decodable {
            struct Entry: Decodable { var layer: Layer? }
            struct Layer: Decodable { var digest: String }
            var history: [Entry]?
        }
        let stat = try JSONDecoder().decode(Stat.self, from: Data(umoci.stdout))
        #expect(stat.history?.compactMap(\.layer?.digest) == app.layers.map(\.digest.description))

        // Pushing again from the store finds everything there.
        let again = try await workspace.run(["push", "--target", "usb", "--config", workspace.config])
        #expect(again.stdoutLines.last?.contains("2 references (0 pushed, 2 up-to-date, 0 failed); exit 0") == true,
                "\(again)")
    }

    /// No command-line option lowers the 64 MiB chunk size, so the pusher runs as a library against the real
    /// registry, with a chunk size below the blobs' sizes.
    @Test func blobsAboveTheChunkSizeGoUpInPatchChunks() async throws {
        let demo = try DemoRegistry.get()
        let source = demo.registry.host
        let workspace = try FerryWorkspace()
        try workspace.writeConfig(plainHTTPList([source], images: ["- source: \(source)/demo/app:1.1.0"]))
        #expect(try await workspace.sync().status == 0)
        let image = try demo.image("demo/app", "1.1.0")
        let store = ContentStore(root: workspace.store)
        let name = "\(source)/demo/app:1.1.0"
        let descriptor = try #require(try store.reference(named: name))
        let target = try await RegistryServer.start()
        let proxy = try RegistryProxy(for: target)
        let chunkSize = try #require(image.blobs.map(\.size).min()) / 3

        let logger = Logger(label: "chunked-push") { _ in SwiftLogNoOpLogHandler() }
        let session = RegistrySession(
            transport: try CurlTransport(version: "test", logger: logger),
            retry: RetryPolicy(retries: 0, baseDelay: .zero, maxDelay: .zero, jitter: false), logger: logger)
        let pusher = ImagePusher(
            session: session, store: store, ledger: nil,
            resolver: EndpointResolver(hosts: [proxy.host: HostSettings(tls: .plainHTTP)]), chunkSize: chunkSize)
        let record = await pusher.push(
            try ImageReference(parsing: name), descriptor: descriptor,
            to: PushTarget(name: "chunked", destination: .registry(host: proxy.host, prefix: "chunked")),
            runID: RunID.make(startingAt: Date()))
        #expect(record.outcome == .pushed, "\(record.error ?? "")")
        #expect(record.blobsUploaded == image.blobs.count)

        // Each upload session: PATCHes of exactly chunkSize bytes in order, then the PUT with the rest.
        let puts = proxy.requests("PUT") { $0.contains("/blobs/uploads/") }
        #expect(puts.count == image.blobs.count)
        for blob in image.blobs {
            let put = try #require(puts.first { $0.query?.contains("digest=\(blob.digest)") == true })
            let patches = proxy.requests("PATCH") { $0 == put.path }
            let expected = (blob.size - 1) / chunkSize
            #expect(Int64(patches.count) == expected, "\(blob.digest): \(blob.size) bytes")
            #expect(patches.map { $0.headers["Content-Range"] } == (0..<expected).map {
                "\($0 * chunkSize)-\(($0 + 1) * chunkSize - 1)"
            })
            #expect(Int64(patches.map(\.body.count).reduce(0, +) + put.body.count) == blob.size)
        }
        let pushedName = "\(proxy.host)/chunked/\(TargetIntegrationTests.mapped(source))/demo/app:1.1.0"
        #expect(try await TargetIntegrationTests.servedDigest(pushedName) == image.manifestDigest)
        // skopeo reads every blob back and checks its digest.
        let out = try TemporaryDirectory()
        try await ProcessRunner.runChecked(
            "skopeo", ["--insecure-policy", "copy", "--src-tls-verify=false", "docker://\(pushedName)", "dir:\(out.path)/app"])
        withExtendedLifetime(target) {}
    }
}
