@testable import OCIModel
import Testing

// Familiar forms and FamiliarMatch, from distribution/reference's normalize_test.go, restated as data.

/// One repository of TestParseRepositoryInfo: every spelling in `inputs` normalises to the same parts.
struct RepositoryInfoCase: Sendable, CustomTestStringConvertible {
    var path: String
    var familiarName: String
    var fullName: String
    var ambiguousName: String?
    var domain: String

    /// The familiar, the full and (when there is one) the ambiguous spelling.
    var inputs: [String] { [familiarName, fullName] + (ambiguousName.map { [$0] } ?? []) }
    var testDescription: String { fullName }
}

@Suite struct FamiliarTests {
    /// Found by fuzzing (not in normalize_test.go): a Hub path whose first component reads as a host keeps its
    /// domain in the short form, which would otherwise name another registry; Docker Hub cannot have such a name.
    @Test(arguments: ["docker.io/lib7203685477.io/alpine:3.20", "docker.io/localhost/x", "docker.io/a.b/c@sha256:" + String(repeating: "a", count: 64)])
    func aHubPathThatReadsAsAHostKeepsItsDomain(text: String) throws {
        let reference = try ImageReference(parsing: text)
        #expect(reference.repository.domain == "docker.io")
        #expect(reference.familiarString == text)
        #expect(try ImageReference(parsing: reference.familiarString) == reference)
    }

    // TestParseRepositoryInfo (16 repositories, 36 spellings).
    static let repositoryInfo: [RepositoryInfoCase] = [
        .init(
            path: "fooo/bar", familiarName: "fooo/bar", fullName: "docker.io/fooo/bar",
            ambiguousName: "index.docker.io/fooo/bar", domain: "docker.io"),
        .init(
            path: "library/ubuntu", familiarName: "ubuntu", fullName: "docker.io/library/ubuntu",
            ambiguousName: "library/ubuntu", domain: "docker.io"),
        .init(
            path: "nonlibrary/ubuntu", familiarName: "nonlibrary/ubuntu", fullName: "docker.io/nonlibrary/ubuntu",
            domain: "docker.io"),
        .init(
            path: "other/library", familiarName: "other/library", fullName: "docker.io/other/library",
            domain: "docker.io"),
        .init(
            path: "private/moonbase", familiarName: "127.0.0.1:8000/private/moonbase",
            fullName: "127.0.0.1:8000/private/moonbase", domain: "127.0.0.1:8000"),
        .init(
            path: "privatebase", familiarName: "127.0.0.1:8000/privatebase", fullName: "127.0.0.1:8000/privatebase",
            domain: "127.0.0.1:8000"),
        .init(
            path: "private/moonbase", familiarName: "example.com/private/moonbase",
            fullName: "example.com/private/moonbase", domain: "example.com"),
        .init(
            path: "privatebase", familiarName: "example.com/privatebase", fullName: "example.com/privatebase",
            domain: "example.com"),
        .init(
            path: "private/moonbase", familiarName: "example.com:8000/private/moonbase",
            fullName: "example.com:8000/private/moonbase", domain: "example.com:8000"),
        .init(
            path: "privatebasee", familiarName: "example.com:8000/privatebasee",
            fullName: "example.com:8000/privatebasee", domain: "example.com:8000"),
        .init(
            path: "library/ubuntu-12.04-base", familiarName: "ubuntu-12.04-base",
            fullName: "docker.io/library/ubuntu-12.04-base", ambiguousName: "index.docker.io/library/ubuntu-12.04-base",
            domain: "docker.io"),
        .init(
            path: "library/foo", familiarName: "foo", fullName: "docker.io/library/foo", ambiguousName: "docker.io/foo",
            domain: "docker.io"),
        .init(
            path: "library/foo/bar", familiarName: "library/foo/bar", fullName: "docker.io/library/foo/bar",
            domain: "docker.io"),
        .init(
            path: "store/foo/bar", familiarName: "store/foo/bar", fullName: "docker.io/store/foo/bar",
            domain: "docker.io"),
        .init(path: "bar", familiarName: "Foo/bar", fullName: "Foo/bar", domain: "Foo"),
        .init(path: "bar", familiarName: "FOO/bar", fullName: "FOO/bar", domain: "FOO"),
    ]

    @Test(arguments: repositoryInfo)
    func normalisesEverySpellingAlike(_ c: RepositoryInfoCase) throws {
        for input in c.inputs {
            let reference = try ImageReference(parsing: input)
            #expect(reference.familiarName == c.familiarName, "familiar name of \(input)")
            #expect(reference.string == c.fullName, "full name of \(input)")
            #expect(reference.domain == c.domain, "domain of \(input)")
            #expect(reference.path == c.path, "path of \(input)")
        }
    }

    @Test func countsEverySpellingOfTheGoTable() {
        #expect(Self.repositoryInfo.reduce(0) { $0 + $1.inputs.count } == 36)
    }

    // TestParseReferenceWithTagAndDigest (1 case).
    @Test func keepsTagAndDigestTogether() throws {
        let short = "busybox:latest@sha256:86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa"
        let reference = try ImageReference(parsing: short)
        #expect(reference.string == "docker.io/library/" + short)
        #expect(reference.tag == "latest")
        #expect(reference.digest != nil)
        #expect(reference.familiarString == short)
    }

