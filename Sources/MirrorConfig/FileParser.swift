import Foundation
import OCIModel
import Yams

/// What one file contributes before files are merged: settings that depend on other files (defaults, target names,
/// registry TLS inherited by targets) stay unresolved until ``MirrorListLoader`` has read every file.
struct FileContribution {
    var registries: [(key: String, host: String, settings: RegistrySettings)] = []
    var targets: [TargetDraft] = []
    var defaults: DefaultsDraft?
    var images: [ImageDraft] = []
}

struct TargetDraft {
    var name: String
    var location: SourceLocation
    var destination: Target.Destination
    var tls: TLSMode?
    var caFile: String?
}

struct DefaultsDraft {
    var location: SourceLocation
    var platforms: PlatformSelection?
    var targets: [(String, SourceLocation)]?
    var immutable: Bool?
    var verifyUpstream: Bool?
    var immutableTags: [TagPattern]?
    var revalidate: RevalidateInterval?
    var referrers: ReferrerSelection?
}

struct ImageDraft {
    /// nil when the source was missing or unparsable; the rest is still checked so every error is reported.
    var source: ImageReference?
    var location: SourceLocation
    var tags: [String] = []
    var tagsAreImplied = false
    var include: [TagPattern] = []
    var exclude: [TagPattern] = []
    var semver: SemverRange?
    var latest: Int?
    var platforms: PlatformSelection?
    var targets: [(String, SourceLocation)]?
    var immutable: Bool?
    var verifyUpstream: Bool?
    var immutableTags: [TagPattern]?
    var revalidate: RevalidateInterval?
    var referrers: ReferrerSelection?
}

/// Turns one file's YAML tree into a ``FileContribution``, collecting every problem.
struct FileParser {
    static let topLevelKeys = ["version", "defaults", "registries", "targets", "images"]
    static let defaultsKeys = [
        "platforms", "targets", "immutable", "verify-upstream", "immutable-tags", "revalidate", "referrers",
    ]
    static let registryKeys = [
        "mirrors", "tls", "ca-file", "client-cert", "client-key", "credentials", "requests-per-second",
        "max-concurrent",
    ]
    static let credentialKeys = [
        "username", "username-env", "username-file", "password-env", "password-file", "token-env", "token-file",
    ]
    /// Keys that would hold a secret in the file itself; refused by name, their values are never read or printed.
    static let inlineSecretKeys = ["password", "token", "auth", "identitytoken", "registrytoken", "secret"]
    static let targetKeys = ["registry", "prefix", "tls", "ca-file", "layout"]
    static let imageKeys = [
        "source", "tags", "include", "exclude", "semver", "latest", "platforms", "targets", "immutable",
        "verify-upstream", "immutable-tags", "revalidate", "referrers",
    ]
    static let selectorKeys = ["tags", "include", "exclude", "semver", "latest"]
    static let supportedVersion = "1"

    var walker: YAMLWalker
    var contribution = FileContribution()

    init(file: String, environment: [String: String]) {
        walker = YAMLWalker(file: file, environment: environment)
    }

    var errors: [ConfigError] { walker.errors }

    // MARK: File

    mutating func parse(_ root: Node) {
        guard
            let fields = walker.mapping(
                root, field: "file", expected: "a mapping with keys \(Self.topLevelKeys.joined(separator: ", "))")
        else { return }
        if let version = fields.first(where: { $0.key == "version" }) {
            guard case .scalar(let scalar) = version.value, scalar.string == Self.supportedVersion else {
                let shown: String
                if case .scalar(let scalar) = version.value {
                    shown = scalar.string
                } else {
                    shown = walker.describe(version.value)
                }
                // Another version may mean something else by the same keys, so nothing else in this file is judged.
                walker.fail(version.value, "unsupported version \(shown); this ferry reads version 1")
                return
            }
        } else {
            walker.fail(root, "missing version; write \"version: 1\" at the top of every mirror list file")
        }
        for field in walker.known(fields, allowed: Self.topLevelKeys, in: "at top level") {
            switch field.key {
            case "defaults": parseDefaults(field)
            case "registries": parseRegistries(field.value)
            case "targets": parseTargets(field.value)
            case "images": parseImages(field.value)
            default: break
            }
        }
    }

