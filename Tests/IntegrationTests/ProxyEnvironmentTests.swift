import FerryTestSupport
import Foundation
import Testing

/// Proxies come from the environment, as curl reads them (`http_proxy`, `https_proxy`, `no_proxy`, …): the `ferry`
/// binary is run with a forward proxy on 127.0.0.1 in front of the demo registry. The proxy forwards absolute-form
/// requests (`GET http://host/v2/…`) unchanged, which the registry accepts, tunnels `CONNECT` to a TLS registry,
/// and records both.
@Suite(.demoRegistry) struct ProxyEnvironmentTests {
    @Test func aPullGoesThroughHttpProxyUnlessNoProxyNamesTheHost() async throws {
        let demo = try DemoRegistry.get()
        let image = try demo.image("demo/app", "1.1.0")
        let registryHost = demo.registry.host
        let reference = "\(registryHost)/demo/app:1.1.0"
        let proxy = try RegistryProxy(for: demo.registry)

        let proxied = try FerryWorkspace()
        try proxied.writeConfig(plainHTTPList([registryHost]))
        let run = try proxied.spawn(
            ["pull", reference, "--config", proxied.config], environment: ["http_proxy": proxy.baseURL])
        #expect(try await run.waitForExit() == .exited(0), "\(run.stderr.text)")
        #expect(run.stdout.lines().last == "Status: Downloaded newer image for \(reference)")
        let targets = proxy.requests.map(\.target)
        // Every request went through the proxy, addressed to the registry.
        #expect(targets.contains("http://\(registryHost)/v2/demo/app/manifests/1.1.0"))
        #expect(targets.contains("http://\(registryHost)/v2/demo/app/blobs/\(image.config.digest)"))
        #expect(targets.allSatisfy { $0.hasPrefix("http://\(registryHost)/v2/") })
        #expect(try proxied.storedBlobs().isSuperset(of: image.layers.map(\.digest)))

        let bypassed = try FerryWorkspace()
        try bypassed.writeConfig(plainHTTPList([registryHost]))
        let before = proxy.requests.count
        let direct = try bypassed.spawn(
            ["pull", reference, "--config", bypassed.config],
            environment: ["http_proxy": proxy.baseURL, "no_proxy": "127.0.0.1"])
        #expect(try await direct.waitForExit() == .exited(0), "\(direct.stderr.text)")
        #expect(proxy.requests.count == before)
    }

    @Test func aPullFromATLSRegistryTunnelsThroughHttpsProxy() async throws {
        let (registry, seeded) = try await PullAuthIntegrationTests.tlsRegistry()
        let caFile = try #require(registry.endpoint.caCertificatePath)
        let reference = "\(registry.host)/secure/app:1"
        // A forward proxy only: every request must reach it as a CONNECT, so its own upstream is never used.
        let proxy = try RegistryProxy(upstreamPort: registry.port)
        for variable in ["https_proxy", "HTTPS_PROXY"] {
            let workspace = try PullAuthIntegrationTests.tlsWorkspace(registry, "    tls: verify\n    ca-file: \"\(caFile)\"\n")
            let before = proxy.requests.count
            let run = try workspace.spawn(["pull", reference, "--config", workspace.config], environment: [variable: proxy.baseURL])
            #expect(try await run.waitForExit() == .exited(0), "\(variable): \(run.stderr.text)")
            #expect(run.stdout.lines().last == "Status: Downloaded newer image for \(reference)")
            let requests = proxy.requests.dropFirst(before)
            #expect(!requests.isEmpty, "\(variable)")
            #expect(requests.allSatisfy { $0.method == "CONNECT" && $0.target == registry.host }, "\(requests.map(\.target))")
            #expect(try workspace.storedBlobs() == Set([seeded.one.manifestDigest] + seeded.one.blobs.map(\.digest)))
        }
        _ = try await registry.waitForRequest { $0.path == "/v2/secure/app/manifests/1" }
    }
}