    // TestMatch (9 cases), through ParseAnyReference as the Go test does.
    @Test(arguments: [
        ("foo", "foo/**/ba[rz]", false),
        ("foo/any/bat", "foo/**/ba[rz]", false),
        ("foo/a/bar", "foo/**/ba[rz]", true),
        ("foo/b/baz", "foo/**/ba[rz]", true),
        ("foo/c/baz:tag", "foo/**/ba[rz]", true),
        ("foo/c/baz:tag", "foo/*/baz:tag", true),
        ("foo/c/baz:tag", "foo/c/baz:tag", true),
        ("example.com/foo/c/baz:tag", "*/foo/c/baz", true),
        ("example.com/foo/c/baz:tag", "example.com/foo/c/baz", true),
    ])
    func matchesFamiliarForms(reference: String, pattern: String, expected: Bool) throws {
        #expect(try AnyReference(parsing: reference).familiarMatches(pattern) == expected)
    }

    // TestMatchError (1 case).
    @Test func rejectsMalformedPatterns() throws {
        let foo = try AnyReference(parsing: "foo")
        #expect(throws: ReferenceError.badPattern) { try foo.familiarMatches("[-x]") }
    }

    // MARK: Beyond the Go tables

    @Test(arguments: [
        ("docker.io/library/alpine", "alpine", "alpine"),
        ("alpine:3.20", "alpine", "alpine:3.20"),
        ("index.docker.io/library/alpine:3.20", "alpine", "alpine:3.20"),
        ("docker.io/library/alpine/sub:1", "library/alpine/sub", "library/alpine/sub:1"),
        ("library/library", "library", "library"),
        ("docker.io/bitnami/redis:7", "bitnami/redis", "bitnami/redis:7"),
        ("ghcr.io/library/alpine:1", "ghcr.io/library/alpine", "ghcr.io/library/alpine:1"),
        ("localhost:5000/alpine", "localhost:5000/alpine", "localhost:5000/alpine"),
        ("docker.io:443/library/alpine", "docker.io:443/library/alpine", "docker.io:443/library/alpine"),
    ])
    func shortensOnlyDockerHubNames(input: String, familiarName: String, familiarString: String) throws {
        let reference = try ImageReference(parsing: input)
        #expect(reference.familiarName == familiarName)
        #expect(reference.familiarString == familiarString)
    }

    // Strictly parsed names are familiarised the same way; without a domain nothing is removed.
    @Test(arguments: [
        ("docker.io/library/foo:1", "foo:1"),
        ("docker.io/foo", "foo"),
        ("library/foo", "library/foo"),
        ("foo", "foo"),
    ])
    func familiarisesStrictReferences(input: String, familiarString: String) throws {
        #expect(try ImageReference(parsingStrict: input).familiarString == familiarString)
    }

    @Test func aDigestHasNoShorterForm() throws {
        let digest = "sha256:86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa"
        let reference = try AnyReference(parsing: digest)
        #expect(reference.familiarString == digest)
        #expect(reference.named == nil)
        #expect(try reference.familiarMatches("sha256:*"))
    }

    // Go's path.Match rules, which FamiliarMatch inherits, on names outside the reference grammar too.
    @Test(arguments: [
        ("abc", "abc", true),
        ("*", "abc", true),
        ("*c", "abc", true),
        ("a*", "a", true),
        ("a*", "ab/c", false),
        ("a*/b", "abc/b", true),
        ("a*/b", "a/c/b", false),
        ("a*b*c*d*e*/f", "axbxcxdxe/f", true),
        ("a*b*c*d*e*/f", "axbxcxdxexxx/f", true),
        ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", false),
        ("a*b*c*d*e*/f", "axbxcxdxexxx/fff", false),
        ("a*b?c*x", "abxbbxdbxebxczzx", true),
        ("a*b?c*x", "abxbbxdbxebxczzy", false),
        ("ab[c]", "abc", true),
        ("ab[b-d]", "abc", true),
        ("ab[e-g]", "abc", false),
        ("ab[^c]", "abc", false),
        ("ab[^b-d]", "abc", false),
        ("ab[^e-g]", "abc", true),
        ("a\\*b", "a*b", true),
        ("a\\*b", "ab", false),
        ("a?b", "a☺b", true),
        ("a[^a]b", "a☺b", true),
        ("a???b", "a☺b", false),
        ("a[^a][^a][^a]b", "a☺b", false),
        ("[a-ζ]*", "α", true),
        ("*[a-ζ]", "A", false),
        ("a?b", "a/b", false),
        ("a*b", "a/b", false),
        ("[\\]a]", "]", true),
        ("[\\-]", "-", true),
        ("[x\\-]", "x", true),
        ("[x\\-]", "-", true),
        ("[x\\-]", "z", false),
        ("[\\-x]", "x", true),
        ("[\\-x]", "-", true),
        ("[\\-x]", "a", false),
        ("*x", "xxx", true),
    ])
    func matchesLikeGoPathMatch(pattern: String, name: String, expected: Bool) throws {
        #expect(try PathPattern.matches(pattern, name) == expected)
    }

    @Test(arguments: [
        ("[]a]", "]"), ("[-]", "-"), ("[x-]", "x"), ("[x-]", "-"), ("[x-]", "z"), ("[-x]", "x"), ("[-x]", "-"),
        ("[-x]", "a"), ("\\", "a"), ("[a-b-c]", "a"), ("[", "a"), ("[^", "a"), ("[^bc", "a"), ("a[", "a"),
        ("a[", "ab"), ("a[", "x"), ("a/b[", "x"), ("*x[", "xxx"),
        // A chunk after the first mismatch is still checked.
        ("a*[", "x"), ("x*a*\\", "y"),
    ])
    func rejectsMalformedPatternsLikeGo(pattern: String, name: String) {
        #expect(throws: ReferenceError.badPattern) { try PathPattern.matches(pattern, name) }
    }
}
