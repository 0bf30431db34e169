import FerryTestSupport
import Foundation
import MirrorConfig

extension FuzzTargets {
    /// `MirrorList.load` on one YAML file (Yams, the file parser, semver ranges, globs, regexes, `${…}` expansion).
    ///
    /// Property: a refusal lists at least one error, and every error names the file and says what is wrong.
    public static func mirrorList() throws -> FuzzTarget {
        let directory = try TemporaryDirectory(prefix: "ferry-fuzz-mirror-list")
        let file = directory.appending("mirror.yaml")
        let environment = ["REGISTRY": "registry.test:5000", "EMPTY": "", "TOKEN_FILE": "/nonexistent/token"]
        return FuzzTarget(name: "mirror-list", seeds: mirrorListSeeds(), tokens: mirrorListTokens) {
            bytes throws(FuzzViolation) in
            // The directory lives as long as the target: dropping it would remove the folder.
            _ = directory
            do {
                try TestFiles.write(bytes, to: file)
            } catch {
                throw FuzzViolation("cannot write the input: \(error)")
            }
            do {
                let list = try MirrorList.load(from: file, environment: environment)
                guard list.files == [file] else { throw FuzzViolation("accepted, but lists files \(list.files)") }
                return .accepted
            } catch let violation as FuzzViolation {
                throw violation
            } catch {
                let errors = (error as? ConfigErrors)?.errors ?? []
                guard !errors.isEmpty else { throw FuzzViolation("refused with no error listed: \(error)") }
                for problem in errors where problem.file != file || problem.problem.isEmpty {
                    throw FuzzViolation("error \(problem) does not name the file or the problem")
                }
                return .rejected
            }
        }
    }

    static func mirrorListSeeds() -> [[UInt8]] {
        let full = #"""
            version: 1
            registries:
              docker.io:
                mirrors: [https://mirror.gcr.io, "http://127.0.0.1:5001/"]
                credentials: docker-config
              ${REGISTRY}:
                tls: plain-http
                credentials: {username: "u", password-file: "${TOKEN_FILE}"}
              ghcr.io:
                tls: verify
                ca-file: /etc/ssl/certs/ca.pem
                credentials:
                  username-env: GHCR_USER
                  token-env: GHCR_TOKEN
            targets:
              internal: {registry: "registry.internal:5000", prefix: mirror, tls: insecure-skip-verify}
              disk: {layout: /srv/oci}
            defaults: &defaults
              platforms: [linux/amd64, linux/arm64/v8]
              targets: [internal]
              immutable: false
            images:
              - alpine:3.20
              - source: docker.io/library/nginx
                tags: [1.27, "1.26"]
                include: '^1\.2\d(\.\d+)?$'
                exclude: -rc
                semver: ">=1.24.0 <2 || ~1.20 || ^0.9.1-beta.2"
                latest: 3
                verify-upstream: true
              - source: ${REGISTRY:-localhost:5000}/demo/app
                <<: *defaults
                platforms: all
                targets: [disk, internal]
              - source: ghcr.io/org/tool@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
                immutable: true
            """#
        let minimal = "version: 1\nimages:\n  - busybox\n"
        var seeds = [Array(full.utf8), Array(minimal.utf8)]
        // The shipped examples, found from this file's place in the checkout.
        let manifests = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../manifests")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: manifests.path)) ?? []
        for name in names.sorted() where name.hasSuffix(".yaml") {
            if let data = FileManager.default.contents(atPath: manifests.appendingPathComponent(name).path) {
                seeds.append(Array(data))
            }
        }
        return seeds
    }

    static let mirrorListTokens: [[UInt8]] = [
        "version: 1\n", "version: 2\n", "images:\n", "  - source: ", "registries:\n", "targets:\n", "defaults:\n",
        "${", "${REGISTRY}", "${UNSET}", "${EMPTY:-x}", "$${", "}", "&a ", "*a", "<<: *a", "!!str ", "!!binary ", "? ",
        "tags: [", "semver: ", "\">=1.0.0 <2\"", "^1.2.3-alpha.1", "~0", "x.X.*", " || ", "latest: ", "include: ",
        "exclude: ", "'(?<n>a)+$'", "'[z-a]'", "'(((('", "platforms: ", "linux/arm/v7", "windows/amd64", "mirrors: ",
        "https://", "http://[::1]:99999/", "credentials: ", "username-env: ", "password: p", "tls: ", "layout: ",
        "\t", "\n  ", "\n    ", "- ", ": ", "|\n", ">-\n", "---\n", "...\n", "%YAML 1.1\n", "\u{FEFF}",
    ].map { Array($0.utf8) }
}
