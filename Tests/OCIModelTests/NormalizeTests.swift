import OCIModel
import Testing

// Cases from distribution/reference's normalize_test.go (ParseNormalizedNamed, ParseAnyReference,
// ParseDockerRef), restated as data. The Go tests check only that an input is valid or invalid; here each valid
// input also pins its normalised form and each invalid one the exact error ParseNormalizedNamed returns.

private let hexID = "1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a"
private let longNamespace =
    "this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255_this_is_not_a_valid_namespace_because_"
    + "its_lenth_is_greater_than_255_this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255_this_is_"
    + "not_a_valid_namespace_because_its_lenth_is_greater_than_255/docker"
private let redisDigest = "sha256:dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9c"
private let busyboxDigest = "sha256:e6693c20186f837fc393390135d8a598a96a833917917789d63766cab6c59582"

@Suite struct NormalizeTests {
    // TestValidateReferenceName, valid names (23 cases).
    @Test(arguments: [
        ("docker/docker", "docker.io/docker/docker"),
        ("library/debian", "docker.io/library/debian"),
        ("debian", "docker.io/library/debian"),
        ("docker.io/docker/docker", "docker.io/docker/docker"),
        ("docker.io/library/debian", "docker.io/library/debian"),
        ("docker.io/debian", "docker.io/library/debian"),
        ("index.docker.io/docker/docker", "docker.io/docker/docker"),
        ("index.docker.io/library/debian", "docker.io/library/debian"),
        ("index.docker.io/debian", "docker.io/library/debian"),
        ("127.0.0.1:5000/docker/docker", "127.0.0.1:5000/docker/docker"),
        ("127.0.0.1:5000/library/debian", "127.0.0.1:5000/library/debian"),
        ("127.0.0.1:5000/debian", "127.0.0.1:5000/debian"),
        ("192.168.0.1", "docker.io/library/192.168.0.1"),
        ("192.168.0.1:80", "docker.io/library/192.168.0.1:80"),
        ("192.168.0.1:8/debian", "192.168.0.1:8/debian"),
        ("192.168.0.2:25000/debian", "192.168.0.2:25000/debian"),
        (
            "thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev",
            "docker.io/library/thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev"
        ),
        ("[fc00::1]:5000/docker", "[fc00::1]:5000/docker"),
        ("[fc00::1]:5000/docker/docker", "[fc00::1]:5000/docker/docker"),
        ("[fc00:1:2:3:4:5:6:7]:5000/library/debian", "[fc00:1:2:3:4:5:6:7]:5000/library/debian"),
        // A 64-hex path component is fine once a domain removes the ambiguity with an image ID.
        ("docker.io/\(hexID)", "docker.io/library/\(hexID)"),
        ("Docker/docker", "Docker/docker"),
        ("DOCKER/docker", "DOCKER/docker"),
    ])
    func acceptsReferenceNames(input: String, normalized: String) throws {
        #expect(try ImageReference(parsing: input).string == normalized)
    }

    // TestValidateReferenceName, invalid names (14 cases).
    @Test(arguments: [
        ("https://github.com/docker/docker", ReferenceError.invalidFormat),
        ("docker/Docker", .uppercaseRepository("docker/Docker")),
        ("-docker", .invalidFormat),
        ("-docker/docker", .invalidFormat),
        ("-docker.io/docker/docker", .invalidFormat),
        ("docker///docker", .invalidFormat),
        ("docker.io/docker/Docker", .uppercaseRepository("docker/Docker")),
        ("docker.io/docker///docker", .invalidFormat),
        ("[fc00::1]", .invalidFormat),
        ("[fc00::1]:5000", .invalidFormat),
        ("fc00::1:5000/debian", .invalidFormat),
        ("[fe80::1%eth0]:5000/debian", .invalidFormat),
        ("[2001:db8:3:4::192.0.2.33]:5000/debian", .invalidFormat),
        (hexID, .identifierNotAllowed(hexID)),
    ])
    func rejectsReferenceNames(input: String, error: ReferenceError) {
        #expect(throws: error) { try ImageReference(parsing: input) }
    }

    // TestValidateRemoteName, valid names (8 cases).
    @Test(arguments: [
        "docker/docker",
        "thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev",
        "docker-rules/docker",
        "docker---rules/docker",
        "doc/docker",
        "d/docker",
        "jess/t",
        "dock__er/docker",
    ])
    func acceptsRemoteNames(input: String) throws {
        let reference = try ImageReference(parsing: input)
        #expect(reference.domain == "docker.io")
        #expect(reference.familiarName == input)
    }

