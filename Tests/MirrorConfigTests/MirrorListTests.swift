import Foundation
import OCIModel
import Testing

@testable import MirrorConfig

@Suite struct MirrorListTests {
    static let registriesFile = """
        version: 1
        registries:
          index.docker.io:                 # folds to docker.io
            mirrors:
              - mirror.example.internal    # gets https://
              - https://mirror.example.internal/
              - http://10.0.0.5:5000
          registry.internal:5000:
            tls: plain-http
            ca-file: /etc/ferry/internal-ca.pem
            credentials:
              username-env: INTERNAL_USER
              password-file: /run/secrets/internal
          ghcr.io:
            credentials: {token-env: GHCR_TOKEN}
        """
    static let targetsFile = """
        version: 1
        defaults:
          platforms: [linux/amd64, linux/arm64, linux/amd64]
          targets: [internal]
          verify-upstream: true
        targets:
          internal:
            registry: registry.internal:5000
            prefix: mirror
          usb:
            layout: /mnt/usb/ferry
          other:
            registry: registry.internal:5000
            tls: verify
        """
    static let imagesFile = """
        version: 1
        images:
          - source: alpine
            tags: ["3.19", "3.20", "3.19"]
            include: ['^3\\.2\\d$']
            exclude: ['.*-rc.*']
            semver: ">=3.18.0 <4"
            latest: 3
            platforms: [linux/amd64]
            immutable: true
          - source: quay.io/prometheus/node-exporter:v1.8.2
            targets: [usb, internal]
            platforms: all
          - nginx
          - source: ghcr.io/example/tool@sha256:4a5a3c1e8b0f2d6e9c7b1a3f5d8e0c2b4a6f8e1d3c5b7a9f0e2d4c6b8a1f3e5d
            targets: []
        """

    @Test func mergesAGoodFolder() throws {
        let loaded = try loadFixture([
            ("images.yaml", Self.imagesFile), ("registries.yml", Self.registriesFile),
            ("targets.yaml", Self.targetsFile),
            ("README.md", "not read"), (".hidden.yaml", "not: read"),
        ])
        let list = try #require(loaded.list, "errors: \(loaded.errors)")
        #expect(
            list.files.map { ($0 as NSString).lastPathComponent } == ["images.yaml", "registries.yml", "targets.yaml"])

