@testable import OCIModel
import Testing

// The component rules, checked against the match tables of distribution/reference's regexp_test.go. Our matcher
// is hand-written, so each regexp table runs against the predicate that replaces that regexp.

private let digest = "sha256:be178c0543eb17f5f3043021c9e5fcf30285e557a4fc309cce97ff9ca6182912"

private func string(_ bytes: ReferenceGrammar.Bytes, _ range: Range<Int>?) -> String {
    range.map { String(decoding: bytes[$0], as: UTF8.self) } ?? ""
}

/// `anchoredNameRegexp`'s two captures (domain, path), or nil for no match.
private func nameCaptures(_ text: String) -> [String]? {
    ReferenceGrammar.withBytes(text) { bytes in
        ReferenceGrammar.splitName(bytes).map { [string(bytes, $0.domain), string(bytes, $0.path)] }
    }
}

/// `ReferenceRegexp`'s three captures (name, tag, digest), or nil for no match.
private func referenceCaptures(_ text: String) -> [String]? {
    ReferenceGrammar.withBytes(text) { bytes in
        ReferenceGrammar.matchReference(bytes).map {
            [string(bytes, $0.name), string(bytes, $0.tag), string(bytes, $0.digest)]
        }
    }
}

@Suite struct RegexpTests {
    // TestDomainRegexp (30 cases). Ports and IPv6 addresses are only matched here, not range-checked.
    @Test(arguments: [
        ("test.com", true),
        ("test.com:10304", true),
        ("test.com:http", false),
        ("localhost", true),
        ("localhost:8080", true),
        ("a", true),
        ("a.b", true),
        ("ab.cd.com", true),
        ("a-b.com", true),
        ("-ab.com", false),
        ("ab-.com", false),
        ("ab.c-om", true),
        ("ab.-com", false),
        ("ab.com-", false),
        ("0101.com", true),
        ("001a.com", true),
        ("b.gbc.io:443", true),
        ("b.gbc.io", true),
        ("xn--n3h.com", true),
        ("Asdf.com", true),
        ("192.168.1.1:75050", true),
        ("192.168.1.1:750050", true),
        ("[fd00:1:2::3]:75050", true),
        ("[fd00:1:2::3]75050", false),
        ("[fd00:1:2::3]::75050", false),
        ("[fd00:1:2::3%eth0]:75050", false),
        ("[fd00123123123]:75050", true),
        ("[2001:0db8:85a3:0000:0000:8a2e:0370:7334]:75050", true),
        ("[2001:0db8:85a3:0000:0000:8a2e:0370:7334]:750505", true),
        ("fd00:1:2::3:75050", false),
    ])
    func matchesDomains(input: String, expected: Bool) {
        #expect(ReferenceGrammar.withBytes(input) { ReferenceGrammar.isDomainAndPort($0) } == expected)
    }

    // TestFullNameRegexp (62 cases): nil for no match, else the domain and path captures.
    @Test(arguments: [
        ("", nil),
        ("short", ["", "short"]),
        ("simple/name", ["simple", "name"]),
        ("library/ubuntu", ["library", "ubuntu"]),
        ("docker/stevvooe/app", ["docker", "stevvooe/app"]),
        ("aa/aa/aa/aa/aa/aa/aa/aa/aa/bb/bb/bb/bb/bb/bb", ["aa", "aa/aa/aa/aa/aa/aa/aa/aa/bb/bb/bb/bb/bb/bb"]),
        ("aa/aa/bb/bb/bb", ["aa", "aa/bb/bb/bb"]),
        ("a/a/a/a", ["a", "a/a/a"]),
        ("a/a/a/a/", nil),
        ("a//a/a", nil),
        ("a", ["", "a"]),
        ("a/aa", ["a", "aa"]),
        ("a/aa/a", ["a", "aa/a"]),
        ("foo.com", ["", "foo.com"]),
        ("foo.com/", nil),
        ("foo.com:8080/bar", ["foo.com:8080", "bar"]),
        ("foo.com:http/bar", nil),
        ("foo.com/bar", ["foo.com", "bar"]),
        ("foo.com/bar/baz", ["foo.com", "bar/baz"]),
        ("localhost:8080/bar", ["localhost:8080", "bar"]),
        ("sub-dom1.foo.com/bar/baz/quux", ["sub-dom1.foo.com", "bar/baz/quux"]),
        ("blog.foo.com/bar/baz", ["blog.foo.com", "bar/baz"]),
        ("a^a", nil),
        ("aa/asdf$$^/aa", nil),
        ("asdf$$^/aa", nil),
        ("aa-a/a", ["aa-a", "a"]),
        (String(repeating: "a/", count: 128) + "a", ["a", String(repeating: "a/", count: 127) + "a"]),
        ("a-/a/a/a", nil),
        ("foo.com/a-/a/a", nil),
        ("-foo/bar", nil),
        ("foo/bar-", nil),
        ("foo-/bar", nil),
        ("foo/-bar", nil),
        ("_foo/bar", nil),
        ("foo_bar", ["", "foo_bar"]),
        ("foo_bar.com", ["", "foo_bar.com"]),
        ("foo_bar.com:8080", nil),
        ("foo_bar.com:8080/app", nil),
        ("foo.com/foo_bar", ["foo.com", "foo_bar"]),
        ("____/____", nil),
        ("_docker/_docker", nil),
        ("docker_/docker_", nil),
        ("b.gcr.io/test.example.com/my-app", ["b.gcr.io", "test.example.com/my-app"]),
        ("xn--n3h.com/myimage", ["xn--n3h.com", "myimage"]),
        ("xn--7o8h.com/myimage", ["xn--7o8h.com", "myimage"]),
        ("example.com/xn--7o8h.com/myimage", ["example.com", "xn--7o8h.com/myimage"]),
        ("example.com/some_separator__underscore/myimage", ["example.com", "some_separator__underscore/myimage"]),
        ("example.com/__underscore/myimage", nil),
        ("example.com/..dots/myimage", nil),
        ("example.com/.dots/myimage", nil),
        ("example.com/nodouble..dots/myimage", nil),
        ("example.com/nodouble..dots/myimage", nil),
        ("docker./docker", nil),
        (".docker/docker", nil),
        ("docker-/docker", nil),
        ("-docker/docker", nil),
        ("do..cker/docker", nil),
        ("do__cker:8080/docker", nil),
        ("do__cker/docker", ["", "do__cker/docker"]),
        ("b.gcr.io/test.example.com/my-app", ["b.gcr.io", "test.example.com/my-app"]),
        (
            "registry.io/foo/project--id.module--name.ver---sion--name",
            ["registry.io", "foo/project--id.module--name.ver---sion--name"]
        ),
        ("Asdf.com/foo/bar", ["Asdf.com", "foo/bar"]),
        ("Foo/FarB", nil),
    ] as [(String, [String]?)])
    func splitsNames(input: String, expected: [String]?) {
        #expect(nameCaptures(input) == expected)
    }