    // TestValidateRemoteName, invalid names (13 cases).
    @Test(arguments: [
        ("docker/Docker", ReferenceError.uppercaseRepository("docker/Docker")),
        ("docker///docker", .invalidFormat),
        (hexID, .identifierNotAllowed(hexID)),
        ("-docker/docker", .invalidFormat),
        ("docker-/docker", .invalidFormat),
        ("-docker-/docker", .invalidFormat),
        ("____/____", .invalidFormat),
        ("_docker/_docker", .invalidFormat),
        ("dock..er/docker", .invalidFormat),
        ("dock_.er/docker", .invalidFormat),
        ("dock-.er/docker", .invalidFormat),
        ("docker/", .invalidFormat),
        (longNamespace, .nameTooLong),
    ])
    func rejectsRemoteNames(input: String, error: ReferenceError) {
        #expect(throws: error) { try ImageReference(parsing: input) }
    }

    // TestNormalizedSplitHostname (11 cases).
    @Test(arguments: [
        ("test.com/foo", "test.com", "foo"),
        ("test_com/foo", "docker.io", "test_com/foo"),
        ("docker/migrator", "docker.io", "docker/migrator"),
        ("test.com:8080/foo", "test.com:8080", "foo"),
        ("test-com:8080/foo", "test-com:8080", "foo"),
        ("foo", "docker.io", "library/foo"),
        ("xn--n3h.com/foo", "xn--n3h.com", "foo"),
        ("xn--n3h.com:18080/foo", "xn--n3h.com:18080", "foo"),
        ("docker.io/foo", "docker.io", "library/foo"),
        ("docker.io/library/foo", "docker.io", "library/foo"),
        ("docker.io/library/foo/bar", "docker.io", "library/foo/bar"),
    ])
    func splitsTheDomain(input: String, domain: String, path: String) throws {
        let reference = try ImageReference(parsing: input)
        #expect(reference.domain == domain)
        #expect(reference.path == path)
    }

    // TestParseAnyReference (14 cases): the full form, and whether the result is a bare digest.
    @Test(arguments: [
        ("redis", "docker.io/library/redis", false),
        ("redis:latest", "docker.io/library/redis:latest", false),
        ("docker.io/library/redis:latest", "docker.io/library/redis:latest", false),
        ("redis@\(redisDigest)", "docker.io/library/redis@\(redisDigest)", false),
        ("docker.io/library/redis@\(redisDigest)", "docker.io/library/redis@\(redisDigest)", false),
        ("dmcgowan/myapp", "docker.io/dmcgowan/myapp", false),
        ("dmcgowan/myapp:latest", "docker.io/dmcgowan/myapp:latest", false),
        ("docker.io/mcgowan/myapp:latest", "docker.io/mcgowan/myapp:latest", false),
        ("dmcgowan/myapp@\(redisDigest)", "docker.io/dmcgowan/myapp@\(redisDigest)", false),
        ("docker.io/dmcgowan/myapp@\(redisDigest)", "docker.io/dmcgowan/myapp@\(redisDigest)", false),
        (String(redisDigest.dropFirst(7)), redisDigest, true),
        (redisDigest, redisDigest, true),
        (
            "dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9",
            "docker.io/library/dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9", false
        ),
        ("dbcc1", "docker.io/library/dbcc1", false),
    ])
    func parsesAnyReference(input: String, full: String, isDigest: Bool) throws {
        let reference = try AnyReference(parsing: input)
        #expect(reference.string == full)
        if isDigest {
            #expect(reference == .digest(try Digest(parsing: full)))
        } else {
            // Equal to what the strict parser makes of the full form, as the Go test compares.
            #expect(reference == .named(try ImageReference(parsingStrict: full)))
        }
    }

    // TestParseDockerRef (11 cases).
    @Test(arguments: [
        ("busybox", "docker.io/library/busybox:latest"),
        ("busybox:latest", "docker.io/library/busybox:latest"),
        ("busybox@\(busyboxDigest)", "docker.io/library/busybox@\(busyboxDigest)"),
        ("library/busybox", "docker.io/library/busybox:latest"),
        ("docker.io/busybox", "docker.io/library/busybox:latest"),
        ("docker.io/library/busybox", "docker.io/library/busybox:latest"),
        ("docker.io/busybox:latest", "docker.io/library/busybox:latest"),
        ("library/busybox:latest", "docker.io/library/busybox:latest"),
        ("docker.io/library/busybox:latest", "docker.io/library/busybox:latest"),
        ("gcr.io/library/busybox", "gcr.io/library/busybox:latest"),
        ("gcr.io/library/busybox:latest@\(busyboxDigest)", "gcr.io/library/busybox@\(busyboxDigest)"),
    ])
    func normalisesForPull(input: String, expected: String) throws {
        let pulled = try ImageReference(parsing: input).pullReference
        #expect(pulled.string == expected)
        #expect(try ImageReference(parsingStrict: pulled.string) == pulled)
    }

