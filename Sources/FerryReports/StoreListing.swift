import Foundation
import FerrySystem
import Ledger
import OCIModel

/// What `ferry ls` shows: one entry per stored reference, from the ledger's tags and digest mappings.
///
/// Tags come first under their repository; a digest that no tag points to any more (an older tag target or a
/// pinned `repo@digest`) is listed as `repository@digest`. The children of a stored index are part of that
/// index's entry, not entries of their own.
public struct StoreListing: Codable, Sendable, Hashable {
    /// The stored references, by repository, tags before digests.
    public var references: [Entry]
    /// Totals.
    public var counts: Counts
    /// What `blobs/` holds on disk.
    public var blobs: BlobUsage

    /// Lists the inventory's references, with `blobs` measured by the caller.
    public init(_ inventory: Inventory, blobs: BlobUsage) {
        references = inventory.repositories.flatMap(Self.entries)
        counts = Counts(
            repositories: inventory.repositories.count, tags: references.count { $0.tag != nil },
            untaggedDigests: references.count { $0.tag == nil })
        self.blobs = blobs
    }

    private init(references: [Entry], counts: Counts, blobs: BlobUsage) {
        self.references = references
        self.counts = counts
        self.blobs = blobs
    }

    /// The entries of one repository: its tags, then the digests no tag points to that are not an index's child.
    static func entries(_ repository: InventoryEntry) -> [Entry] {
        var entries: [Entry] = []
        let byDigest = Dictionary(grouping: repository.digests, by: \.digest)
        let children = Set(repository.digests.compactMap(\.childDigest))
        let lastSeen = Dictionary(repository.tagHistory.map { ($0.manifestDigest, $0.lastSeen) }, uniquingKeysWith: max)
        var tagged: Set<Digest> = []
        for tag in repository.tags {
            tagged.insert(tag.manifestDigest)
            entries.append(
                Entry(
                    reference: repository.repository + ":" + tag.tag, repository: repository.repository,
                    tag: tag.tag, digest: tag.manifestDigest, mediaType: tag.mediaType, imageID: tag.imageID,
                    platforms: Self.platforms(byDigest[tag.manifestDigest] ?? []), firstSeen: tag.firstSeen,
                    lastSeen: tag.lastSeen, servedBy: EndpointEntry(url: tag.servedBy, repository: repository.repository)))
        }
        let untagged = byDigest.keys.filter { !tagged.contains($0) && !children.contains($0) }.sorted()
        for digest in untagged {
            let mappings = byDigest[digest] ?? []
            guard let first = mappings.min(by: { $0.firstSeen < $1.firstSeen }) else { continue }
            let isIndex = mappings.contains { $0.platform != nil }
            entries.append(
                Entry(
                    reference: repository.repository + "@" + digest.description,
                    repository: repository.repository, tag: nil, digest: digest, mediaType: first.mediaType,
                    imageID: isIndex ? nil : first.imageID, platforms: Self.platforms(mappings),
                    firstSeen: first.firstSeen, lastSeen: lastSeen[digest] ?? first.firstSeen,
                    servedBy: EndpointEntry(url: first.servedBy, repository: repository.repository)))
        }
        return entries
    }

    /// Writes the listing of the store behind `ledger` to `output`, text or JSON, reading it twice one repository
    /// at a time (totals and column widths first, then the lines): memory does not follow the store's size.
    public static func write(
        from ledger: ReferenceStore, blobs: BlobUsage, json: Bool, footer: Bool, to output: any ReportOutput
    ) throws {
        var counts = Counts(repositories: 0, tags: 0, untaggedDigests: 0)
        var widths = header.map(\.count)
        try ledger.forEachInventoryEntry { repository in
            counts.repositories += 1
            for entry in entries(repository) {
                if entry.tag != nil { counts.tags += 1 } else { counts.untaggedDigests += 1 }
                for (column, cell) in cells(entry).enumerated() { widths[column] = max(widths[column], cell.count) }
            }
        }
        let shape = StoreListing(references: [], counts: counts, blobs: blobs)
        if json {
            let stream = try JSONArrayStream(
                document: try shape.json(), key: "references", output: output, what: "store listing")
            try ledger.forEachInventoryEntry { repository in
                for entry in entries(repository) { try stream.add(entry) }
            }
            try stream.finish()
            return
        }
        if counts.tags + counts.untaggedDigests > 0 {
            try output.write(line(header, widths: widths) + "\n")
            try ledger.forEachInventoryEntry { repository in
                try output.write(entries(repository).map { line(cells($0), widths: widths) + "\n" }.joined())
            }
        }
        if footer { try output.write(shape.summary(references: counts.tags + counts.untaggedDigests) + "\n") }
    }

    private static let header = ["REFERENCE", "DIGEST", "IMAGE ID", "LAST SEEN", "SERVED BY"]