    // MARK: defaults

    private mutating func parseDefaults(_ field: Field) {
        if walker.isNull(field.value) { return }
        var draft = DefaultsDraft(location: walker.location(field.keyNode))
        guard
            let fields = walker.mapping(
                field.value, field: "defaults", expected: "a mapping with \(Self.defaultsKeys.joined(separator: ", "))")
        else { return }
        for item in walker.known(fields, allowed: Self.defaultsKeys, in: "in defaults") {
            switch item.key {
            case "platforms": draft.platforms = parsePlatforms(item.value)
            case "targets": draft.targets = parseTargetNames(item.value)
            case "immutable": draft.immutable = walker.bool(item.value, field: item.key)
            case "verify-upstream": draft.verifyUpstream = walker.bool(item.value, field: item.key)
            case "immutable-tags": draft.immutableTags = parsePatterns(item.value, field: item.key)
            case "revalidate": draft.revalidate = parseRevalidate(item.value)
            case "referrers": draft.referrers = parseReferrers(item.value)
            default: break
            }
        }
        contribution.defaults = draft
    }

    // MARK: targets

    private mutating func parseTargets(_ node: Node) {
        if walker.isNull(node) { return }
        guard let fields = walker.mapping(node, field: "targets", expected: "a mapping from target name to settings")
        else { return }
        for field in fields {
            guard let name = walker.string(field.keyNode, field: "targets", expected: "a target name") else { continue }
            guard Target.isValidName(name) else {
                walker.fail(
                    field.keyNode,
                    "invalid target name \(goQuoted(name)); use letters, digits, \".\", \"_\" and \"-\", "
                        + "starting with a letter or digit")
                continue
            }
            if let draft = parseTarget(name: name, field: field) { contribution.targets.append(draft) }
        }
    }

    private mutating func parseTarget(name: String, field: Field) -> TargetDraft? {
        let needs = "target \(goQuoted(name)) needs registry (host[:port]) or layout (an OCI layout directory)"
        guard let fields = walker.mapping(field.value, field: name, expected: "a mapping with registry or layout")
        else { return nil }
        let items = walker.known(fields, allowed: Self.targetKeys, in: "in target \(goQuoted(name))")
        let registryField = items.first { $0.key == "registry" }
        let layoutField = items.first { $0.key == "layout" }
        switch (registryField, layoutField) {
        case (nil, nil):
            walker.fail(field.keyNode, needs)
            return nil
        case (_?, _?):
            walker.fail(field.keyNode, "target \(goQuoted(name)) has both registry and layout; give exactly one")
            return nil
        case (nil, let layout?):
            for item in items where item.key != "layout" {
                walker.fail(item.keyNode, "\"\(item.key)\" applies to registry targets only, not to a layout")
            }
            guard let path = walker.nonEmptyString(layout.value, field: "layout", expected: "a directory path")
            else { return nil }
            return TargetDraft(
                name: name, location: walker.location(field.keyNode), destination: .layout(path: path))
        case (let registry?, nil):
            var host: String?
            if let text = walker.string(registry.value, field: "registry", expected: "a registry host[:port]") {
                host = validHost(text, node: registry.value, what: "registry host")
            }
            var prefix: String?
            var tls: TLSMode?
            var caFile: String?
            for item in items {
                switch item.key {
                case "prefix": prefix = parsePrefix(item.value)
                case "tls": tls = parseTLS(item.value)
                case "ca-file": caFile = walker.nonEmptyString(item.value, field: item.key, expected: "a file path")
                default: break
                }
            }
            guard let host else { return nil }
            return TargetDraft(
                name: name, location: walker.location(field.keyNode),
                destination: .registry(host: host, prefix: prefix),
                tls: tls, caFile: caFile)
        }
    }