    // TestReferenceRegexp (12 cases): nil for no match, else the name, tag and digest captures.
    @Test(arguments: [
        ("registry.com:8080/myapp:tag", ["registry.com:8080/myapp", "tag", ""]),
        ("registry.com:8080/myapp@\(digest)", ["registry.com:8080/myapp", "", digest]),
        ("registry.com:8080/myapp:tag2@\(digest)", ["registry.com:8080/myapp", "tag2", digest]),
        ("registry.com:8080/myapp@sha256:badbadbadbad", nil),
        ("registry.com:8080/myapp:invalid~tag", nil),
        ("bad_hostname.com:8080/myapp:tag", nil),
        // Without a `/`, `localhost:8080` is the name `localhost` with tag `8080`.
        ("localhost:8080@\(digest)", ["localhost", "8080", digest]),
        ("localhost:8080/name@\(digest)", ["localhost:8080/name", "", digest]),
        ("localhost:http/name@\(digest)", nil),
        ("localhost@\(digest)", ["localhost", "", digest]),
        ("registry.com:8080/myapp@bad", nil),
        ("registry.com:8080/myapp@2bad", nil),
    ] as [(String, [String]?)])
    func splitsReferences(input: String, expected: [String]?) {
        #expect(referenceCaptures(input) == expected)
    }

    // TestIdentifierRegexp (5 cases).
    @Test(arguments: [
        ("da304e823d8ca2b9d863a3c897baeb852ba21ea9a9f1414736394ae7fcaf9821", true),
        ("7EC43B381E5AEFE6E04EFB0B3F0693FF2A4A50652D64AEC573905F2DB5889A1C", false),
        ("da304e823d8ca2b9d863a3c897baeb852ba21ea9a9f1414736394ae7fcaf", false),
        ("sha256:da304e823d8ca2b9d863a3c897baeb852ba21ea9a9f1414736394ae7fcaf9821", false),
        ("da304e823d8ca2b9d863a3c897baeb852ba21ea9a9f1414736394ae7fcaf98218482", false),
    ])
    func matchesIdentifiers(input: String, expected: Bool) {
        #expect(ReferenceGrammar.isIdentifier(input) == expected)
    }

    // MARK: Beyond the Go tables: tag and digest productions at their edges.

    @Test(arguments: [
        ("a", true), ("_", true), ("A.b-C_d", true), ("0", true), (".a", false), ("-a", false), ("a~b", false),
        ("", false), (String(repeating: "t", count: 128), true), (String(repeating: "t", count: 129), false),
        ("t\u{E9}", false),
    ])
    func matchesTags(input: String, expected: Bool) {
        #expect(ReferenceGrammar.isTag(input) == expected)
    }

    @Test(arguments: [
        ("sha256:" + String(repeating: "a", count: 32), true),
        ("sha256:" + String(repeating: "a", count: 31), false),
        ("SHA256:" + String(repeating: "A", count: 32), true),
        ("sha256+b64:" + String(repeating: "a", count: 32), true),
        ("a.b_c-d+e:" + String(repeating: "0", count: 32), true),
        ("a..b:" + String(repeating: "0", count: 32), false),
        ("a.1:" + String(repeating: "0", count: 32), false),
        ("1a:" + String(repeating: "0", count: 32), false),
        ("a.:" + String(repeating: "0", count: 32), false),
        (":" + String(repeating: "0", count: 32), false),
        ("sha256:" + String(repeating: "g", count: 32), false),
        ("sha256:" + String(repeating: "a", count: 32) + ":", false),
    ])
    func matchesDigestPatterns(input: String, expected: Bool) {
        #expect(ReferenceGrammar.withBytes(input) { ReferenceGrammar.isDigestPattern($0) } == expected)
    }

    @Test(arguments: [
        ("a", true), ("a.b", true), ("a-b", true), ("a--b", true), ("a---b", true), ("a_b", true), ("a__b", true),
        ("a___b", false), ("a._b", false), ("a_.b", false), ("a-.b", false), ("a.-b", false), ("a..b", false),
        ("ab-", false), ("-ab", false), ("A", false), ("", false),
    ])
    func matchesPathComponents(input: String, expected: Bool) {
        #expect(ReferenceGrammar.withBytes(input) { ReferenceGrammar.isPathComponent($0) } == expected)
    }
}
