import OCIModel
import Testing

@testable import MirrorConfig

/// The mirror list's `referrers:` (issue 9): all by default, `none`, or artifact types, per image or in `defaults`,
/// with `file:line:column` errors for anything else.
@Suite struct ReferrersConfigTests {
    private static let expected = "all, none, or a list of artifact types such as [application/spdx+json]"

    static let cases: [ErrorCase] = [
        ErrorCase(
            name: "referrers is another word",
            yaml: "version: 1\nimages:\n  - source: alpine\n    referrers: some\n",
            expected: ["a.yaml:4:16: \"referrers\" must be \(expected); got \"some\""]),
        ErrorCase(
            name: "referrers is an empty list",
            yaml: "version: 1\ndefaults:\n  referrers: []\n",
            expected: ["a.yaml:3:14: \"referrers\" must be \(expected); got an empty list"]),
        ErrorCase(
            name: "an artifact type that is not a media type",
            yaml: "version: 1\nimages:\n  - source: alpine\n    referrers: [application/spdx+json, sig]\n",
            expected: [
                "a.yaml:4:40: bad artifact type \"sig\": an artifact type is a media type such as "
                    + "application/vnd.dev.cosign.artifact.sig.v1+json"
            ]),
        ErrorCase(
            name: "all listed with artifact types",
            yaml: "version: 1\nimages:\n  - source: alpine\n    referrers: [all]\n",
            expected: ["a.yaml:4:17: \"all\" cannot be listed with artifact types; write referrers: all"]),
        ErrorCase(
            name: "referrers is a mapping",
            yaml: "version: 1\nimages:\n  - source: alpine\n    referrers: {all: true}\n",
            expected: ["a.yaml:4:16: \"referrers\" must be \(expected); got a mapping"]),
    ]

    @Test(arguments: cases)
    func reportsExactError(_ testCase: ErrorCase) throws {
        let loaded = try loadFixture(testCase.yaml)
        #expect(loaded.list == nil)
        #expect(loaded.errors == testCase.expected)
    }

    @Test func defaultIsAllDefaultsApplyAndAnEntryOverrides() throws {
        let yaml = """
            version: 1
            defaults:
              referrers: [application/vnd.dev.cosign.artifact.sig.v1+json]
            images:
              - source: alpine:3.20
              - source: busybox:1.36
                referrers: none
              - source: nginx:1.27
                referrers: all
            """
        let list = try #require(try loadFixture(yaml).list)
        #expect(list.images.map(\.referrers) == [
            .only(["application/vnd.dev.cosign.artifact.sig.v1+json"]), ReferrerSelection.none, .all,
        ])
        #expect(list.planLines.contains { $0.hasSuffix("referrers=none") })
        #expect(list.planLines.contains { $0.hasSuffix("referrers=application/vnd.dev.cosign.artifact.sig.v1+json") })
        let plain = try #require(try loadFixture("version: 1\nimages:\n  - source: alpine:3.20\n").list)
        #expect(plain.images.map(\.referrers) == [.all])
        #expect(!plain.planLines.joined().contains("referrers"))
    }

    @Test(arguments: [
        ("application/spdx+json", true), ("application/vnd.dev.cosign.artifact.sig.v1+json", true),
        ("application/vnd.in-toto+json", true), ("sig", false), ("application/", false), ("/json", false),
        ("application/spdx json", false), ("a/b/c", false),
    ])
    func artifactTypesAreMediaTypes(text: String, valid: Bool) {
        #expect(FileParser.isMediaType(text) == valid)
    }
}

/// How report words are derived from artifact types, and the summary line.
@Suite struct ReferrerKindTests {
    @Test(arguments: [
        ("application/vnd.dev.cosign.artifact.sig.v1+json", ReferrerKind.signature),
        ("application/vnd.cncf.notary.signature", .signature), ("application/spdx+json", .sbom),
        ("application/vnd.cyclonedx+json", .sbom), ("application/vnd.dev.cosign.artifact.sbom.v1+json", .sbom),
        ("application/vnd.in-toto+json", .attestation), ("application/vnd.dsse.envelope.v1+json", .attestation),
        ("application/vnd.example.thing", .other),
    ])
    func kinds(artifactType: String, kind: ReferrerKind) {
        #expect(ReferrerKind(artifactType: artifactType) == kind)
    }

    @Test func summaryCountsByKind() {
        #expect(Referrer.summary(kinds: [.attestation, .signature, .sbom]) == "3 referrers: 1 signature, 1 SBOM, 1 attestation")
        #expect(Referrer.summary(kinds: [.signature, .signature]) == "2 referrers: 2 signatures")
        #expect(Referrer.summary(kinds: [.sbom]) == "1 referrer: 1 SBOM")
        #expect(Referrer.summary(kinds: []) == "no referrers")
    }

    @Test func tagNames() throws {
        let digest = try Digest(parsing: "sha256:" + String(repeating: "ab", count: 32))
        #expect(ReferrerTags.fallbackTag(for: digest) == "sha256-" + String(repeating: "ab", count: 32))
        #expect(ReferrerTags.isCosignTag(ReferrerTags.cosignTag(for: digest, suffix: "att")))
        #expect(!ReferrerTags.isCosignTag(ReferrerTags.fallbackTag(for: digest)))
        #expect(!ReferrerTags.isCosignTag("sha256-abc.sig"))
        #expect(ReferrerTags.isFallbackTag(ReferrerTags.fallbackTag(for: digest)))
    }
}