    private mutating func parsePrefix(_ node: Node) -> String? {
        let expected = "a repository path prefix such as mirror or team/mirror"
        guard let text = walker.string(node, field: "prefix", expected: expected) else { return nil }
        let valid =
            !text.hasPrefix("/") && !text.hasSuffix("/")
            && (try? ImageReference(parsingStrict: "example.com/\(text)/x")) != nil
        guard valid else {
            walker.fail(
                node,
                "invalid prefix \(goQuoted(text)); a prefix is lowercase path components "
                    + "([a-z0-9] separated by \".\", \"_\", \"__\" or \"-\") joined by \"/\"")
            return nil
        }
        return text
    }

    // MARK: images

    private mutating func parseImages(_ node: Node) {
        if walker.isNull(node) { return }
        guard case .sequence(let sequence) = node else {
            walker.wrongType("images", node, expected: "a list of image entries (- source: …)")
            return
        }
        for entry in sequence {
            if let draft = parseImage(entry) { contribution.images.append(draft) }
        }
    }

    private mutating func parseImage(_ entry: Node) -> ImageDraft? {
        // `- alpine:3.20` is shorthand for `- source: alpine:3.20`.
        if case .scalar = entry, !walker.isNull(entry) {
            guard let text = walker.string(entry, field: "source", expected: "an image reference") else { return nil }
            guard let source = parseReference(text, node: entry) else { return nil }
            return ImageDraft(
                source: source, location: walker.location(entry), tags: source.isNameOnly ? ["latest"] : [],
                tagsAreImplied: source.isNameOnly)
        }
        guard
            let fields = walker.mapping(
                entry, field: "images", expected: "a mapping with source and optional selectors")
        else { return nil }
        let items = walker.known(fields, allowed: Self.imageKeys, in: "in image entry")
        guard let sourceField = items.first(where: { $0.key == "source" }) else {
            walker.fail(entry, "image entry needs a source (an image reference such as docker.io/library/alpine)")
            return nil
        }
        var source: ImageReference?
        if let text = walker.string(sourceField.value, field: "source", expected: "an image reference") {
            source = parseReference(text, node: sourceField.value)
        }
        var draft = ImageDraft(source: source, location: walker.location(entry))
        if let source, !source.isNameOnly {
            let pinnedBy = source.digest != nil ? "digest" : "tag"
            for item in items where Self.selectorKeys.contains(item.key) {
                walker.fail(
                    item.keyNode,
                    "\"\(item.key)\" cannot be used with a source pinned by \(pinnedBy) (\(source.string)); "
                        + "selectors need a repository source such as \(source.name)")
            }
        }
        var hasSelector = false
        for item in items {
            switch item.key {
            case "tags":
                hasSelector = true
                draft.tags = parseTags(item.value)
            case "include":
                hasSelector = true
                draft.include = parsePatterns(item.value, field: item.key)
            case "exclude":
                hasSelector = true
                draft.exclude = parsePatterns(item.value, field: item.key)
            case "semver":
                hasSelector = true
                draft.semver = parseSemver(item.value)
            case "latest":
                hasSelector = true
                draft.latest = parseLatest(item.value)
            case "platforms": draft.platforms = parsePlatforms(item.value)
            case "targets": draft.targets = parseTargetNames(item.value)
            case "immutable": draft.immutable = walker.bool(item.value, field: item.key)
            case "verify-upstream": draft.verifyUpstream = walker.bool(item.value, field: item.key)
            case "immutable-tags": draft.immutableTags = parsePatterns(item.value, field: item.key)
            case "revalidate": draft.revalidate = parseRevalidate(item.value)
            case "referrers": draft.referrers = parseReferrers(item.value)
            default: break
            }
        }
        guard let source else { return nil }
        if source.isNameOnly, !hasSelector {
            draft.tags = ["latest"]
            draft.tagsAreImplied = true
        }
        return draft
    }

    private mutating func parseReference(_ text: String, node: Node) -> ImageReference? {
        do {
            return try ImageReference(parsing: text)
        } catch {
            walker.fail(node, "bad reference \(goQuoted(text)): \(error)")
            return nil
        }
    }

