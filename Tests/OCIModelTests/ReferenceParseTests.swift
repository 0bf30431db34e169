import Foundation
import OCIModel
import Testing

// Cases from distribution/reference's reference_test.go, restated as data. Where the Go test only checks that
// an error occurs, the exact error is the one its Parse/WithName code returns, so the texts are pinned too.

private let hex64f = String(repeating: "f", count: 64)
private let hex128f = String(repeating: "f", count: 128)

/// What `reference.Parse` yields for one input: its parts, or its error.
struct StrictCase: Sendable, CustomTestStringConvertible {
    var input: String
    var name = ""
    var domain = ""
    var tag: String?
    var digest: String?
    var error: ReferenceError?

    init(_ input: String, name: String, domain: String = "", tag: String? = nil, digest: String? = nil) {
        self.input = input
        self.name = name
        self.domain = domain
        self.tag = tag
        self.digest = digest
    }

    init(_ input: String, _ error: ReferenceError) {
        self.input = input
        self.error = error
    }

    var testDescription: String { input.count > 60 ? String(input.prefix(57)) + "…" : input }
}

@Suite struct ReferenceParseTests {
    // TestReferenceParse (47 cases).
    static let strictCases: [StrictCase] = [
        StrictCase("test_com", name: "test_com"),
        StrictCase("test.com:tag", name: "test.com", tag: "tag"),
        StrictCase("test.com:5000", name: "test.com", tag: "5000"),
        StrictCase("test.com/repo:tag", name: "test.com/repo", domain: "test.com", tag: "tag"),
        StrictCase("test:5000/repo", name: "test:5000/repo", domain: "test:5000"),
        StrictCase("test:5000/repo:tag", name: "test:5000/repo", domain: "test:5000", tag: "tag"),
        StrictCase(
            "test:5000/repo@sha256:\(hex64f)", name: "test:5000/repo", domain: "test:5000",
            digest: "sha256:\(hex64f)"),
        StrictCase(
            "test:5000/repo:tag@sha256:\(hex64f)", name: "test:5000/repo", domain: "test:5000", tag: "tag",
            digest: "sha256:\(hex64f)"),
        StrictCase("test:5000/repo", name: "test:5000/repo", domain: "test:5000"),
        StrictCase("", .nameEmpty),
        StrictCase(":justtag", .invalidFormat),
        StrictCase("@sha256:\(hex64f)", .invalidFormat),
        StrictCase("repo@sha256:\(String(repeating: "f", count: 34))", .digest(.invalidLength)),
        StrictCase("validname@invaliddigest:\(hex64f)", .digest(.unsupportedAlgorithm)),
        StrictCase("Uppercase:tag", .nameContainsUppercase),
        StrictCase("test:5000/Uppercase/lowercase:tag", .nameContainsUppercase),
        StrictCase("lowercase:Uppercase", name: "lowercase", tag: "Uppercase"),
        StrictCase("domain/\(String(repeating: "a", count: 256)):tag", .nameTooLong),
        StrictCase(
            String(repeating: "a/", count: 127) + "a:tag-puts-this-over-max",
            name: String(repeating: "a/", count: 127) + "a", domain: "a", tag: "tag-puts-this-over-max"),
        StrictCase("aa/asdf$$^/aa", .invalidFormat),
        StrictCase("sub-dom1.foo.com/bar/baz/quux", name: "sub-dom1.foo.com/bar/baz/quux", domain: "sub-dom1.foo.com"),
        StrictCase(
            "sub-dom1.foo.com/bar/baz/quux:some-long-tag", name: "sub-dom1.foo.com/bar/baz/quux",
            domain: "sub-dom1.foo.com", tag: "some-long-tag"),
        StrictCase(
            "b.gcr.io/test.example.com/my-app:test.example.com", name: "b.gcr.io/test.example.com/my-app",
            domain: "b.gcr.io", tag: "test.example.com"),
        StrictCase(
            "xn--n3h.com/myimage:xn--n3h.com", name: "xn--n3h.com/myimage", domain: "xn--n3h.com", tag: "xn--n3h.com"),
        StrictCase(
            "xn--7o8h.com/myimage:xn--7o8h.com@sha512:\(hex128f)", name: "xn--7o8h.com/myimage",
            domain: "xn--7o8h.com", tag: "xn--7o8h.com", digest: "sha512:\(hex128f)"),
        StrictCase("foo_bar.com:8080", name: "foo_bar.com", tag: "8080"),
        StrictCase("foo/foo_bar.com:8080", name: "foo/foo_bar.com", domain: "foo", tag: "8080"),
        StrictCase("192.168.1.1", name: "192.168.1.1"),
        StrictCase("192.168.1.1:tag", name: "192.168.1.1", tag: "tag"),
        StrictCase("192.168.1.1:5000", name: "192.168.1.1", tag: "5000"),
        StrictCase("192.168.1.1/repo", name: "192.168.1.1/repo", domain: "192.168.1.1"),
        StrictCase("192.168.1.1:5000/repo", name: "192.168.1.1:5000/repo", domain: "192.168.1.1:5000"),
        StrictCase(
            "192.168.1.1:5000/repo:5050", name: "192.168.1.1:5000/repo", domain: "192.168.1.1:5000", tag: "5050"),
        StrictCase("[2001:db8::1]", .invalidFormat),
        StrictCase("[2001:db8::1]:5000", .invalidFormat),
        StrictCase("[2001:db8::1]:tag", .invalidFormat),
        StrictCase("[2001:db8::1]/repo", name: "[2001:db8::1]/repo", domain: "[2001:db8::1]"),
        StrictCase(
            "[2001:db8:1:2:3:4:5:6]/repo:tag", name: "[2001:db8:1:2:3:4:5:6]/repo", domain: "[2001:db8:1:2:3:4:5:6]",
            tag: "tag"),
        StrictCase("[2001:db8::1]:5000/repo", name: "[2001:db8::1]:5000/repo", domain: "[2001:db8::1]:5000"),
        StrictCase(
            "[2001:db8::1]:5000/repo:tag", name: "[2001:db8::1]:5000/repo", domain: "[2001:db8::1]:5000", tag: "tag"),
        StrictCase(
            "[2001:db8::1]:5000/repo@sha256:\(hex64f)", name: "[2001:db8::1]:5000/repo", domain: "[2001:db8::1]:5000",
            digest: "sha256:\(hex64f)"),
        StrictCase(
            "[2001:db8::1]:5000/repo:tag@sha256:\(hex64f)", name: "[2001:db8::1]:5000/repo",
            domain: "[2001:db8::1]:5000", tag: "tag", digest: "sha256:\(hex64f)"),
        StrictCase("[2001:db8::]:5000/repo", name: "[2001:db8::]:5000/repo", domain: "[2001:db8::]:5000"),
        StrictCase("[::1]:5000/repo", name: "[::1]:5000/repo", domain: "[::1]:5000"),
        StrictCase("[fe80::1%eth0]:5000/repo", .invalidFormat),
        StrictCase("[fe80::1%@invalidzone]:5000/repo", .invalidFormat),
        StrictCase(
            "example.com/\(String(repeating: "a", count: 255)):tag",
            name: "example.com/\(String(repeating: "a", count: 255))", domain: "example.com", tag: "tag"),
    ]

