import Testing

@testable import MirrorConfig

@Suite struct SemverTests {
    /// (range, tag, satisfied); most rows are node-semver's own examples.
    @Test(arguments: [
        (">=1.2.7", "1.2.7", true), (">=1.2.7", "1.2.8", true), (">=1.2.7", "1.2.6", false),
        (">=1.2.7 <1.3.0", "1.2.99", true), (">=1.2.7 <1.3.0", "1.3.0", false), (">=1.2.7 <1.3.0", "1.2.6", false),
        ("1.2.7 || >=1.2.9 <2.0.0", "1.2.7", true), ("1.2.7 || >=1.2.9 <2.0.0", "1.2.8", false),
        ("1.2.7 || >=1.2.9 <2.0.0", "1.4.6", true), ("1.2.7 || >=1.2.9 <2.0.0", "2.0.0", false),
        // Prereleases: only with a comparator naming a prerelease of the same major.minor.patch.
        (">1.2.3-alpha.3", "1.2.3-alpha.7", true), (">1.2.3-alpha.3", "3.4.5-alpha.9", false),
        (">1.2.3-alpha.3", "3.4.5", true), (">1.2.3-alpha.3", "1.2.3-alpha.3", false),
        ("*", "1.0.0-rc1", false), ("*", "1.0.0", true), ("x", "0.0.1", true), ("", "1.0.0", false),
        // Prerelease precedence: 1.0.0-alpha < -alpha.1 < -alpha.beta < -beta < -beta.2 < -beta.11 < -rc.1 < 1.0.0.
        ("<1.0.0-alpha.1 >=1.0.0-alpha", "1.0.0-alpha", true),
        (">1.0.0-alpha.1 <1.0.0-beta", "1.0.0-alpha.beta", true),
        (">1.0.0-beta.2 <1.0.0-rc.1", "1.0.0-beta.11", true),
        (">1.0.0-beta.11", "1.0.0-beta.2", false),
        (">=1.0.0-rc.1", "1.0.0", true),
        // Partial versions and wildcards.
        ("1", "1.9.9", true), ("1", "2.0.0", false), ("1", "2.0.0-0", false), ("1.2", "1.2.9", true),
        ("1.2", "1.3.0", false), ("1.x", "1.4.0", true), ("1.2.x", "1.2.0", true), ("1.2.*", "1.3.0", false),
        (">1", "2.0.0", true), (">1", "1.9.9", false), (">1.2", "1.3.0", true), (">1.2", "1.2.9", false),
        ("<1.2", "1.1.9", true), ("<1.2", "1.2.0", false), ("<1.2", "1.2.0-rc1", false),
        ("<=1.2", "1.2.9", true), ("<=1.2", "1.3.0", false), ("<=1", "1.9.0", true), ("<=1", "2.0.0", false),
        (">=1", "1.0.0", true), (">*", "1.0.0", false), ("<*", "1.0.0", false), (">=*", "1.0.0", true),
        // Tilde and caret.
        ("~1.2.3", "1.2.9", true), ("~1.2.3", "1.3.0", false), ("~1.2", "1.2.0", true), ("~1", "1.9.0", true),
        ("~1", "2.0.0", false), ("~0.2.3", "0.2.9", true), ("~0.2.3", "0.3.0", false),
        ("~1.2.3-beta.2", "1.2.3-beta.4", true), ("~1.2.3-beta.2", "1.2.4-beta.2", false),
        ("^1.2.3", "1.9.9", true), ("^1.2.3", "2.0.0", false), ("^1.2.3", "1.2.2", false), ("^0.2.3", "0.2.9", true),
        ("^0.2.3", "0.3.0", false), ("^0.0.3", "0.0.3", true), ("^0.0.3", "0.0.4", false), ("^0.0", "0.0.9", true),
        ("^0.0", "0.1.0", false), ("^0", "0.9.0", true), ("^0", "1.0.0", false), ("^1.x", "1.9.0", true),
        ("^1.2.3-beta.2", "1.2.3-beta.4", true), ("^1.2.3-beta.2", "1.2.4-beta.2", false),
        // Spacing, `v` and `=`.
        (">= 3.18  < 4", "3.20.1", true), ("=v1.2.3", "1.2.3", true), ("v1.2.3", "v1.2.3", true),
        (" >=3.18.0 <4 ", "4.0.0", false),
        // Tags read leniently: `3.20` is 3.20.0, `v` is dropped, suffixed tags are prereleases.
        (">=3.20.0", "3.20", true), (">=3.20.0", "v3.20", true), (">=1.25", "1.25-alpine", false),
        (">=1.25.0-0", "1.25.0-alpine", true), (">=3", "edge", false), (">=3", "3.20.1.4", false),
        (">=3", "3.x", false),
    ])
    func rangeMatchesTag(range: String, tag: String, expected: Bool) throws {
        if range.isEmpty {
            #expect(throws: SemverRangeError.empty) { try SemverRange(parsing: range) }
            return
        }
        #expect(try SemverRange(parsing: range).matches(tag: tag) == expected)
    }

    @Test(arguments: [
        ("", SemverRangeError.empty),
        ("   ", .empty),
        (">=1 ||", .emptyAlternative),
        ("|| 1", .emptyAlternative),
        (">=1.2.3.4", .notAVersion(">=1.2.3.4")),
        ("1.x.3", .notAVersion("1.x.3")),
        ("~>1.2", .notAVersion("~>1.2")),
        (">=1.2<2", .notAVersion(">=1.2<2")),
        ("1.2 - 2.3", .notAVersion("-")),
        (">=", .operatorWithoutVersion(">=")),
        (">= >=1", .operatorWithoutVersion(">=")),
        ("1.2-rc1", .prereleaseNeedsFullVersion("1.2-rc1")),
    ])
    func rejectsBadRanges(range: String, expected: SemverRangeError) {
        #expect(throws: expected) { try SemverRange(parsing: range) }
    }

    @Test func versionOrdering() throws {
        let ordered = [
            "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11",
            "1.0.0-rc.1", "1.0.0", "1.0.1", "1.1", "v2", "10.0.0",
        ]
        let versions = try ordered.map { try #require(SemanticVersion(tag: $0)) }
        for (lower, higher) in zip(versions, versions.dropFirst()) {
            #expect(lower < higher, "\(lower) < \(higher)")
        }
        #expect(SemanticVersion(tag: "3.20") == SemanticVersion(tag: "3.20.0"))
        #expect(SemanticVersion(tag: "3.20")?.writtenParts == 2)
        #expect(SemanticVersion(tag: "latest") == nil)
        #expect(SemanticVersion(tag: "1.2.3.4") == nil)
        #expect(SemanticVersion(tag: "1..2") == nil)
        #expect(SemanticVersion(tag: "1.2.3-") == nil)
        #expect(SemanticVersion(tag: "99999999999999999999") == nil)
        #expect(SemanticVersion(tag: "2.0.0-rc1")?.description == "2.0.0-rc1")
    }
}
