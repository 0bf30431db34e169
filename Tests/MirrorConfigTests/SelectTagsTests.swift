import OCIModel
import Testing

@testable import MirrorConfig

/// One image entry's selectors and the tags it must pick from ``SelectTagsTests/remote``.
struct SelectCase: Sendable, CustomTestStringConvertible {
    let name: String
    var tags: [String] = []
    var include: [String] = []
    var exclude: [String] = []
    var semver: String?
    var latest: Int?
    let expected: [String]
    var needsTagList = true

    var testDescription: String { name }

    func entry() throws -> ImageEntry {
        ImageEntry(
            source: try ImageReference(parsing: "alpine"), location: SourceLocation(file: "t", line: 1, column: 1),
            tags: tags, include: try include.map(TagPattern.init), exclude: try exclude.map(TagPattern.init),
            semver: try semver.map { try SemverRange(parsing: $0) }, latest: latest)
    }
}

@Suite struct SelectTagsTests {
    /// In a registry's (unsorted) order.
    static let remote = [
        "3.19", "3.18.9", "latest", "3.20.3", "3.21.0-rc1", "3.20", "edge", "3.19.1", "v3.22.0", "3.21.0", "3.18.0",
        "3.20.0", "4.0.0-beta.1", "3.21", "20240807", "3.21.0_rc2",
    ]

    static let cases: [SelectCase] = [
        SelectCase(
            name: "exact tags only: no listing", tags: ["3.19", "edge"], expected: ["3.19", "edge"], needsTagList: false
        ),
        SelectCase(name: "exact tags need not exist remotely", tags: ["9.9"], expected: ["9.9"], needsTagList: false),
        SelectCase(
            name: "include is anchored", include: ["3\\.2\\d"], expected: ["3.20", "3.21"]),
        SelectCase(
            name: "include alternatives", include: ["3\\.20\\.\\d+", "edge|latest"],
            expected: ["latest", "3.20.3", "edge", "3.20.0"]),
        SelectCase(
            name: "exclude alone filters every listed tag", exclude: [".*-.*", ".*_.*", "\\d{8}", "v.*", "3\\.1.*"],
            expected: ["latest", "3.20.3", "3.20", "edge", "3.21.0", "3.20.0", "3.21"]),
        SelectCase(
            name: "exclude matches anywhere in the tag: -rc drops 3.21.0-rc1", include: ["3\\.21.*"], exclude: ["-rc"],
            expected: ["3.21.0", "3.21", "3.21.0_rc2"]),
        SelectCase(
            name: "exclude can still be anchored explicitly", include: ["3\\.21.*"], exclude: ["^3\\.21$"],
            expected: ["3.21.0-rc1", "3.21.0", "3.21.0_rc2"]),
        SelectCase(
            name: "semver with partial tags and v prefix", semver: ">=3.20 <4",
            expected: ["3.20.3", "3.20", "v3.22.0", "3.21.0", "3.20.0", "3.21"]),
        SelectCase(
            name: "semver leaves out prereleases; a date tag reads as a version", semver: ">=3.21.0",
            expected: ["v3.22.0", "3.21.0", "3.21", "20240807"]),
        SelectCase(
            name: "semver prerelease allowed on the same major.minor.patch", semver: ">=3.21.0-rc0 <3.22",
            expected: ["3.21.0-rc1", "3.21.0", "3.21"]),
        SelectCase(
            name: "semver prerelease of another version stays out", semver: ">=3.21.0-rc0",
            expected: ["3.21.0-rc1", "v3.22.0", "3.21.0", "3.21", "20240807"]),
        SelectCase(
            name: "caret", semver: "^3.19.1",
            expected: ["3.20.3", "3.20", "3.19.1", "v3.22.0", "3.21.0", "3.20.0", "3.21"]),
        SelectCase(name: "tilde", semver: "~3.18", expected: ["3.18.9", "3.18.0"]),
        SelectCase(name: "or", semver: "3.18.9 || 4.0.0-beta.1", expected: ["3.18.9", "4.0.0-beta.1"]),
        SelectCase(
            name: "latest ranks every version-like tag (date tags too) and drops the rest", latest: 3,
            expected: ["20240807", "4.0.0-beta.1", "v3.22.0"]),
        SelectCase(
            name: "latest after semver; equal versions prefer the explicit tag", semver: ">=3.20 <3.22", latest: 3,
            expected: ["3.21.0", "3.21", "3.20.3"]),
        SelectCase(
            name: "exact tags plus filters, no duplicates", tags: ["edge", "3.21.0"], include: ["3\\.21.*"],
            exclude: [".*_.*"], semver: "*", latest: 2, expected: ["edge", "3.21.0", "3.21"]),
        SelectCase(
            name: "latest larger than what is left", include: ["3\\.18\\..*"], latest: 10,
            expected: ["3.18.9", "3.18.0"]),
        SelectCase(
            name: "numeric date tag is a version when not excluded", include: ["\\d+"], latest: 1,
            expected: ["20240807"]),
    ]

    @Test(arguments: cases)
    func selects(_ testCase: SelectCase) throws {
        let entry = try testCase.entry()
        #expect(entry.selectTags(from: Self.remote) == testCase.expected)
        #expect(entry.needsTagList == testCase.needsTagList)
    }

    /// A hostile tag list: names that are not tags never count among the newest, whatever they look like.
    @Test func namesThatAreNotTagsAreNeverSelected() throws {
        let entry = ImageEntry(
            source: try ImageReference(parsing: "alpine"), location: SourceLocation(file: "t", line: 1, column: 1),
            include: [try TagPattern(".*")], latest: 2)
        let listed = ["1.0.0", "9.9.9+evil", "9.9.9/../../x", "../../9", ".9.9.9", "1.1.0", "9.9." + String(repeating: "9", count: 130)]
        #expect(entry.selectTags(from: listed) == ["1.1.0", "1.0.0"])
    }

    @Test func pinnedSourcesIgnoreTheList() throws {
        let tagged = ImageEntry(
            source: try ImageReference(parsing: "quay.io/prometheus/node-exporter:v1.8.2"),
            location: SourceLocation(file: "t", line: 1, column: 1))
        #expect(tagged.selectTags(from: ["v1.8.1", "v1.8.2"]) == ["v1.8.2"])
        #expect(!tagged.needsTagList)
        let digest = "sha256:" + String(repeating: "ab", count: 32)
        let byDigest = ImageEntry(
            source: try ImageReference(parsing: "ghcr.io/example/tool@" + digest),
            location: SourceLocation(file: "t", line: 1, column: 1))
        #expect(byDigest.selectTags(from: ["v1"]) == [])
        #expect(!byDigest.needsTagList)
    }
}