    @Test(arguments: strictCases)
    func parsesStrictly(_ c: StrictCase) throws {
        if let error = c.error {
            #expect(throws: error) { try ImageReference(parsingStrict: c.input) }
            return
        }
        let reference = try ImageReference(parsingStrict: c.input)
        #expect(reference.string == c.input)
        #expect(reference.name == c.name)
        #expect(reference.domain == c.domain)
        #expect(reference.tag == c.tag)
        #expect(reference.digest?.description == c.digest)
    }

    // The Go errors by identity; these are their texts.
    @Test(arguments: [
        (ReferenceError.nameEmpty, "repository name must have at least one component"),
        (.invalidFormat, "invalid reference format"),
        (.nameContainsUppercase, "repository name must be lowercase"),
        (.nameTooLong, "repository name must not be more than 255 characters"),
        (.nameNotCanonical, "repository name must be canonical"),
        (.invalidTag, "invalid tag format"),
        (.digest(.invalidLength), "invalid checksum digest length"),
        (.digest(.unsupportedAlgorithm), "unsupported digest algorithm"),
        (.digest(.invalidFormat), "invalid checksum digest format"),
        (.badPattern, "syntax error in pattern"),
    ])
    func errorTextsAreTheReferenceImplementations(error: ReferenceError, text: String) {
        #expect(error.description == text)
    }

