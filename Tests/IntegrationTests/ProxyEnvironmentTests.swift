import FerryTestSupport
import Foundation
import Testing

/// Proxies come from the environment, as curl reads them (`http_proxy`, `no_proxy`, …): the `ferry` binary is run
/// with a forward proxy on 127.0.0.1 in front of the demo registry. The proxy forwards absolute-form requests
/// (`GET http://host/v2/…`) unchanged, which the registry accepts, and records them.
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
}