    private mutating func parseTags(_ node: Node) -> [String] {
        guard
            let items = walker.stringList(
                node, field: "tags", expected: "a list of tags such as [\"3.19\", \"3.20\"]", itemExpected: "a tag")
        else { return [] }
        var tags: [String] = []
        var seen: Set<String> = []
        for (tag, item) in items {
            guard ImageReference.isValidTag(tag) else {
                walker.fail(
                    item,
                    "invalid tag \(goQuoted(tag)); a tag is 1 to 128 letters, digits, \"_\", \".\" and \"-\", "
                        + "not starting with \".\" or \"-\"")
                continue
            }
            if seen.insert(tag).inserted { tags.append(tag) }
        }
        return tags
    }

    mutating func parsePatterns(_ node: Node, field: String) -> [TagPattern] {
        guard
            let items = walker.stringList(
                node, field: field, expected: "a list of regular expressions such as ['^3\\.2\\d$']",
                itemExpected: "a regular expression")
        else { return [] }
        var patterns: [TagPattern] = []
        for (text, item) in items {
            do {
                patterns.append(try TagPattern(text))
            } catch {
                walker.fail(item, "bad regex \(goQuoted(text)): \(error)")
            }
        }
        return patterns
    }

    private mutating func parseSemver(_ node: Node) -> SemverRange? {
        guard let text = walker.string(node, field: "semver", expected: "a version range such as \">=3.18 <4\"")
        else { return nil }
        do {
            return try SemverRange(parsing: text)
        } catch {
            walker.fail(node, "bad semver range \(goQuoted(text)): \(error)")
            return nil
        }
    }

    private mutating func parseLatest(_ node: Node) -> Int? {
        let expected = "a whole number of at least 1"
        guard let value = walker.int(node, field: "latest", expected: expected) else { return nil }
        guard value >= 1 else {
            walker.wrongType("latest", node, expected: expected)
            return nil
        }
        return value
    }

    private mutating func parsePlatforms(_ node: Node) -> PlatformSelection? {
        let expected = "all, or a list of platforms such as [linux/amd64, linux/arm64]"
        if case .scalar = node {
            guard let text = walker.string(node, field: "platforms", expected: expected) else { return nil }
            if text == "all" { return .all }
            walker.wrongType("platforms", node, expected: expected)
            return nil
        }
        guard
            let items = walker.stringList(
                node, field: "platforms", expected: expected, itemExpected: "a platform such as linux/amd64")
        else { return nil }
        guard !items.isEmpty else {
            walker.wrongType("platforms", node, expected: expected)
            return nil
        }
        var platforms: [Platform] = []
        var ok = true
        for (text, item) in items {
            if text == "all" {
                walker.fail(item, "\"all\" cannot be listed with platforms; write platforms: all")
                ok = false
                continue
            }
            do {
                let platform = try Platform(parsing: text)
                if !platforms.contains(platform) { platforms.append(platform) }
            } catch {
                walker.fail(item, "bad platform: \(error); a platform is os/arch[/variant] such as linux/arm64/v8")
                ok = false
            }
        }
        return ok ? .only(platforms) : nil
    }

    private mutating func parseTargetNames(_ node: Node) -> [(String, SourceLocation)]? {
        guard
            let items = walker.stringList(
                node, field: "targets", expected: "a list of target names", itemExpected: "a target name")
        else { return nil }
        var names: [(String, SourceLocation)] = []
        for (name, item) in items where !names.contains(where: { $0.0 == name }) {
            names.append((name, walker.location(item)))
        }
        return names
    }

    // MARK: hosts

    /// Validates `host[:port]` the way a reference's domain is recognised, and folds `index.docker.io`.
    mutating func validHost(_ text: String, node: Node, what: String) -> String? {
        let host = RegistrySettings.normalizedHost(text)
        let parsed = try? ImageReference(parsing: host + "/ferry-probe")
        if let parsed, parsed.domain == host { return host }
        if let parsed, parsed.domain == ImageReference.defaultDomain, !host.isEmpty {
            walker.fail(
                node,
                "invalid \(what) \(goQuoted(text)): without \".\", \":\" or being localhost it would name a Docker Hub "
                    + "namespace, not a registry; write host[:port] such as registry.internal or \(text):5000")
        } else {
            walker.fail(
                node,
                "invalid \(what) \(goQuoted(text)); expected host[:port] such as docker.io, registry.internal:5000 "
                    + "or localhost:5000")
        }
        return nil
    }
}