    // TestWithNameFailure (7 cases, the current revision where "" is a format error).
    @Test(arguments: [
        ("", ReferenceError.invalidFormat),
        (":justtag", .invalidFormat),
        ("@sha256:\(hex64f)", .invalidFormat),
        ("validname@invaliddigest:\(hex64f)", .invalidFormat),
        ("example.com/repo:tag", .invalidFormat),
        ("example.com/\(String(repeating: "a", count: 256))", .nameTooLong),
        ("aa/asdf$$^/aa", .invalidFormat),
    ])
    func rejectsBareNames(input: String, error: ReferenceError) {
        #expect(throws: error) { try RepositoryName(parsing: input) }
    }

    // TestDomainAndPath (6 cases).
    @Test(arguments: [
        ("test.com/foo", "test.com", "foo"),
        ("test_com/foo", "", "test_com/foo"),
        ("test:8080/foo", "test:8080", "foo"),
        ("test.com:8080/foo", "test.com:8080", "foo"),
        ("test-com:8080/foo", "test-com:8080", "foo"),
        ("xn--n3h.com:18080/foo", "xn--n3h.com:18080", "foo"),
    ])
    func splitsBareNames(input: String, domain: String, path: String) throws {
        let name = try RepositoryName(parsing: input)
        #expect(name.domain == domain)
        #expect(name.path == path)
        #expect(name.name == input)
    }

    // TestSerialization (4 cases): JSON round trip through the strict parser, as distribution's Field does.
    @Test(arguments: [
        ("example.com:8000/named", "example.com:8000/named", nil, nil),
        ("example.com:8000/named:tagged", "example.com:8000/named", "tagged", nil),
        (
            "other.com/named@sha256:1234567890098765432112345667890098765432112345667890098765432112",
            "other.com/named", nil, "sha256:1234567890098765432112345667890098765432112345667890098765432112"
        ),
    ] as [(String, String, String?, String?)])
    func roundTripsThroughJSON(input: String, name: String, tag: String?, digest: String?) throws {
        let json = try JSONEncoder().encode(["field": input])
        let decoded = try JSONDecoder().decode([String: ImageReference].self, from: json)
        let reference = try #require(decoded["field"])
        #expect(reference.name == name)
        #expect(reference.tag == tag)
        #expect(reference.digest?.description == digest)
        #expect(try JSONEncoder().encode(["field": reference]) == json)
    }

    @Test func decodingAnEmptyValueFailsWithNameEmpty() throws {
        let json = Data(#"{"field":""}"#.utf8)
        do {
            _ = try JSONDecoder().decode([String: ImageReference].self, from: json)
            Issue.record("decoding an empty reference succeeded")
        } catch DecodingError.dataCorrupted(let context) {
            #expect(context.underlyingError as? ReferenceError == .nameEmpty)
        }
    }

    // TestWithTag (5 cases) and TestWithDigest (4 cases). The Go tables attach `sha256:` plus 37 hex digits,
    // which Go's WithDigest accepts unvalidated; our Digest is validated, so such a value cannot exist here
    // (see `theGoTablesShortDigestIsNotADigestHere`) and the cases use a full-length digest instead.
    static let fullDigest = "sha256:1234567890098765432112345667890098765432112345667890098765432112"

    @Test(arguments: [
        ("test.com/foo", nil, "tag", "test.com/foo:tag"),
        ("foo", nil, "tag2", "foo:tag2"),
        ("test.com:8000/foo", nil, "tag4", "test.com:8000/foo:tag4"),
        ("test.com:8000/foo", nil, "TAG5", "test.com:8000/foo:TAG5"),
        ("test.com:8000/foo", fullDigest, "TAG5", "test.com:8000/foo:TAG5@\(fullDigest)"),
    ] as [(String, String?, String, String)])
    func addsTags(name: String, digest: String?, tag: String, combined: String) throws {
        var reference = try ImageReference(repository: RepositoryName(parsing: name))
        if let digest { reference = try reference.withDigest(Digest(parsing: digest)) }
        #expect(try reference.withTag(tag).string == combined)
    }

    @Test(arguments: [
        ("test.com/foo", nil, "test.com/foo@\(fullDigest)"),
        ("foo", nil, "foo@\(fullDigest)"),
        ("test.com:8000/foo", nil, "test.com:8000/foo@\(fullDigest)"),
        ("test.com:8000/foo", "latest", "test.com:8000/foo:latest@\(fullDigest)"),
    ] as [(String, String?, String)])
    func addsDigests(name: String, tag: String?, combined: String) throws {
        var reference = try ImageReference(repository: RepositoryName(parsing: name))
        if let tag { reference = try reference.withTag(tag) }
        #expect(try reference.withDigest(Digest(parsing: Self.fullDigest)).string == combined)
    }

    @Test func theGoTablesShortDigestIsNotADigestHere() {
        #expect(throws: DigestError.invalidLength) {
            try Digest(parsing: "sha256:1234567890098765432112345667890098765")
        }
    }