    private static func cells(_ entry: Entry) -> [String] {
        let image = entry.imageID?.shortHex ?? (entry.platforms.isEmpty ? "-" : "\(entry.platforms.count) platforms")
        return [
            entry.reference, entry.digest.shortHex, image, ReportTime.display(entry.lastSeen),
            entry.servedBy.url + (entry.servedBy.mirror ? " (mirror)" : ""),
        ]
    }

    private static func line(_ cells: [String], widths: [Int]) -> String {
        cells.enumerated().map { column, cell in
            column == cells.count - 1 ? cell : cell + String(repeating: " ", count: widths[column] - cell.count)
        }.joined(separator: "  ")
    }

    private static func platforms(_ mappings: [DigestRecord]) -> [Entry.Child] {
        mappings.compactMap { mapping in
            mapping.platform.map { platform in
                Entry.Child(platform: platform.description, digest: mapping.childDigest, imageID: mapping.imageID)
            }
        }
    }

    /// Aligned text: a header, one line per reference, and (unless `footer` is false) a summary line.
    public func textLines(footer: Bool = true) -> [String] {
        var lines: [String] = []
        if !references.isEmpty {
            let rows = [Self.header] + references.map(Self.cells)
            var widths = Self.header.map(\.count)
            for row in rows {
                for (column, cell) in row.enumerated() { widths[column] = max(widths[column], cell.count) }
            }
            lines = rows.map { Self.line($0, widths: widths) }
        }
        if footer { lines.append(summary) }
        return lines
    }

    /// `8 references (6 tags, 2 untagged digests) in 6 repositories · blobs: 12.3 MiB in 42 files`.
    public var summary: String { summary(references: references.count) }

    private func summary(references: Int) -> String {
        func count(_ number: Int, _ one: String, _ many: String) -> String { "\(number) \(number == 1 ? one : many)" }
        return count(references, "reference", "references") + " ("
            + count(counts.tags, "tag", "tags") + ", "
            + count(counts.untaggedDigests, "untagged digest", "untagged digests")
            + ") in " + count(counts.repositories, "repository", "repositories")
            + " · blobs: \(ReportTime.bytes(blobs.bytes)) in " + count(blobs.files, "file", "files")
    }

    /// The listing as pretty-printed JSON with sorted keys and ISO-8601 UTC dates.
    public func json() throws(ReportError) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(ReportTime.iso8601(date))
        }
        do {
            return Array(try encoder.encode(self)) + [0x0A]
        } catch {
            throw .json(what: "store listing", reason: "cannot encode: \(error)")
        }
    }
}

extension StoreListing {
    /// One stored reference.
    public struct Entry: Codable, Sendable, Hashable {
        /// `repository:tag` or `repository@digest`.
        public var reference: String
        /// The repository's full name.
        public var repository: String
        /// The tag; absent for an untagged digest.
        public var tag: String?
        /// The manifest or index digest.
        public var digest: Digest
        /// Its media type.
        public var mediaType: MediaType
        /// The image ID of an image manifest; absent for an index.
        public var imageID: Digest?
        /// For an index: its stored children.
        public var platforms: [Child]
        /// First observation.
        public var firstSeen: Date
        /// Last observation confirming this digest.
        public var lastSeen: Date
        /// Where it came from (for a tag: where its current digest came from).
        public var servedBy: EndpointEntry

        /// One stored child of an index.
        public struct Child: Codable, Sendable, Hashable {
            /// `os/architecture[/variant]`.
            public var platform: String
            /// The child manifest's digest.
            public var digest: Digest?
            /// The child's image ID.
            public var imageID: Digest
        }
    }

    /// Totals.
    public struct Counts: Codable, Sendable, Hashable {
        /// Repositories stored.
        public var repositories: Int
        /// Tags listed.
        public var tags: Int
        /// Digests listed that no tag points to.
        public var untaggedDigests: Int
    }
}

/// How much `DIR/blobs` holds on disk.
public struct BlobUsage: Codable, Sendable, Hashable {
    /// Files under `blobs/`.
    public var files: Int
    /// Their total size in bytes.
    public var bytes: Int64

    /// Creates a usage from known values.
    public init(files: Int, bytes: Int64) {
        self.files = files
        self.bytes = bytes
    }

    /// Sums the regular files under `directory` (recursively); a missing directory holds nothing.
    public static func measure(_ directory: String) throws(ReportError) -> BlobUsage {
        guard FileSystem.isDirectory(directory) else { return BlobUsage(files: 0, bytes: 0) }
        var usage = BlobUsage(files: 0, bytes: 0)
        var pending = [directory]
        do throws(FileSystemError) {
            while let next = pending.popLast() {
                for name in try FileSystem.list(next) {
                    let path = next + "/" + name
                    if FileSystem.isDirectory(path) {
                        pending.append(path)
                    } else if let size = FileSystem.fileSize(path) {
                        usage.files += 1
                        usage.bytes += size
                    }
                }
            }
        } catch {
            throw .io(error)
        }
        return usage
    }
}
