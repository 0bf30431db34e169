import Testing

@testable import MirrorConfig

@Suite struct EnvironmentTests {
    static let yaml = """
        version: 1
        registries:
          ${DEMO_REGISTRY:-127.0.0.1:5000}:
            tls: ${DEMO_TLS:-plain-http}
        targets:
          ${TARGET_NAME:-usb}:
            layout: ${EXPORT_DIR}/ferry
        images:
          - source: ${DEMO_REGISTRY:-127.0.0.1:5000}/demo/alpine
            latest: ${KEEP:-2}
            immutable: ${IMMUTABLE:-false}
            include: ['^1\\.\\d+\\.\\d+$', '$${literal}']
        """

    @Test func defaultsApplyWhenUnset() throws {
        let loaded = try loadFixture(Self.yaml, environment: ["EXPORT_DIR": "/mnt/usb"])
        let list = try #require(loaded.list, "errors: \(loaded.errors)")
        #expect(list.registries["127.0.0.1:5000"]?.tls == .plainHTTP)
        #expect(list.targets["usb"]?.destination == .layout(path: "/mnt/usb/ferry"))
        let entry = try #require(list.images.first)
        #expect(entry.source.string == "127.0.0.1:5000/demo/alpine")
        // A plain scalar is typed after expansion: `${KEEP:-2}` is the number 2, `${IMMUTABLE:-false}` a boolean.
        #expect(entry.latest == 2)
        #expect(!entry.immutable)
        // `$` alone is kept (regex anchor); `$${` is a literal `${`.
        #expect(entry.include.map(\.pattern) == ["^1\\.\\d+\\.\\d+$", "${literal}"])
    }

    @Test func setVariablesWin() throws {
        let environment = [
            "DEMO_REGISTRY": "registry.lab:5000", "DEMO_TLS": "insecure-skip-verify", "TARGET_NAME": "disk",
            "EXPORT_DIR": "/data", "KEEP": "5", "IMMUTABLE": "true",
        ]
        let list = try #require(try loadFixture(Self.yaml, environment: environment).list)
        #expect(list.registries["registry.lab:5000"]?.tls == .insecureSkipVerify)
        #expect(list.targets["disk"]?.destination == .layout(path: "/data/ferry"))
        #expect(list.images[0].source.string == "registry.lab:5000/demo/alpine")
        #expect(list.images[0].latest == 5)
        #expect(list.images[0].immutable)
    }

    @Test func emptyVariableTakesTheDefault() throws {
        let list = try #require(
            try loadFixture(Self.yaml, environment: ["EXPORT_DIR": "/x", "DEMO_REGISTRY": ""]).list)
        #expect(list.images[0].source.string == "127.0.0.1:5000/demo/alpine")
    }

    @Test func unsetVariableWithoutDefaultIsAnError() throws {
        #expect(
            try loadFixture(Self.yaml).errors == [
                "a.yaml:7:13: environment variable EXPORT_DIR is not set and has no default; set it, "
                    + "or write ${EXPORT_DIR:-default}"
            ])
    }

    @Test func expandedValuesAreStillValidated() throws {
        let loaded = try loadFixture(Self.yaml, environment: ["EXPORT_DIR": "/x", "KEEP": "many", "DEMO_TLS": "off"])
        #expect(
            loaded.errors == [
                "a.yaml:4:10: \"tls\" must be one of verify, insecure-skip-verify, plain-http; got \"off\" "
                    + "(expanded from \"${DEMO_TLS:-plain-http}\")",
                "a.yaml:10:13: \"latest\" must be a whole number of at least 1; got \"many\" (expanded from \"${KEEP:-2}\")",
            ])
    }

    @Test(arguments: [
        ("plain", "plain"),
        ("a${X}b", "a1b"),
        ("${X:-d}", "1"),
        ("${UNSET:-d}", "d"),
        ("${UNSET:-}", ""),
        ("${EMPTY:-e}", "e"),
        ("${EMPTY}", ""),
        ("$${X}", "${X}"),
        ("^a$", "^a$"),
        ("$X", "$X"),
        ("${X}${X}", "11"),
    ])
    func expands(input: String, expected: String) throws {
        #expect(try EnvironmentSubstitution.expand(input, environment: ["X": "1", "EMPTY": ""]) == expected)
    }

    @Test(arguments: [
        ("${UNSET}", EnvironmentSubstitution.Failure.unset("UNSET")),
        ("${X", .malformed),
        ("${}", .malformed),
        ("${A-B}", .malformed),
        ("${9}", .malformed),
    ])
    func refuses(input: String, expected: EnvironmentSubstitution.Failure) {
        #expect(throws: expected) { try EnvironmentSubstitution.expand(input, environment: ["X": "1"]) }
    }
}
