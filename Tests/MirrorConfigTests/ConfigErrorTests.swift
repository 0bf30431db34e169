import Testing

@testable import MirrorConfig

/// One broken mirror list file (`a.yaml`) and the exact errors it must produce.
struct ErrorCase: Sendable, CustomTestStringConvertible {
    let name: String
    let yaml: String
    let expected: [String]
    var environment: [String: String] = [:]

    var testDescription: String { name }
}

private let allowedImageKeys =
    "allowed: source, tags, include, exclude, semver, latest, platforms, targets, immutable, verify-upstream, immutable-tags, revalidate, referrers"
private let rangeHelp =
    "a range is comparators (=, >, >=, <, <=, ~, ^ and a version such as 3, 3.20, 3.20.1, 3.x or *) "
    + "separated by spaces (all must hold) or || (either)"
private let credentialsExpected =
    "docker-config, or a mapping with username, username-env or username-file "
    + "and one of password-env, password-file, token-env, token-file"

@Suite struct ConfigErrorTests {
    static let cases: [ErrorCase] = [
        // Unknown keys, at every level.
        ErrorCase(
            name: "unknown key in image entry",
            yaml: """
                version: 1
                images:
                  - source: alpine
                    tagz: ["3.20"]
                """,
            expected: ["a.yaml:4:5: unknown key \"tagz\" in image entry; \(allowedImageKeys)"]),
        ErrorCase(
            name: "unknown top-level key",
            yaml: "version: 1\nimage:\n  - source: alpine\n",
            expected: [
                "a.yaml:2:1: unknown key \"image\" at top level; allowed: version, defaults, registries, targets, images"
            ]),
        ErrorCase(
            name: "unknown key in registry",
            yaml: """
                version: 1
                registries:
                  docker.io:
                    mirror: [https://m.example.com]
                """,
            expected: [
                "a.yaml:4:5: unknown key \"mirror\" in registry \"docker.io\"; "
                    + "allowed: mirrors, tls, ca-file, client-cert, client-key, credentials, requests-per-second, max-concurrent"
            ]),
        ErrorCase(
            name: "unknown key in defaults",
            yaml: "version: 1\ndefaults:\n  platform: all\n",
            expected: [
                "a.yaml:3:3: unknown key \"platform\" in defaults; allowed: platforms, targets, immutable, verify-upstream, immutable-tags, revalidate, referrers"
            ]),
        ErrorCase(
            name: "unknown key in target",
            yaml: "version: 1\ntargets:\n  usb:\n    layout: /mnt/usb\n    path: x\n",
            expected: [
                "a.yaml:5:5: unknown key \"path\" in target \"usb\"; allowed: registry, prefix, tls, ca-file, layout"
            ]),
        // Wrong types.
        ErrorCase(
            name: "latest is not a number",
            yaml: "version: 1\nimages:\n  - source: alpine\n    latest: three\n",
            expected: ["a.yaml:4:13: \"latest\" must be a whole number of at least 1; got \"three\""]),
        ErrorCase(
            name: "latest is zero",
            yaml: "version: 1\nimages:\n  - source: alpine\n    latest: 0\n",
            expected: ["a.yaml:4:13: \"latest\" must be a whole number of at least 1; got \"0\""]),
        ErrorCase(
            name: "quoted boolean is a string",
            yaml: "version: 1\nimages:\n  - source: alpine\n    immutable: \"yes\"\n",
            expected: ["a.yaml:4:16: \"immutable\" must be true or false; got \"yes\""]),
        ErrorCase(
            name: "tags is a string, not a list",
            yaml: "version: 1\nimages:\n  - source: alpine\n    tags: \"3.20\"\n",
            expected: ["a.yaml:4:11: \"tags\" must be a list of tags such as [\"3.19\", \"3.20\"]; got \"3.20\""]),
        ErrorCase(
            name: "a tag entry is a mapping",
            yaml: "version: 1\nimages:\n  - source: alpine\n    tags: [{a: b}]\n",
            expected: ["a.yaml:4:12: each entry of \"tags\" must be a tag; got a mapping"]),
        ErrorCase(
            name: "images is a mapping",
            yaml: "version: 1\nimages:\n  source: alpine\n",
            expected: ["a.yaml:3:3: \"images\" must be a list of image entries (- source: …); got a mapping"]),
        ErrorCase(
            name: "file is a list",
            yaml: "- version: 1\n",
            expected: [
                "a.yaml:1:1: \"file\" must be a mapping with keys version, defaults, registries, targets, images; got a list"
            ]),
        ErrorCase(
            name: "tls value not allowed",
            yaml: "version: 1\nregistries:\n  registry.internal:\n    tls: insecure\n",
            expected: [
                "a.yaml:4:10: \"tls\" must be one of verify, insecure-skip-verify, plain-http; got \"insecure\""
            ]),
        ErrorCase(
            name: "platforms is an empty list",
            yaml: "version: 1\ndefaults:\n  platforms: []\n",
            expected: [
                "a.yaml:3:14: \"platforms\" must be all, or a list of platforms such as [linux/amd64, linux/arm64]; "
                    + "got an empty list"
            ]),
        // Values that do not parse.
        ErrorCase(
            name: "bad reference",
            yaml: "version: 1\nimages:\n  - source: \"alpine::3\"\n",
            expected: ["a.yaml:3:13: bad reference \"alpine::3\": invalid reference format"]),
        ErrorCase(
            name: "uppercase reference",
            yaml: "version: 1\nimages:\n  - Alpine\n",
            expected: [
                "a.yaml:3:5: bad reference \"Alpine\": invalid reference format: repository name (library/Alpine) "
                    + "must be lowercase"
            ]),
        ErrorCase(
            name: "invalid tag",
            yaml: "version: 1\nimages:\n  - source: alpine\n    tags: [\"-rc\"]\n",
            expected: [
                "a.yaml:4:12: invalid tag \"-rc\"; a tag is 1 to 128 letters, digits, \"_\", \".\" and \"-\", "
                    + "not starting with \".\" or \"-\""
            ]),
        ErrorCase(
            name: "bad regexes, each reported",
            yaml: "version: 1\nimages:\n  - source: alpine\n    include: ['(']\n    exclude: ['[a-']\n",
            expected: [
                "a.yaml:4:15: bad regex \"(\": expected ')'",
                "a.yaml:5:15: bad regex \"[a-\": expected ']'",
            ]),
        ErrorCase(
            name: "bad semver range",
            yaml: "version: 1\nimages:\n  - source: alpine\n    semver: \">=3 foo\"\n",
            expected: ["a.yaml:4:13: bad semver range \">=3 foo\": \"foo\" is not a version; \(rangeHelp)"]),
        ErrorCase(
            name: "semver operator without version",
            yaml: "version: 1\nimages:\n  - source: alpine\n    semver: \"<\"\n",
            expected: ["a.yaml:4:13: bad semver range \"<\": \"<\" has no version after it; \(rangeHelp)"]),
        ErrorCase(
            name: "unquoted semver range is a YAML block scalar",
            yaml: "version: 1\nimages:\n  - source: alpine\n    semver: >=3.18 <4\n",
            expected: [
                "a.yaml:4:14: invalid YAML: did not find expected comment or line break "
                    + "(while scanning a block scalar at line 4, column 13); a value starting with \">\" or \"|\" "
                    + "begins a YAML block scalar: quote it, as in semver: \">=3.18 <4\""
            ]),
        ErrorCase(
            name: "bad platform",
            yaml: "version: 1\nimages:\n  - source: alpine\n    platforms: [amd64, \"linux//arm\"]\n",
            expected: [
                "a.yaml:4:24: bad platform: \"\" is an invalid component of \"linux//arm\": platform specifier component must match \"^[A-Za-z0-9_.-]+$\": invalid argument; "
                    + "a platform is os/arch[/variant] such as linux/arm64/v8"
            ]),
        ErrorCase(
            name: "all inside a platform list",
            yaml: "version: 1\ndefaults:\n  platforms: [all]\n",
            expected: ["a.yaml:3:15: \"all\" cannot be listed with platforms; write platforms: all"]),
        // References between sections.
        ErrorCase(
            name: "unknown target name",
            yaml: """
                version: 1
                targets:
                  internal:
                    registry: registry.internal:5000
                  usb:
                    layout: /mnt/usb/ferry
                images:
                  - source: alpine
                    targets: [usb, internl]
                """,
            expected: ["a.yaml:9:20: unknown target \"internl\"; defined targets: internal, usb"]),
        ErrorCase(
            name: "unknown target with no targets defined",
            yaml: "version: 1\ndefaults:\n  targets: [internal]\n",
            expected: ["a.yaml:3:13: unknown target \"internal\"; no targets are defined (add them under targets:)"]),
        ErrorCase(
            name: "target with registry and layout",
            yaml: "version: 1\ntargets:\n  usb:\n    registry: registry.internal\n    layout: /mnt/usb/ferry\n",
            expected: ["a.yaml:3:3: target \"usb\" has both registry and layout; give exactly one"]),
        ErrorCase(
            name: "target with neither registry nor layout",
            yaml: "version: 1\ntargets:\n  usb:\n    prefix: mirror\n",
            expected: ["a.yaml:3:3: target \"usb\" needs registry (host[:port]) or layout (an OCI layout directory)"]),
        ErrorCase(
            name: "layout target with registry-only keys",
            yaml: "version: 1\ntargets:\n  usb:\n    layout: /mnt/usb\n    tls: plain-http\n",
            expected: ["a.yaml:5:5: \"tls\" applies to registry targets only, not to a layout"]),
        ErrorCase(
            name: "invalid target name",
            yaml: "version: 1\ntargets:\n  \"my target\":\n    layout: /mnt/usb\n",
            expected: [
                "a.yaml:3:3: invalid target name \"my target\"; use letters, digits, \".\", \"_\" and \"-\", "
                    + "starting with a letter or digit"
            ]),
        ErrorCase(
            name: "invalid prefix",
            yaml: "version: 1\ntargets:\n  internal:\n    registry: registry.internal\n    prefix: /Mirror\n",
            expected: [
                "a.yaml:5:13: invalid prefix \"/Mirror\"; a prefix is lowercase path components "
                    + "([a-z0-9] separated by \".\", \"_\", \"__\" or \"-\") joined by \"/\""
            ]),
        ErrorCase(
            name: "selectors on a source pinned by tag",
            yaml: """
                version: 1
                images:
                  - source: quay.io/prometheus/node-exporter:v1.8.2
                    tags: [v1.8.3]
                    latest: 2
                """,
            expected: [
                "a.yaml:4:5: \"tags\" cannot be used with a source pinned by tag "
                    + "(quay.io/prometheus/node-exporter:v1.8.2); selectors need a repository source such as "
                    + "quay.io/prometheus/node-exporter",
                "a.yaml:5:5: \"latest\" cannot be used with a source pinned by tag "
                    + "(quay.io/prometheus/node-exporter:v1.8.2); selectors need a repository source such as "
                    + "quay.io/prometheus/node-exporter",
            ]),
        ErrorCase(
            name: "image entry without source",
            yaml: "version: 1\nimages:\n  - tags: [\"3.20\"]\n",
            expected: ["a.yaml:3:5: image entry needs a source (an image reference such as docker.io/library/alpine)"]),
        // Versions.
        ErrorCase(
            name: "missing version, rest still checked",
            yaml: "# mirror list\nimages:\n  - source: alpine\n    tagz: []\n",
            expected: [
                "a.yaml:2:1: missing version; write \"version: 1\" at the top of every mirror list file",
                "a.yaml:4:5: unknown key \"tagz\" in image entry; \(allowedImageKeys)",
            ]),
        ErrorCase(
            name: "unsupported version, rest skipped",
            yaml: "version: 2\nimages: whatever\n",
            expected: ["a.yaml:1:10: unsupported version 2; this ferry reads version 1"]),
        ErrorCase(
            name: "empty file",
            yaml: "# nothing yet\n",
            expected: ["a.yaml:1:1: empty file; write \"version: 1\" at the top of every mirror list file"]),
        // YAML itself.
        ErrorCase(
            name: "YAML syntax error",
            yaml: "version: 1\nimages: [\n",
            expected: [
                "a.yaml:3:1: invalid YAML: did not find expected node content (while parsing a flow node at line 3, column 1)"
            ]),
        ErrorCase(
            name: "duplicate key in one mapping",
            yaml: "version: 1\nimages:\n  - source: alpine\n    tags: [a]\n    tags: [b]\n",
            expected: ["a.yaml:4:5: key \"tags\" appears more than once in this mapping; give each key once"]),
        // Registries.
        ErrorCase(
            name: "registry key that is a Docker Hub namespace",
            yaml: "version: 1\nregistries:\n  myregistry:\n    tls: plain-http\n",
            expected: [
                "a.yaml:3:3: invalid registry host \"myregistry\": without \".\", \":\" or being localhost it would "
                    + "name a Docker Hub namespace, not a registry; write host[:port] such as registry.internal or "
                    + "myregistry:5000"
            ]),
        ErrorCase(
            name: "registry key with a path",
            yaml: "version: 1\nregistries:\n  registry.internal/team: {}\n",
            expected: [
                "a.yaml:3:3: invalid registry host \"registry.internal/team\"; expected host[:port] such as docker.io, "
                    + "registry.internal:5000 or localhost:5000"
            ]),
        ErrorCase(
            name: "same registry twice after normalization",
            yaml: "version: 1\nregistries:\n  docker.io: {}\n  index.docker.io:\n    tls: verify\n",
            expected: [
                "a.yaml:4:3: registry \"index.docker.io\" (normalized: docker.io) is already configured at "
                    + "a.yaml:3:3; configure each registry once"
            ]),
        ErrorCase(
            name: "mirror with unsupported scheme",
            yaml: "version: 1\nregistries:\n  docker.io:\n    mirrors: [\"ftp://m.example.com\"]\n",
            expected: ["a.yaml:4:15: invalid mirror: unsupported scheme \"ftp\" in \"ftp://m.example.com\""]),
        ErrorCase(
            name: "mirror with a path",
            yaml: "version: 1\nregistries:\n  docker.io:\n    mirrors:\n      - https://m.example.com/v2/\n",
            expected: [
                "a.yaml:5:9: invalid mirror: path, query, or fragment at end of the URI \"https://m.example.com/v2/\""
            ]),
        ErrorCase(
            name: "mirror with credentials, password masked",
            yaml: "version: 1\nregistries:\n  docker.io:\n    mirrors: [\"https://bob:s3cret@m.example.com\"]\n",
            expected: [
                "a.yaml:4:15: invalid mirror: username/password not allowed in URI \"https://bob:xxxxx@m.example.com\""
            ]),
        ErrorCase(
            name: "client-cert without client-key",
            yaml: "version: 1\nregistries:\n  registry.internal:\n    client-cert: /etc/ferry/client.pem\n",
            expected: ["a.yaml:4:5: client-cert needs client-key as well; give both or neither"]),
        // Credentials: never inline, never echoed.
        ErrorCase(
            name: "inline password",
            yaml: """
                version: 1
                registries:
                  registry.internal:
                    credentials:
                      username: ci
                      password: hunter2
                """,
            expected: [
                "a.yaml:6:7: inline credentials are not allowed; use password-env, password-file or docker-config"
            ]),
        ErrorCase(
            name: "inline token, auth and identitytoken",
            yaml: """
                version: 1
                registries:
                  registry.internal:
                    credentials:
                      token: hunter2
                      auth: aHVudGVyMg==
                      identitytoken: hunter2
                """,
            expected: [
                "a.yaml:5:7: inline credentials are not allowed; use password-env, password-file or docker-config",
                "a.yaml:6:7: inline credentials are not allowed; use password-env, password-file or docker-config",
                "a.yaml:7:7: inline credentials are not allowed; use password-env, password-file or docker-config",
            ]),
        ErrorCase(
            name: "credentials given as a plain value",
            yaml: "version: 1\nregistries:\n  registry.internal:\n    credentials: hunter2\n",
            expected: ["a.yaml:4:18: \"credentials\" must be \(credentialsExpected); got a single value"]),
        ErrorCase(
            name: "password-env holding a value instead of a name",
            yaml: """
                version: 1
                registries:
                  registry.internal:
                    credentials:
                      username: ci
                      password-env: hunter2!
                """,
            expected: [
                "a.yaml:6:21: \"password-env\" must be the name of an environment variable ([A-Za-z_][A-Za-z0-9_]*), "
                    + "not a value"
            ]),
        ErrorCase(
            name: "password without user name",
            yaml:
                "version: 1\nregistries:\n  registry.internal:\n    credentials:\n      password-file: /run/secrets/p\n",
            expected: ["a.yaml:5:7: password-file needs a user name: add username, username-env or username-file"]),
        ErrorCase(
            name: "credentials without a secret",
            yaml: "version: 1\nregistries:\n  registry.internal:\n    credentials:\n      username: ci\n",
            expected: ["a.yaml:5:7: credentials need one of password-env, password-file, token-env, token-file"]),
        ErrorCase(
            name: "two secrets",
            yaml: """
                version: 1
                registries:
                  registry.internal:
                    credentials:
                      token-env: HUB_TOKEN
                      password-file: /run/secrets/p
                """,
            expected: ["a.yaml:6:7: give only one of password-env, password-file, token-env, token-file"]),
        // Request economy.
        ErrorCase(
            name: "revalidate without a unit",
            yaml: "version: 1\nimages:\n  - source: alpine\n    revalidate: 24\n",
            expected: [
                "a.yaml:4:17: \"revalidate\" must be a duration such as 24h, 30m, 90s or 7d (whole numbers with s, m, h "
                    + "or d); got \"24\""
            ]),
        ErrorCase(
            name: "revalidate in words",
            yaml: "version: 1\ndefaults:\n  revalidate: 1 day\nimages:\n  - source: alpine\n",
            expected: [
                "a.yaml:3:15: \"revalidate\" must be a duration such as 24h, 30m, 90s or 7d (whole numbers with s, m, h "
                    + "or d); got \"1 day\""
            ]),
        ErrorCase(
            name: "revalidate of zero",
            yaml: "version: 1\nimages:\n  - source: alpine\n    revalidate: 0h\n",
            expected: [
                "a.yaml:4:17: \"revalidate\" must be a duration such as 24h, 30m, 90s or 7d (whole numbers with s, m, h "
                    + "or d); got \"0h\""
            ]),
        ErrorCase(
            name: "immutable-tags with a bad regex",
            yaml: "version: 1\nimages:\n  - source: alpine\n    immutable-tags: ['v(1']\n",
            expected: [
                "a.yaml:4:22: bad regex \"v(1\": expected ')'"
            ]),
        ErrorCase(
            name: "immutable-tags not a list",
            yaml: "version: 1\nimages:\n  - source: alpine\n    immutable-tags: true\n",
            expected: [
                "a.yaml:4:21: \"immutable-tags\" must be a list of regular expressions such as ['^3\\.2\\d$']; got \"true\""
            ]),
        ErrorCase(
            name: "requests-per-second of zero",
            yaml: "version: 1\nregistries:\n  docker.io:\n    requests-per-second: 0\nimages:\n  - source: alpine\n",
            expected: [
                "a.yaml:4:26: \"requests-per-second\" must be a positive number of requests per second such as 10 or "
                    + "0.5; got \"0\""
            ]),
        ErrorCase(
            name: "max-concurrent of zero",
            yaml: "version: 1\nregistries:\n  docker.io:\n    max-concurrent: 0\nimages:\n  - source: alpine\n",
            expected: [
                "a.yaml:4:21: \"max-concurrent\" must be a whole number of requests at once, at least 1; got \"0\""
            ]),
        // Environment.
        ErrorCase(
            name: "unset variable without default",
            yaml: "version: 1\nimages:\n  - source: ${FERRY_TEST_REGISTRY}/alpine\n",
            expected: [
                "a.yaml:3:13: environment variable FERRY_TEST_REGISTRY is not set and has no default; set it, "
                    + "or write ${FERRY_TEST_REGISTRY:-default}"
            ]),
        ErrorCase(
            name: "malformed variable reference",
            yaml: "version: 1\nimages:\n  - source: ${1BAD}/alpine\n",
            expected: [
                "a.yaml:3:13: malformed variable reference; write ${NAME} or ${NAME:-default} (NAME: letters, digits, "
                    + "\"_\"), or \"$${\" for a literal \"${\""
            ]),
    ]

