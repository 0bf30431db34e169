import ArgumentParser
import Foundation
import MirrorConfig
import OCIModel

extension FerryCommand {
    /// `ferry plan --shards N`: how the mirror list splits across machines, without touching the network.
    struct Plan: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print how the mirror list splits into shards for ferry sync --shard K/N (no network).",
            discussion: """
                Every repository goes to one shard: SHA-256 of its name, mod N. --json prints one JSON array with \
                an object per shard (shard, shards, arg "K/N", repositories, images, references, tagListed), for \
                Argo Workflows' withParam. references are those known without the registry (pinned sources and \
                exact tags); tagListed are the sources whose other tags come from the registry's tag list when \
                the shard syncs. Exit status 64 for a bad --shards, 65 for an invalid mirror list.
                """)

        @Option(help: ArgumentHelp("How many shards to split the mirror list into.", valueName: "n"))
        var shards: String

        @Flag(help: "Print the split as one JSON array (an object per shard).")
        var json = false

        @OptionGroup var global: GlobalOptions

        func run() async throws {
            let status = run(output: .console, environment: ProcessInfo.processInfo.environment)
            if status != .ok { throw status.exitCode }
        }

        /// Loads `--config`, writes the split (or the errors) to `output`, and returns the exit status.
        func run(output: CommandOutput, environment: [String: String]) -> ExitStatus {
            let count: Int
            do { count = try Shard.count(parsing: shards) } catch {
                output.standardError.writeLine("Error: \(error)")
                return .usage
            }
            let list: MirrorList
            do { list = try MirrorList.load(from: global.configPath, environment: environment) } catch {
                for problem in error.errors { output.standardError.writeLine(problem.description) }
                output.standardError.writeLine(error.summary)
                return .invalidInput
            }
            let parts: [ShardPlan]
            do { parts = try list.shards(count).map(ShardPlan.init) } catch {
                output.standardError.writeLine("Error: \(error)")
                return .usage
            }
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
                guard let data = try? encoder.encode(parts) else { return .ioError }
                output.standardOutput.writeLine(String(decoding: data, as: UTF8.self))
            } else {
                for line in Self.table(parts, list: list) { output.standardOutput.writeLine(line) }
            }
            return .ok
        }

        /// The human form: a summary, a table of counts per shard, then one line per repository.
        static func table(_ parts: [ShardPlan], list: MirrorList) -> [String] {
            let repositories = parts.reduce(0) { $0 + $1.repositories.count }
            var lines = [
                "\(parts.count) shard\(parts.count == 1 ? "" : "s"): \(list.images.count) images in "
                    + "\(repositories) repositories, split by SHA-256 of the repository name",
                "fingerprint \(list.fingerprint)",
            ]
            let header = ["SHARD", "REPOSITORIES", "IMAGES", "REFERENCES", "TAG LISTS"]
            var rows = [header]
            for part in parts {
                rows.append([
                    part.arg, "\(part.repositories.count)", "\(part.images.count)",
                    "\(part.references.count)" + (part.tagListed.isEmpty ? "" : "+"), "\(part.tagListed.count)",
                ])
            }
            let widths = header.indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
            for row in rows {
                lines.append(
                    zip(row, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }
                        .joined(separator: "  ").trimmingCharacters(in: .whitespaces))
            }
            for part in parts {
                for repository in part.repositories { lines.append("shard \(part.arg)  \(repository)") }
            }
            return lines
        }
    }
}

/// One shard of `ferry plan`, as its JSON array element.
struct ShardPlan: Encodable, Sendable {
    /// The shard index.
    var shard: Int
    /// The shard count.
    var shards: Int
    /// `K/N`, ready for `ferry sync --shard`.
    var arg: String
    /// The repositories it syncs, sorted.
    var repositories: [String]
    /// Its mirror-list entries' sources, in list order.
    var images: [String]
    /// The references known without asking a registry, each once, in list order.
    var references: [String]
    /// Sources whose other tags come from the registry's tag list at sync time.
    var tagListed: [String]

    init(_ part: (shard: Shard, images: [ImageEntry])) {
        shard = part.shard.index
        shards = part.shard.count
        arg = part.shard.description
        repositories = Set(part.images.map(\.source.name)).sorted()
        images = part.images.map(\.source.string)
        var seen = Set<String>()
        var references: [String] = []
        for entry in part.images {
            let known =
                entry.isPinned
                ? [entry.source] : entry.selectTags(from: []).compactMap { try? entry.source.withTag($0) }
            for reference in known where seen.insert(reference.string).inserted { references.append(reference.string) }
        }
        self.references = references
        tagListed = part.images.filter(\.needsTagList).map(\.source.string)
    }
}
