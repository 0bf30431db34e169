import OCIModel
import Testing

@Suite struct PlatformTests {
    @Test(arguments: [
        ("linux/amd64", "linux/amd64"),
        ("linux/x86_64", "linux/amd64"),
        ("linux/x86-64", "linux/amd64"),
        ("linux/amd64/v1", "linux/amd64"),
        ("linux/amd64/v3", "linux/amd64/v3"),
        ("linux/arm64", "linux/arm64/v8"),
        ("linux/aarch64", "linux/arm64/v8"),
        ("linux/arm64/v8", "linux/arm64/v8"),
        ("linux/arm64/8", "linux/arm64/v8"),
        ("linux/aarch64/v8", "linux/arm64/v8"),
        ("linux/arm64/v9", "linux/arm64/v9"),
        ("linux/arm", "linux/arm/v7"),
        ("linux/arm/7", "linux/arm/v7"),
        ("linux/arm/v7", "linux/arm/v7"),
        ("linux/arm/v6", "linux/arm/v6"),
        ("linux/arm/6", "linux/arm/v6"),
        ("linux/arm/5", "linux/arm/v5"),
        ("linux/arm/8", "linux/arm/v8"),
        ("linux/armhf", "linux/arm/v7"),
        ("linux/armel", "linux/arm/v6"),
        ("linux/i386", "linux/386"),
        ("linux/s390x", "linux/s390x"),
        ("linux/ppc64le", "linux/ppc64le"),
        ("linux/riscv64", "linux/riscv64"),
        ("windows/amd64", "windows/amd64"),
        ("Linux/AMD64", "linux/amd64"),
        ("Linux/x86_64", "linux/amd64"),
        ("LINUX/ARM64/V8", "linux/arm64/v8"),
        ("macos/arm64", "darwin/arm64/v8"),
        // Two or three components are taken as given, known or not (containerd does the same).
        ("plan10/weird", "plan10/weird"),
        // A single component: a known architecture means a Linux image.
        ("arm64", "linux/arm64/v8"),
        ("Aarch64", "linux/arm64/v8"),
        ("x86_64", "linux/amd64"),
        ("i386", "linux/386"),
        ("arm", "linux/arm/v7"),
        ("armhf", "linux/arm/v7"),
        ("armel", "linux/arm/v6"),
        ("s390x", "linux/s390x"),
    ])
    func normalises(input: String, expected: String) throws {
        let platform = try Platform(parsing: input)
        #expect(platform.description == expected)
        // Normalised output parses back to itself.
        #expect(try Platform(parsing: platform.description) == platform)
    }

    // A single known OS takes the host's architecture, as containerd's Parse does.
    @Test(arguments: [("linux", "linux"), ("windows", "windows"), ("macOS", "darwin"), ("Darwin", "darwin")])
    func fillsTheHostArchitectureForABareOS(input: String, os: String) throws {
        let platform = try Platform(parsing: input)
        #expect(platform.os == os)
        #expect(platform.architecture == Platform.host.architecture)
        #expect(platform.variant == Platform.host.variant)
    }

    @Test func hostIsNormalised() {
        #expect(Platform.host == Platform.host.normalized())
        #expect(Platform.host.architecture != "unknown")
    }

    // containerd's TestParseSelectorInvalid, plus the other error paths, with containerd's texts.
    @Test(arguments: [
        ("", PlatformError.invalidOSComponent("", of: "")),
        ("/linux/arm", .invalidOSComponent("", of: "/linux/arm")),
        ("linux/arm/", .invalidComponent("", of: "linux/arm/")),
        ("linux /arm", .invalidOSComponent("linux ", of: "linux /arm")),
        ("linux/&arm", .invalidComponent("&arm", of: "linux/&arm")),
        ("linux/arm/foo/bar", .cannotParse("linux/arm/foo/bar")),
        ("linux/arm/foo/bar/baz", .invalidComponent("bar/baz", of: "linux/arm/foo/bar/baz")),
        ("linux//amd64", .invalidComponent("", of: "linux//amd64")),
        ("linux.x/amd64", .invalidOSComponent("linux.x", of: "linux.x/amd64")),
        ("windows(10.0.17763)", .invalidOSComponent("windows(10.0.17763)", of: "windows(10.0.17763)")),
        ("*", .wildcardsNotSupported("*")),
        ("linux/*", .wildcardsNotSupported("linux/*")),
        ("nonsense", .unknownOperatingSystemOrArchitecture("nonsense")),
    ])
    func rejects(input: String, expected: PlatformError) {
        #expect(throws: expected) { try Platform(parsing: input) }
    }

