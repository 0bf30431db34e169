import OCIModel
import Testing

@Suite struct PlatformTests {
    @Test(arguments: [
        ("linux/amd64", "linux/amd64"),
        ("linux/x86_64", "linux/amd64"),
        ("linux/arm64", "linux/arm64/v8"),
        ("linux/aarch64", "linux/arm64/v8"),
        ("linux/arm64/v8", "linux/arm64/v8"),
        ("linux/arm", "linux/arm/v7"),
        ("linux/arm/7", "linux/arm/v7"),
        ("linux/armhf", "linux/arm/v7"),
        ("linux/armel", "linux/arm/v6"),
        ("linux/i386", "linux/386"),
        ("arm64", "linux/arm64/v8"),
        ("linux", "linux/amd64"),
        ("windows/amd64", "windows/amd64"),
        ("Linux/AMD64", "linux/amd64"),
    ])
    func normalises(input: String, expected: String) throws {
        #expect(try Platform(parsing: input).description == expected)
    }

    @Test(arguments: [
        ("", PlatformError.invalid("")),
        ("linux/amd64/v1/x", PlatformError.invalid("linux/amd64/v1/x")),
        ("linux//amd64", PlatformError.invalid("linux//amd64")),
        ("linux/amd 64", PlatformError.invalid("linux/amd 64")),
        ("nonsense", PlatformError.unknownOperatingSystemOrArchitecture("nonsense")),
    ])
    func rejects(input: String, expected: PlatformError) {
        #expect(throws: expected) { try Platform(parsing: input) }
    }

    @Test func matchesIndexEntriesAfterNormalisingBoth() throws {
        let wanted = try Platform(parsing: "linux/arm64")
        #expect(wanted.matches(Platform(os: "linux", architecture: "arm64")))
        #expect(wanted.matches(Platform(os: "linux", architecture: "arm64", variant: "v8")))
        #expect(!wanted.matches(Platform(os: "linux", architecture: "amd64")))
        #expect(!wanted.matches(Platform(os: "linux", architecture: "arm64", variant: "v9")))
    }
}
