import Foundation
import OCIModel
import Testing

@testable import MirrorConfig

/// `manifests/` in the package root, found from this file's path.
private let manifests: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.appendingPathComponent("manifests").path
}()

@Suite struct ShippedManifestsTests {
    @Test func exampleValidates() throws {
        let list = try MirrorList.load(from: manifests + "/example.yaml", environment: [:])
        #expect(list.images.count == 5)
        #expect(list.registries.keys.sorted() == ["docker.io", "registry.internal:5000"])
        #expect(list.targets.keys.sorted() == ["internal", "usb"])
        #expect(list.settings(for: "docker.io").mirrors.map(\.absoluteString) == ["https://mirror.gcr.io/"])
        #expect(
            list.images.map(\.source.string) == [
                "docker.io/library/alpine", "quay.io/prometheus/node-exporter:v1.8.2",
                "ghcr.io/fluxcd/flux-cli@sha256:2f3a8ed3d5c6b1f0e6d9a4c7b8e1f2a3d4c5b6a7e8f9a0b1c2d3e4f5a6b7c8d9",
                "docker.io/library/nginx", "registry.k8s.io/pause",
            ])
        #expect(list.images.filter(\.needsTagList).map(\.source.familiarName) == ["alpine", "nginx"])
    }

    @Test func demoValidatesAndSelectsTheDemoTags() throws {
        let list = try MirrorList.load(from: manifests + "/demo.yaml", environment: [:])
        #expect(list.registries["127.0.0.1:5000"]?.tls == .plainHTTP)
        #expect(
            list.images.map(\.source.string) == [
                "127.0.0.1:5000/demo/app", "127.0.0.1:5000/demo/tool", "127.0.0.1:5000/demo/multi",
                "127.0.0.1:5000/demo/multi-docker:1.0.0",
            ])
        let app = list.images[0]
        #expect(
            app.selectTags(from: ["1.0.0", "1.1.0", "1.2.0", "2.0.0-rc1", "latest"]) == ["latest", "1.2.0", "1.1.0"])
        #expect(!list.images[1].needsTagList)
        #expect(list.images[2].tagsAreImplied)
        #expect(
            list.images[2].platforms
                == .only([try Platform(parsing: "linux/amd64"), try Platform(parsing: "linux/arm64")]))
        #expect(list.images[3].targets == ["demo-export"])

        let moved = try MirrorList.load(
            from: manifests + "/demo.yaml", environment: ["FERRY_DEMO_REGISTRY": "localhost:5001"])
        #expect(moved.registries.keys.sorted() == ["localhost:5001"])
        #expect(moved.images.allSatisfy { $0.source.domain == "localhost:5001" })
    }

    @Test func theWholeFolderMerges() throws {
        let list = try MirrorList.load(from: manifests, environment: [:])
        #expect(list.files.map { ($0 as NSString).lastPathComponent } == ["demo.yaml", "example.yaml"])
        #expect(list.images.count == 9)
        // Files in name order, entries in file order.
        #expect(list.images.first?.source.string == "127.0.0.1:5000/demo/app")
        #expect(list.images.last?.source.string == "registry.k8s.io/pause")
    }

    /// PRODUCT.md's normative example, with its elided digest (`sha256:0123…`) written out.
    @Test func productExampleValidatesAndPrintsTheDocumentedPlan() throws {
        let loaded = try loadFixture(
            """
            version: 1
            defaults:
              platforms: [linux/amd64, linux/arm64]   # or "all"; default: all platforms of an index
            registries:                               # per source or target registry host (normalized: docker.io, not index.docker.io)
              docker.io:
                mirrors:                              # tried first, in order; then the registry itself
                  - https://mirror.example.internal
                credentials: docker-config            # default: ~/.docker/config.json (auths + credHelpers + credsStore)
              registry.internal:5000:
                tls: plain-http                       # verify (default) | insecure-skip-verify | plain-http
                ca-file: /etc/ferry/internal-ca.pem
                credentials:
                  username-env: INTERNAL_USER         # or username: …, password-env / password-file
                  password-file: /run/secrets/internal
            targets:
              internal:
                registry: registry.internal:5000
                prefix: mirror                        # docker.io/library/alpine:3.20 -> registry.internal:5000/mirror/docker.io/library/alpine:3.20
            images:
              - source: docker.io/library/alpine      # a repository: tags come from the selectors below
                tags: ["3.19", "3.20"]                # exact tags
                include: ['^3\\.2\\d$']                 # regexes over the registry's tag list (anchored)
                exclude: ['-rc']
                semver: ">=3.18.0 <4"
                latest: 3                             # keep the newest N after filtering
                platforms: [linux/amd64]
                targets: [internal]
                immutable: true                       # these tags must never move: a move is drift
                verify-upstream: true                 # when a mirror served a tag, HEAD the upstream too and flag divergence
              - source: quay.io/prometheus/node-exporter:v1.8.2
              - source: ghcr.io/example/tool@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
            """)
        let list = try #require(loaded.list, "errors: \(loaded.errors)")
        let lines = list.planLines
        #expect(lines[0] == "1 file, 3 images, 2 registries, 1 target")
        #expect(lines[1] == "fingerprint \(list.fingerprint)")
        #expect(
            Array(lines[2...]) == [
                "registry docker.io  mirrors=https://mirror.example.internal/  tls=default  credentials=docker-config",
                "registry registry.internal:5000  tls=plain-http  ca-file=/etc/ferry/internal-ca.pem  "
                    + "credentials=username:env:INTERNAL_USER,password:file:/run/secrets/internal",
                "target internal  registry=registry.internal:5000  prefix=mirror  tls=plain-http  "
                    + "ca-file=/etc/ferry/internal-ca.pem",
                "image docker.io/library/alpine  tags=3.19,3.20 include=^3\\.2\\d$ exclude=-rc semver=\">=3.18.0 <4\" "
                    + "latest=3  platforms=linux/amd64  targets=internal  immutable verify-upstream",
                "image quay.io/prometheus/node-exporter:v1.8.2  pinned  platforms=linux/amd64,linux/arm64/v8  targets=(none)",
                "image ghcr.io/example/tool@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef  "
                    + "pinned  platforms=linux/amd64,linux/arm64/v8  targets=(none)",
            ])
    }

    @Test func planShowsImpliedLatestAndQuotesOddValues() throws {
        let loaded = try loadFixture(
            """
            version: 1
            registries:
              ghcr.io:
                credentials: {username: robot, token-file: "/run/secrets/ghcr token"}
            targets:
              usb: {layout: "/mnt/usb drive"}
            images:
              - nginx
              - source: alpine
                include: ['\\d{1,3}']
                targets: [usb]
            """)
        let list = try #require(loaded.list, "errors: \(loaded.errors)")
        #expect(
            Array(list.planLines[2...]) == [
                "registry ghcr.io  tls=default  credentials=\"username:literal,token:file:/run/secrets/ghcr token\"",
                "target usb  layout=\"/mnt/usb drive\"",
                "image docker.io/library/nginx  tags=latest(implied)  platforms=all  targets=(none)",
                "image docker.io/library/alpine  include=\"\\\\d{1,3}\"  platforms=all  targets=usb",
            ])
        #expect(!list.planLines.joined().contains("robot"))
    }
}