    @Test(arguments: cases)
    func reportsExactError(_ testCase: ErrorCase) throws {
        let loaded = try loadFixture(testCase.yaml, environment: testCase.environment)
        #expect(loaded.list == nil)
        #expect(loaded.errors == testCase.expected)
    }

    @Test(arguments: ["password", "token", "auth", "identitytoken"])
    func credentialValuesNeverAppearInErrors(key: String) throws {
        let yaml = """
            version: 1
            registries:
              registry.internal:
                credentials: {username: ci, \(key): "Zm9vOmh1bnRlcjI="}
                mirrors: [https://u:Zm9vOmh1bnRlcjI=@m.example.com]
            """
        let errors = try loadFixture(yaml).errors
        #expect(errors.count == 2)
        #expect(!errors.joined().contains("Zm9vOmh1bnRlcjI="))
    }

    @Test func summaryCountsErrorsAndFiles() {
        let one = ConfigErrors([ConfigError(file: "a.yaml", line: 1, column: 1, problem: "x")])
        #expect(one.summary == "1 error in 1 file")
        let three = ConfigErrors([
            ConfigError(file: "a.yaml", line: 1, column: 1, problem: "x"),
            ConfigError(file: "a.yaml", line: 2, column: 1, problem: "y"),
            ConfigError(file: "b.yaml", line: 0, column: 0, problem: "z"),
        ])
        #expect(three.summary == "3 errors in 2 files")
        #expect(three.description == "a.yaml:1:1: x\na.yaml:2:1: y\nb.yaml: z\n3 errors in 2 files")
    }
}