    // TestParseNamed (8 cases): ParseNormalizedNamed, then the input must already be canonical.
    @Test(arguments: [
        ("test.com/foo", "test.com", "foo", nil),
        ("test:8080/foo", "test:8080", "foo", nil),
        ("test_com/foo", "", "", ReferenceError.nameNotCanonical),
        ("test.com", "", "", .nameNotCanonical),
        ("foo", "", "", .nameNotCanonical),
        ("library/foo", "", "", .nameNotCanonical),
        ("docker.io/library/foo", "docker.io", "library/foo", nil),
        ("docker.io/foo", "", "", .nameNotCanonical),
    ] as [(String, String, String, ReferenceError?)])
    func parsesCanonicalNames(input: String, domain: String, path: String, error: ReferenceError?) throws {
        if let error {
            #expect(throws: error) { try ImageReference(parsingCanonical: input) }
            return
        }
        let reference = try ImageReference(parsingCanonical: input)
        #expect(reference.domain == domain)
        #expect(reference.path == path)
    }

    // MARK: Beyond the Go tables

    // The grammar of the current module, where legacy docker/distribution (moby v20.10) differs.
    @Test func limitsThePathNotTheWholeName() throws {
        // Go's older table expected this 257-character name to be too long; now only the 255-byte path counts.
        let reference = try ImageReference(parsingStrict: String(repeating: "a/", count: 128) + "a:tag")
        #expect(reference.domain == "a")
        #expect(reference.path.utf8.count == 255)
        let longHost = String(repeating: "h", count: 60) + ".example.com"
        #expect(try ImageReference(parsing: "\(longHost)/\(String(repeating: "p", count: 255))").path.count == 255)
        #expect(throws: ReferenceError.nameTooLong) {
            try ImageReference(parsing: "\(longHost)/\(String(repeating: "p", count: 256))")
        }
    }

    @Test(arguments: [
        ("FOO/bar", "FOO", "bar"),
        ("UPPER/lower/path", "UPPER", "lower/path"),
    ])
    func treatsAnUppercaseFirstComponentAsADomainWhenStrict(input: String, domain: String, path: String) throws {
        let reference = try ImageReference(parsingStrict: input)
        #expect(reference.domain == domain)
        #expect(reference.path == path)
    }

    // Parse retries lowercased only to choose its error; Go's ToLower maps two non-ASCII letters to ASCII.
    @Test(arguments: [
        ("\u{130}mage:tag", ReferenceError.nameContainsUppercase),
        ("\u{212A}ube", .nameContainsUppercase),
        ("caf\u{E9}", .invalidFormat),
        ("CAF\u{C9}", .invalidFormat),
        ("a\u{301}/b", .invalidFormat),
    ])
    func choosesTheUppercaseErrorLikeGo(input: String, error: ReferenceError) {
        #expect(throws: error) { try ImageReference(parsingStrict: input) }
    }

    @Test func buildingFromPartsValidatesTheTag() throws {
        let repository = try RepositoryName(parsing: "example.com/app")
        #expect(throws: ReferenceError.invalidTag) { try ImageReference(repository: repository, tag: "-x") }
        #expect(throws: ReferenceError.invalidTag) {
            try ImageReference(repository: repository, tag: String(repeating: "t", count: 129))
        }
        #expect(try ImageReference(repository: repository, tag: String(repeating: "t", count: 128)).tag?.count == 128)
    }
}
