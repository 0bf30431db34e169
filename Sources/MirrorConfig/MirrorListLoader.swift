import FerrySystem
import Foundation
import OCIModel
import Yams

/// Reads a mirror list folder (or file) one file at a time and merges the files into a ``MirrorList``.
struct MirrorListLoader {
    /// Larger files are refused before they are read: a mirror list this big is a mistake, not a list.
    static let maximumFileSize = 8 << 20
    /// Nodes one file may expand to; YAML aliases can otherwise make a small file walk like a huge one.
    static let maximumNodes = 1_000_000

    let environment: [String: String]
    private var errors: [ConfigError] = []
    private var files: [String] = []
    private var hasher = DigestHasher(.sha256)
    private var registries: [String: RegistrySettings] = [:]
    private var targets: [TargetDraft] = []
    private var defaults: DefaultsDraft?
    private var images: [ImageDraft] = []

    init(environment: [String: String]) {
        self.environment = environment
    }

    // MARK: Files

    mutating func load(path: String) throws(ConfigErrors) -> MirrorList {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ConfigErrors([ConfigError(file: path, line: 0, column: 0, problem: "no such file or directory")])
        }
        if isDirectory.boolValue {
            let names: [String]
            do {
                names = try FileManager.default.contentsOfDirectory(atPath: path)
            } catch {
                throw ConfigErrors([
                    ConfigError(
                        file: path, line: 0, column: 0, problem: "cannot list folder: \(error.localizedDescription)")
                ])
            }
            let yamlNames = names.filter { name in
                guard !name.hasPrefix("."), name.hasSuffix(".yaml") || name.hasSuffix(".yml") else { return false }
                var isDir: ObjCBool = false
                return FileManager.default.fileExists(atPath: Self.join(path, name), isDirectory: &isDir)
                    && !isDir.boolValue
            }.sorted()
            guard !yamlNames.isEmpty else {
                throw ConfigErrors([
                    ConfigError(
                        file: path, line: 0, column: 0,
                        problem:
                            "no *.yaml or *.yml files in this folder; a mirror list is a folder of them or one file")
                ])
            }
            for name in yamlNames {
                loadFile(Self.join(path, name), name: name)
            }
        } else {
            loadFile(path, name: FileSystem.lastComponent(of: path))
        }
        return try finish()
    }

    private static func join(_ folder: String, _ name: String) -> String {
        folder.hasSuffix("/") ? folder + name : folder + "/" + name
    }

    private mutating func loadFile(_ path: String, name: String) {
        files.append(path)
        let bytes: [UInt8]
        switch Self.read(path) {
        case .success(let read): bytes = read
        case .failure(let failure):
            errors.append(ConfigError(file: path, line: 0, column: 0, problem: failure.message))
            return
        }
        // The fingerprint covers names relative to --config, so it does not change with the checkout location.
        hasher.update(Array(name.utf8) + [0] + Array(String(bytes.count).utf8) + [0])
        hasher.update(bytes)
        guard let text = String(validating: bytes, as: UTF8.self) else {
            errors.append(
                ConfigError(file: path, line: 0, column: 0, problem: "not UTF-8 text; save the file as UTF-8"))
            return
        }
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            errors.append(Self.syntaxError(error, file: path, text: text))
            return
        } catch {
            errors.append(ConfigError(file: path, line: 0, column: 0, problem: "invalid YAML: \(error)"))
            return
        }
        guard let root else {
            errors.append(
                ConfigError(
                    file: path, line: 1, column: 1,
                    problem: "empty file; write \"version: 1\" at the top of every mirror list file"))
            return
        }
        var budget = Self.maximumNodes
        guard Self.fits(root, budget: &budget) else {
            errors.append(
                ConfigError(
                    file: path, line: 1, column: 1,
                    problem:
                        "more than \(Self.maximumNodes) YAML nodes once aliases are expanded; "
                        + "split the file or use fewer aliases"
                ))
            return
        }
        var parser = FileParser(file: path, environment: environment)
        parser.parse(root)
        errors += parser.errors
        merge(parser.contribution)
    }

    private struct ReadFailure: Error {
        var message: String
    }

    /// Reads a whole regular file, refusing anything over ``maximumFileSize`` before reading it.
    private static func read(_ path: String) -> Result<[UInt8], ReadFailure> {
        // O_NONBLOCK so that a FIFO given as --config cannot hang the open; it is refused below.
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { return .failure(ReadFailure(message: "cannot read: \(String(cString: strerror(errno)))")) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            return .failure(ReadFailure(message: "cannot read: \(String(cString: strerror(errno)))"))
        }
        guard info.st_mode & S_IFMT == S_IFREG else {
            return .failure(ReadFailure(message: "not a regular file; --config names a folder or a YAML file"))
        }
        guard Int(info.st_size) <= maximumFileSize else {
            return .failure(
                ReadFailure(message: "file is \(info.st_size) bytes; mirror list files are limited to 8 MiB"))
        }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let count = chunk.withUnsafeMutableBytes { Foundation.read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                return .failure(ReadFailure(message: "cannot read: \(String(cString: strerror(errno)))"))
            }
            if count == 0 { break }
            bytes += chunk[0..<count]
            // A file that grows while being read must not get past the limit either.
            if bytes.count > maximumFileSize {
                return .failure(
                    ReadFailure(message: "file is larger than 8 MiB; mirror list files are limited to 8 MiB"))
            }
        }
        return .success(bytes)
    }

    private static func fits(_ node: Node, budget: inout Int) -> Bool {
        budget -= 1
        guard budget >= 0 else { return false }
        switch node {
        case .scalar, .alias:
            return true
        case .sequence(let sequence):
            for item in sequence where !fits(item, budget: &budget) { return false }
            return true
        case .mapping(let mapping):
            for (key, value) in mapping where !fits(key, budget: &budget) || !fits(value, budget: &budget) {
                return false
            }
            return true
        }
    }

    private static func syntaxError(_ error: YamlError, file: String, text: String) -> ConfigError {
        func at(_ mark: Mark, _ problem: String, _ context: YamlError.Context?) -> ConfigError {
            var detail = context.map { " (\($0.text) at line \($0.mark.line), column \($0.mark.column))" } ?? ""
            if context?.text == "while scanning a block scalar" {
                // The usual cause: an unquoted range such as `semver: >=3.18 <4`.
                detail +=
                    "; a value starting with \">\" or \"|\" begins a YAML block scalar: quote it, "
                    + "as in semver: \">=3.18 <4\""
            }
            return ConfigError(
                file: file, line: mark.line, column: mark.column, problem: "invalid YAML: \(problem)\(detail)")
        }
        switch error {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            return at(mark, problem, context)
        case .reader(let problem, let offset, _, _):
            let (line, column) = offset.map { Self.lineAndColumn(ofCharacter: $0, in: text) } ?? (0, 0)
            return ConfigError(file: file, line: line, column: column, problem: "invalid YAML: \(problem)")
        case .duplicatedKeysInMapping(let duplicates, let context):
            // Yams reports where the first of the duplicated keys is; its context text is the whole file, not shown.
            let keys = duplicates.map(goQuoted).joined(separator: ", ")
            return ConfigError(
                file: file, line: context.mark.line, column: context.mark.column,
                problem: "key \(keys) appears more than once in this mapping; give each key once")
        default:
            return ConfigError(file: file, line: 0, column: 0, problem: "invalid YAML: \(error)")
        }
    }

    private static func lineAndColumn(ofCharacter offset: Int, in text: String) -> (Int, Int) {
        var line = 1
        var column = 1
        for character in text.prefix(offset) {
            if character == "\n" {
                line += 1
                column = 1
            } else {
                column += character.unicodeScalars.count
            }
        }
        return (line, column)
    }

    // MARK: Merging

    private mutating func merge(_ contribution: FileContribution) {
        for (key, host, settings) in contribution.registries {
            guard let location = settings.location else { continue }
            if let first = registries[host], let firstLocation = first.location {
                let shown = key == host ? goQuoted(host) : "\(goQuoted(key)) (normalized: \(host))"
                errors.append(
                    ConfigError(
                        "registry \(shown) is already configured at \(firstLocation); configure each registry once",
                        at: location))
                continue
            }
            registries[host] = settings
        }
        for target in contribution.targets {
            if let first = targets.first(where: { $0.name == target.name }) {
                errors.append(
                    ConfigError(
                        "target \(goQuoted(target.name)) is already defined at \(first.location); "
                            + "give each target a unique name",
                        at: target.location))
                continue
            }
            targets.append(target)
        }
        if let defaults = contribution.defaults {
            if let first = self.defaults {
                errors.append(
                    ConfigError(
                        "defaults are already set at \(first.location); only one file may set defaults",
                        at: defaults.location))
            } else {
                self.defaults = defaults
            }
        }
        images += contribution.images
    }

    private mutating func finish() throws(ConfigErrors) -> MirrorList {
        var resolvedTargets: [String: Target] = [:]
        for draft in targets {
            let tls: TLSMode?
            let caFile: String?
            switch draft.destination {
            case .registry(let host, _):
                tls = draft.tls ?? registries[host]?.tls
                caFile = draft.caFile ?? registries[host]?.caFile
            case .layout:
                tls = nil
                caFile = nil
            }
            resolvedTargets[draft.name] = Target(
                name: draft.name, destination: draft.destination, tls: tls, caFile: caFile, location: draft.location)
        }
        let knownTargets = resolvedTargets.keys.sorted()
        func checkTargets(_ names: [(String, SourceLocation)]) {
            for (name, location) in names where resolvedTargets[name] == nil {
                let known =
                    knownTargets.isEmpty
                    ? "no targets are defined (add them under targets:)"
                    : "defined targets: \(knownTargets.joined(separator: ", "))"
                errors.append(ConfigError("unknown target \(goQuoted(name)); \(known)", at: location))
            }
        }
        if let defaultTargets = defaults?.targets { checkTargets(defaultTargets) }

        var entries: [ImageEntry] = []
        var firstListed: [String: SourceLocation] = [:]
        for draft in images {
            guard let source = draft.source else { continue }
            if let targets = draft.targets { checkTargets(targets) }
            if let first = firstListed[source.string] {
                errors.append(
                    ConfigError(
                        "duplicate image \(source.string); first listed at \(first); list each source once",
                        at: draft.location))
                continue
            }
            firstListed[source.string] = draft.location
            entries.append(
                ImageEntry(
                    source: source, location: draft.location, tags: draft.tags, tagsAreImplied: draft.tagsAreImplied,
                    include: draft.include, exclude: draft.exclude, semver: draft.semver, latest: draft.latest,
                    platforms: draft.platforms ?? defaults?.platforms ?? .all,
                    targets: (draft.targets ?? defaults?.targets ?? []).map(\.0),
                    immutable: draft.immutable ?? defaults?.immutable ?? false,
                    verifyUpstream: draft.verifyUpstream ?? defaults?.verifyUpstream ?? false,
                    trust: Self.trust(draft, defaults: defaults),
                    referrers: draft.referrers ?? defaults?.referrers ?? .all))
        }

        if !errors.isEmpty {
            // Stable sort: file order as read (folder-level problems first), then position.
            let order = Dictionary(files.enumerated().map { ($0.element, $0.offset) }, uniquingKeysWith: { a, _ in a })
            let sorted = errors.enumerated().sorted { lhs, rhs in
                let l = (order[lhs.element.file] ?? -1, lhs.element.line, lhs.element.column, lhs.offset)
                let r = (order[rhs.element.file] ?? -1, rhs.element.line, rhs.element.column, rhs.offset)
                return l < r
            }
            throw ConfigErrors(sorted.map(\.element))
        }
        return MirrorList(
            registries: registries, targets: resolvedTargets, images: entries, files: files,
            fingerprint: hasher.finalize())
    }

    /// An entry's `immutable-tags` and `revalidate`, each taken from the entry or else from `defaults`.
    static func trust(_ draft: ImageDraft, defaults: DefaultsDraft?) -> TagTrust? {
        let patterns = draft.immutableTags ?? defaults?.immutableTags ?? []
        let revalidate = draft.revalidate ?? defaults?.revalidate
        if patterns.isEmpty, revalidate == nil { return nil }
        return TagTrust(patterns: patterns, revalidate: revalidate)
    }
}
