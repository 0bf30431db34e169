import Testing

@testable import MirrorConfig

@Suite struct GlobTests {
    @Test(arguments: [
        ("*", "", true), ("*", "docker.io/library/alpine", true),
        ("docker.io/*", "docker.io/library/alpine", true), ("docker.io/*", "quay.io/x", false),
        ("*alpine", "docker.io/library/alpine", true), ("*alpine", "docker.io/library/alpine:3.20", false),
        ("*alpine*", "docker.io/library/alpine:3.20", true),
        ("alp?ne", "alpine", true), ("alp?ne", "alpne", false),
        ("[ab]usybox", "busybox", true), ("[!ab]usybox", "busybox", false), ("[^ab]usybox", "cusybox", true),
        ("v[0-9].*", "v1.8", true), ("v[0-9].*", "vx.8", false),
        ("[]]", "]", true), ("[", "[", true), ("a\\*", "a*", true), ("a\\*", "ab", false),
        ("*a*b*c*", "xaxbxcx", true), ("*a*b*c*", "xaxcxbx", false), ("a**b", "ab", true),
    ])
    func globMatches(pattern: String, text: String, expected: Bool) {
        #expect(Glob(pattern).matches(text) == expected)
    }

    @Test func filteredKeepsMatchingImagesOnly() throws {
        let loaded = try loadFixture(
            """
            version: 1
            images:
              - alpine
              - quay.io/prometheus/node-exporter:v1.8.2
              - ghcr.io/example/tool:1.0
              - bitnami/redis
            """)
        let list = try #require(loaded.list, "errors: \(loaded.errors)")
        func only(_ glob: String) -> [String] { list.filtered(onlyGlob: glob).images.map(\.source.familiarString) }
        #expect(only("docker.io/*") == ["alpine", "bitnami/redis"])
        #expect(only("alpine") == ["alpine"])  // the familiar name
        #expect(only("docker.io/library/alpine") == ["alpine"])  // the normalized name
        #expect(only("*node-exporter*") == ["quay.io/prometheus/node-exporter:v1.8.2"])
        #expect(only("*:1.0") == ["ghcr.io/example/tool:1.0"])
        #expect(only("nothing") == [])
        #expect(list.filtered(onlyGlob: "*").images == list.images)
        #expect(list.filtered(onlyGlob: "x").fingerprint == list.fingerprint)
    }
}

@Suite struct MirrorURLTests {
    @Test(arguments: [
        ("https://mirror.example.com", "https://mirror.example.com/"),
        ("https://mirror.example.com/", "https://mirror.example.com/"),
        ("mirror.example.com", "https://mirror.example.com/"),
        ("mirror.example.com:5000", "https://mirror.example.com:5000/"),
        ("http://10.0.0.5:5000", "http://10.0.0.5:5000/"),
        ("HTTPS://Mirror.Example.com", "https://Mirror.Example.com/"),
        ("https://[::1]:5000", "https://[::1]:5000/"),
    ])
    func accepts(input: String, expected: String) throws {
        #expect(try MirrorURL.validate(input).absoluteString == expected)
    }

    @Test(arguments: [
        ("ftp://mirror.example.com", "invalid mirror: unsupported scheme \"ftp\" in \"ftp://mirror.example.com\""),
        (
            "https://mirror.example.com/v2",
            "invalid mirror: path, query, or fragment at end of the URI \"https://mirror.example.com/v2\""
        ),
        (
            "https://mirror.example.com?x=1",
            "invalid mirror: path, query, or fragment at end of the URI \"https://mirror.example.com?x=1\""
        ),
        (
            "https://mirror.example.com/#top",
            "invalid mirror: path, query, or fragment at end of the URI \"https://mirror.example.com/#top\""
        ),
        (
            "https://bob:s3cret@mirror.example.com",
            "invalid mirror: username/password not allowed in URI \"https://bob:xxxxx@mirror.example.com\""
        ),
        (
            "https://bob@mirror.example.com",
            "invalid mirror: username/password not allowed in URI \"https://bob:xxxxx@mirror.example.com\""
        ),
        // Scheme first, as moby checks it first; the password is masked in every message.
        (
            "ftp://bob:s3cret@mirror.example.com/x",
            "invalid mirror: unsupported scheme \"ftp\" in \"ftp://bob:xxxxx@mirror.example.com/x\""
        ),
        ("https://mirror.example.com:port", "invalid mirror: \"https://mirror.example.com:port\" is not a valid URI"),
        ("https://", "invalid mirror: \"https://\" is not a valid URI"),
        ("https://mirror\texample.com", "invalid mirror: \"https://mirror\\texample.com\" is not a valid URI"),
        // A password holding `/`, `?` or `#` makes the text unparsable, where moby echoes it; ferry conceals it.
        ("https://bob:s3/cret@mirror.example.com", "invalid mirror: \"https://bob:xxxxx@mirror.example.com\" is not a valid URI"),
        ("https://bob:s3?cret@mirror.example.com", "invalid mirror: \"https://bob:xxxxx@mirror.example.com\" is not a valid URI"),
        ("https://bob:s3#cret@mirror.example.com", "invalid mirror: \"https://bob:xxxxx@mirror.example.com\" is not a valid URI"),
        (
            "https://t/oken@mirror.example.com",
            "invalid mirror: path, query, or fragment at end of the URI \"https://xxxxx@mirror.example.com\""
        ),
        (
            "https://bob:1234/x@mirror.example.com",
            "invalid mirror: path, query, or fragment at end of the URI \"https://bob:xxxxx@mirror.example.com\""
        ),
        ("1https://bob:s3cret@m", "invalid mirror: unsupported scheme \"\" in \"1https://bob:xxxxx@m\""),
        ("https://bob:s3\tcret@m", "invalid mirror: \"https://bob:xxxxx@m\" is not a valid URI"),
    ])
    func rejectsWithMobysText(input: String, expected: String) {
        #expect(throws: MirrorURLError.self) { try MirrorURL.validate(input) }
        do {
            _ = try MirrorURL.validate(input)
        } catch {
            #expect(error.description == expected)
        }
    }
}