        #expect(list.registries.keys.sorted() == ["docker.io", "ghcr.io", "registry.internal:5000"])
        let hub = list.settings(for: "index.docker.io")
        #expect(hub.mirrors.map(\.absoluteString) == ["https://mirror.example.internal/", "http://10.0.0.5:5000/"])
        #expect(hub.tls == nil)  // not set: Docker's default applies
        #expect(hub.credentials == .dockerConfig)
        let internalHost = list.settings(for: "registry.internal:5000")
        #expect(internalHost.tls == .plainHTTP)
        #expect(internalHost.caFile == "/etc/ferry/internal-ca.pem")
        #expect(
            internalHost.credentials
                == .explicit(
                    username: .reference(.environment("INTERNAL_USER")),
                    secret: .password(.file("/run/secrets/internal"))))
        #expect(
            list.settings(for: "ghcr.io").credentials
                == .explicit(username: nil, secret: .token(.environment("GHCR_TOKEN"))))
        let unlisted = list.settings(for: "quay.io")
        #expect(unlisted == RegistrySettings(host: "quay.io"))

        #expect(list.targets["internal"]?.destination == .registry(host: "registry.internal:5000", prefix: "mirror"))
        // Inherited from the registries entry of its host, which lives in another file.
        #expect(list.targets["internal"]?.tls == .plainHTTP)
        #expect(list.targets["internal"]?.caFile == "/etc/ferry/internal-ca.pem")
        #expect(list.targets["other"]?.tls == .verify)
        #expect(list.targets["usb"]?.destination == .layout(path: "/mnt/usb/ferry"))

        #expect(
            list.images.map(\.source.string) == [
                "docker.io/library/alpine", "quay.io/prometheus/node-exporter:v1.8.2", "docker.io/library/nginx",
                "ghcr.io/example/tool@sha256:4a5a3c1e8b0f2d6e9c7b1a3f5d8e0c2b4a6f8e1d3c5b7a9f0e2d4c6b8a1f3e5d",
            ])
        let alpine = list.images[0]
        #expect(alpine.tags == ["3.19", "3.20"])
        #expect(alpine.include.map(\.pattern) == ["^3\\.2\\d$"])
        #expect(alpine.semver?.text == ">=3.18.0 <4")
        #expect(alpine.latest == 3)
        #expect(alpine.platforms == .only([try Platform(parsing: "linux/amd64")]))
        #expect(alpine.targets == ["internal"])
        #expect(alpine.immutable)
        #expect(alpine.verifyUpstream)
        #expect(alpine.needsTagList)
        #expect(alpine.location.line == 3 && alpine.location.column == 5)

        let exporter = list.images[1]
        #expect(exporter.isPinned && !exporter.needsTagList)
        #expect(exporter.platforms == .all)
        #expect(exporter.targets == ["usb", "internal"])
        #expect(!exporter.immutable && exporter.verifyUpstream)

        let nginx = list.images[2]
        #expect(nginx.tags == ["latest"] && nginx.tagsAreImplied && !nginx.needsTagList)
        // defaults.platforms, normalised and deduplicated.
        #expect(
            nginx.platforms == .only([try Platform(parsing: "linux/amd64"), try Platform(parsing: "linux/arm64/v8")]))
        #expect(nginx.selectTags(from: ["1.27", "latest"]) == ["latest"])

        #expect(list.images[3].targets == [])
    }

    @Test func singleFileWorksAndFingerprintFollowsBytes() throws {
        let directory = try TemporaryDirectory()
        let path = try directory.write("mirror.yml", "version: 1\nimages: [alpine]\n")
        let first = try MirrorList.load(from: path, environment: [:])
        #expect(first.files == [path])
        #expect(first.images.count == 1)
        let again = try MirrorList.load(from: path, environment: [:])
        #expect(again.fingerprint == first.fingerprint)
        try directory.write("mirror.yml", "version: 1\nimages: [alpine]  \n")
        let changed = try MirrorList.load(from: path, environment: [:])
        #expect(changed.fingerprint != first.fingerprint)

        // The same file under another folder has the same fingerprint: names are relative to --config.
        let other = try TemporaryDirectory()
        let copy = try other.write("mirror.yml", "version: 1\nimages: [alpine]\n")
        #expect(try MirrorList.load(from: copy, environment: [:]).fingerprint == first.fingerprint)
        #expect(
            first.fingerprint == Digest.sha256(of: Array("mirror.yml\u{0}28\u{0}version: 1\nimages: [alpine]\n".utf8)))
    }

    @Test func everyErrorFromEveryFileIsListed() throws {
        let loaded = try loadFixture([
            ("b.yaml", "version: 1\nimages:\n  - source: alpine\n    latest: -1\n  - source: \"a b\"\n"),
            ("a.yaml", "version: 1\ntargets:\n  usb: {}\nimages:\n  - source: busybox\n    targets: [nowhere]\n"),
        ])
        #expect(
            loaded.errors == [
                "a.yaml:3:3: target \"usb\" needs registry (host[:port]) or layout (an OCI layout directory)",
                "a.yaml:6:15: unknown target \"nowhere\"; no targets are defined (add them under targets:)",
                "b.yaml:4:13: \"latest\" must be a whole number of at least 1; got \"-1\"",
                "b.yaml:5:13: bad reference \"a b\": invalid reference format",
            ])
    }

    @Test func aggregateDescriptionNamesEveryErrorAndTheCount() throws {
        let directory = try TemporaryDirectory()
        try directory.write("a.yaml", "version: 3\n")
        try directory.write("b.yaml", "version: 1\nimages: [\"UPPER\"]\n")
        #expect(throws: ConfigErrors.self) { try MirrorList.load(from: directory.path, environment: [:]) }
        do {
            _ = try MirrorList.load(from: directory.path, environment: [:])
        } catch {
            #expect(error.description.hasSuffix("\n2 errors in 2 files"))
            #expect(error.errors.map(\.line) == [1, 2])
            #expect(error.errors[0].file == directory.path + "/a.yaml")
        }
    }

    @Test func duplicatesAcrossFilesNameBothPlaces() throws {
        let loaded = try loadFixture([
            (
                "a.yaml",
                """
                version: 1
                defaults: {immutable: true}
                registries:
                  docker.io: {}
                targets:
                  usb: {layout: /mnt/usb}
                images:
                  - source: docker.io/library/alpine:3.20
                """
            ),
            (
                "b.yaml",
                """
                version: 1
                defaults:
                  immutable: false
                registries:
                  index.docker.io:
                    tls: verify
                targets:
                  usb: {layout: /mnt/other}
                images:
                  - alpine:3.20
                  - alpine:3.21
                  - alpine
                """
            ),
        ])
        #expect(
            loaded.errors == [
                "b.yaml:2:1: defaults are already set at a.yaml:2:1; only one file may set defaults",
                "b.yaml:5:3: registry \"index.docker.io\" (normalized: docker.io) is already configured at a.yaml:4:3; "
                    + "configure each registry once",
                "b.yaml:8:3: target \"usb\" is already defined at a.yaml:6:3; give each target a unique name",
                "b.yaml:10:5: duplicate image docker.io/library/alpine:3.20; first listed at a.yaml:8:5; list each source once",
            ])
    }

    @Test func emptyFolderAndMissingPathAreErrors() throws {
        let directory = try TemporaryDirectory()
        try directory.write("notes.txt", "version: 1")
        try FileManager.default.createDirectory(atPath: directory.path + "/sub.yaml", withIntermediateDirectories: true)
        #expect(
            throws: ConfigErrors([
                ConfigError(
                    file: directory.path, line: 0, column: 0,
                    problem: "no *.yaml or *.yml files in this folder; a mirror list is a folder of them or one file")
            ])
        ) {
            try MirrorList.load(from: directory.path, environment: [:])
        }
        let missing = directory.path + "/nope"
        #expect(
            throws: ConfigErrors([ConfigError(file: missing, line: 0, column: 0, problem: "no such file or directory")])
        ) {
            try MirrorList.load(from: missing, environment: [:])
        }
    }

    @Test func oversizedFilesAndFIFOsAreRefusedUnread() throws {
        let directory = try TemporaryDirectory()
        let big = try directory.write("big.yaml", "version: 1\n" + String(repeating: "#", count: 8 << 20))
        #expect(
            throws: ConfigErrors([
                ConfigError(
                    file: big, line: 0, column: 0,
                    problem: "file is 8388619 bytes; mirror list files are limited to 8 MiB")
            ])
        ) {
            try MirrorList.load(from: big, environment: [:])
        }
        let fifo = directory.path + "/pipe.yaml"
        #expect(mkfifo(fifo, 0o600) == 0)
        #expect(
            throws: ConfigErrors([
                ConfigError(
                    file: fifo, line: 0, column: 0,
                    problem: "not a regular file; --config names a folder or a YAML file")
            ])
        ) {
            try MirrorList.load(from: fifo, environment: [:])
        }
    }

    @Test func nullSectionsAreEmpty() throws {
        let loaded = try loadFixture("version: 1\ndefaults:\nregistries:\ntargets:\nimages:\n")
        let list = try #require(loaded.list, "errors: \(loaded.errors)")
        #expect(list.images.isEmpty && list.registries.isEmpty && list.targets.isEmpty)
    }

    @Test func mergeKeysShareSettings() throws {
        let loaded = try loadFixture(
            """
            version: 1
            x-common: &common
              platforms: [linux/amd64]
              immutable: true
            images:
              - source: alpine
                <<: *common
                tags: ["3.20"]
              - source: busybox
                <<: *common
                immutable: false
            """)
        // `x-common` is an unknown top-level key: anchors must live under a known key or in the entries themselves.
        #expect(
            loaded.errors == [
                "a.yaml:2:1: unknown key \"x-common\" at top level; allowed: version, defaults, registries, targets, images"
            ])
        let good = try loadFixture(
            """
            version: 1
            images:
              - source: alpine
                platforms: &amd [linux/amd64]
                immutable: &yes true
              - source: busybox
                platforms: *amd
                immutable: *yes
              - source: nginx
                <<: {immutable: true, platforms: [linux/arm64]}
                platforms: all
            """)
        let list = try #require(good.list, "errors: \(good.errors)")
        #expect(list.images[1].platforms == .only([try Platform(parsing: "linux/amd64")]))
        #expect(list.images[1].immutable)
        #expect(list.images[2].immutable)
        #expect(list.images[2].platforms == .all)
    }

    @Test func aliasBombIsRefused() throws {
        var yaml = "version: 1\nimages:\n  - source: alpine\n    tags: &t0 [a, a, a, a, a, a, a, a, a, a]\n"
        yaml += "x: &t1 [*t0, *t0, *t0, *t0, *t0, *t0, *t0, *t0, *t0, *t0]\n"
        for level in 2...7 {
            let previous = "*t\(level - 1)"
            yaml += "x\(level): &t\(level) [" + Array(repeating: previous, count: 10).joined(separator: ", ") + "]\n"
        }
        let loaded = try loadFixture(yaml)
        #expect(
            loaded.errors == [
                "a.yaml:1:1: more than 1000000 YAML nodes once aliases are expanded; split the file or use fewer aliases"
            ])
    }
}