    static let componentRule = #"platform specifier component must match "^[A-Za-z0-9_.-]+$": invalid argument"#
    static let osRule = #"OSAndVersion specifier component must match "^[A-Za-z0-9_-]+$": invalid argument"#

    @Test(arguments: [
        (
            PlatformError.invalidComponent("&arm", of: "linux/&arm"),
            #""&arm" is an invalid component of "linux/&arm": "#
        ),
        (.invalidOSComponent("linux ", of: "linux /arm"), #""linux " is an invalid OS component of "linux /arm": "#),
        (.unknownOperatingSystemOrArchitecture("nonsense"), #""nonsense": unknown operating system or architecture"#),
        (.cannotParse("a/b/c/d"), #""a/b/c/d": cannot parse platform specifier"#),
        (.wildcardsNotSupported("*"), #""*": wildcards not yet supported"#),
        (.invalidComponent("a\"b\\\n", of: "x"), #""a\"b\\\n" is an invalid component of "x": "#),
    ])
    func describesErrorsLikeContainerd(error: PlatformError, prefix: String) {
        let expected: String
        switch error {
        case .invalidComponent: expected = prefix + Self.componentRule
        case .invalidOSComponent: expected = prefix + Self.osRule
        default: expected = prefix + ": invalid argument"
        }
        #expect(error.description == expected)
    }

    // containerd's matcher cases for the selectors ferry accepts: each requested platform matches these index
    // entries once both sides are normalised.
    @Test(arguments: [
        ("linux/arm64", [("arm64", nil), ("aarch64", nil), ("aarch64", "v8"), ("arm64", "v8"), ("arm64", "8")]),
        ("linux/arm64/v8", [("aarch64", nil), ("aarch64", "v8"), ("arm64", nil)]),
        ("linux/arm", [("arm", "v7"), ("armhf", nil), ("arm", "7"), ("arm", nil)]),
        ("linux/arm/v6", [("armel", nil), ("arm", "6")]),
        ("linux/arm/v7", [("arm", nil), ("armhf", nil)]),
        ("linux/amd64", [("amd64", nil), ("x86_64", nil), ("amd64", "v1"), ("AMD64", nil)]),
        ("linux/386", [("i386", nil), ("386", nil)]),
    ] as [(String, [(String, String?)])])
    func matchesEquivalentIndexEntries(requested: String, entries: [(String, String?)]) throws {
        let wanted = try Platform(parsing: requested)
        for (architecture, variant) in entries {
            let entry = Platform(os: "linux", architecture: architecture, variant: variant)
            #expect(wanted.matches(entry), "\(requested) should match \(entry)")
        }
    }

    @Test(arguments: [
        ("linux/arm64", "linux", "arm64", "v9"),
        ("linux/arm64", "linux", "amd64", nil),
        ("linux/arm64", "windows", "arm64", nil),
        ("linux/arm", "linux", "arm", "v6"),
        ("linux/arm/v6", "linux", "armhf", nil),
        ("linux/amd64", "linux", "amd64", "v2"),
        ("linux/amd64/v2", "linux", "amd64", nil),
    ] as [(String, String, String, String?)])
    func doesNotMatchOtherPlatforms(requested: String, os: String, architecture: String, variant: String?) throws {
        let wanted = try Platform(parsing: requested)
        #expect(!wanted.matches(Platform(os: os, architecture: architecture, variant: variant)))
    }
}