    // TestInvalidReferenceComponents (3 checks).
    @Test func rejectsInvalidComponents() throws {
        #expect(throws: ReferenceError.invalidFormat) { try ImageReference(parsing: "-foo") }
        let busybox = try ImageReference(parsing: "busybox")
        #expect(throws: ReferenceError.invalidTag) { try busybox.withTag("-foo") }
        // Go's WithDigest refuses the digest "foo"; here such a Digest cannot be built at all.
        #expect(throws: DigestError.invalidFormat) { try Digest(parsing: "foo") }
    }

    // MARK: Beyond the Go tables

    // The exact messages of the two uppercase checks: ParseNormalizedNamed names the repository part (up to the
    // first `:`, even inside a digest), Parse does not.
    @Test(arguments: [
        ("Foo", "invalid reference format: repository name (library/Foo) must be lowercase"),
        ("docker.io/Foo:Bar", "invalid reference format: repository name (library/Foo) must be lowercase"),
        ("example.com/a/B:tag", "invalid reference format: repository name (a/B) must be lowercase"),
        ("a@SHA256:\(hexID)", "invalid reference format: repository name (library/a@SHA256) must be lowercase"),
        ("localhost:5000/App", "invalid reference format: repository name (App) must be lowercase"),
        ("Host.example.com/app/Sub", "invalid reference format: repository name (app/Sub) must be lowercase"),
        (hexID, "invalid repository name (\(hexID)), cannot specify 64-byte hexadecimal strings"),
        ("", "invalid reference format"),
        ("example.com/", "invalid reference format"),
        ("alpine@sha256:abc", "invalid reference format"),
        ("alpine@md5:\(String(hexID.prefix(32)))", "unsupported digest algorithm"),
        ("alpine@sha512:\(hexID)", "invalid checksum digest length"),
        ("alpine@sha256:\(hexID.uppercased())", "invalid checksum digest format"),
    ])
    func reportsNormalizedErrorsWithTheExactText(input: String, message: String) {
        #expect(throws: (any Error).self) { try ImageReference(parsing: input) }
        do {
            _ = try ImageReference(parsing: input)
        } catch {
            #expect("\(error)" == message)
        }
    }

    @Test func strictParseUppercaseMessageNamesNoRepository() {
        #expect(throws: ReferenceError.nameContainsUppercase) { try ImageReference(parsingStrict: "docker.io/Foo") }
        #expect(ReferenceError.nameContainsUppercase.description == "repository name must be lowercase")
    }

    @Test(arguments: [
        ("localhost/app", "localhost", "app"),
        ("localhost:5000/app", "localhost:5000", "app"),
        ("localhost", "docker.io", "library/localhost"),
        ("localhost:5000", "docker.io", "library/localhost"),
        ("example.com", "docker.io", "library/example.com"),
        ("[::1]:5000/app", "[::1]:5000", "app"),
        ("[::1]/app", "[::1]", "app"),
        ("index.docker.io/library/alpine", "docker.io", "library/alpine"),
        ("index.docker.io/alpine", "docker.io", "library/alpine"),
        ("Index.docker.io/alpine", "Index.docker.io", "alpine"),
        ("registry-1.docker.io/alpine", "registry-1.docker.io", "alpine"),
        ("docker.io:443/alpine", "docker.io:443", "alpine"),
    ])
    func normalisesDomains(input: String, domain: String, path: String) throws {
        let reference = try ImageReference(parsing: input)
        #expect(reference.domain == domain)
        #expect(reference.path == path)
    }

    @Test func keepsTagAndDigestThroughHelpers() throws {
        let reference = try ImageReference(parsing: "alpine:3.20@\(busyboxDigest)")
        #expect(reference.nameOnly.string == "docker.io/library/alpine")
        #expect(reference.nameOnly.isNameOnly)
        #expect(reference.taggedLatestIfNameOnly() == reference)
        #expect(reference.nameOnly.taggedLatestIfNameOnly().string == "docker.io/library/alpine:latest")
        #expect(try reference.withTag("edge").string == "docker.io/library/alpine:edge@\(busyboxDigest)")
    }
}
