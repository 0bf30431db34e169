import FerrySystem
import Foundation
import Ledger
import OCIModel

/// What a bundle holds and where it came from: the `ferry-bundle.json` inside the tar.
///
/// The sidecar `FILE.ferry-bundle.json` is this document plus `parts`, the size and SHA-256 of each file; a part
/// cannot carry its own checksum, so only the sidecar has them. The copy inside the tar (its first entry) makes a
/// bundle self-describing once unpacked or separated from its sidecar, and lets import check that the sidecar and
/// the parts belong together. Keys are sorted and times are ISO 8601 UTC with milliseconds.
public struct BundleDescription: Sendable, Hashable, Codable {
    /// The format version ferry writes and reads.
    public static let formatVersion = 1

    /// The store a bundle was exported from.
    public struct SourceStore: Sendable, Hashable, Codable {
        /// The store's random ID (from its reference store), stable across exports.
        public var id: String
        /// The exporting host's name.
        public var host: String
        /// The store directory on that host.
        public var path: String

        /// Creates a source description.
        public init(id: String, host: String, path: String) {
            self.id = id
            self.host = host
            self.path = path
        }
    }

    /// What an incremental bundle was based on (`--since`).
    public struct Base: Sendable, Hashable, Codable {
        /// The bundle given to `--since`, if a bundle.
        public var bundle: Digest?
        /// The bundle chain it stands for: the given bundle and those it was based on, newest first.
        public var chain: [Digest]
        /// The run given to `--since`, or the run at the root of the chain.
        public var run: RunID?

        /// Creates a base.
        public init(bundle: Digest?, chain: [Digest], run: RunID?) {
            self.bundle = bundle
            self.chain = chain
            self.run = run
        }
    }

    /// A blob the references need that the bundle leaves out because the importing side has it already.
    public struct ExcludedBlob: Sendable, Hashable, Codable {
        /// The blob digest.
        public var digest: Digest
        /// Its size.
        public var size: Int64
        /// The earlier bundle that carried it; nil when `--since RUN` covers it.
        public var carriedBy: Digest?

        /// Creates an excluded-blob entry.
        public init(digest: Digest, size: Int64, carriedBy: Digest?) {
            self.digest = digest
            self.size = size
            self.carriedBy = carriedBy
        }
    }

    /// Always ``formatVersion`` when written by this ferry.
    public var formatVersion: Int
    /// The bundle ID: SHA-256 of the content list (references and blobs); equal content, equal ID.
    public var id: Digest
    /// When it was exported.
    public var createdAt: Date
    /// The exporting ferry's version.
    public var toolVersion: String
    /// The exporting store.
    public var sourceStore: SourceStore
    /// The `--since` base; nil for a full bundle.
    public var since: Base?
    /// Every reference, as in the bundle's `index.json`.
    public var references: [BundleReference]
    /// Every blob in the tar, in stream order.
    public var blobs: [BundleBlob]
    /// Every blob the references need that the tar leaves out.
    public var excludedBlobs: [ExcludedBlob]
    /// The exporting store's history of the references, with the runs it names (the source runs).
    public var history: LedgerHistory
    /// How many of the references are referrers (signatures, SBOMs, attestations), by kind (`signature`,
    /// `sbom`, `attestation`, `other`); absent when there are none. Not part of the ID: it follows from the
    /// references and their manifests.
    public var referrers: [String: Int]? = nil

    /// Creates a description.
    public init(
        formatVersion: Int = BundleDescription.formatVersion, id: Digest, createdAt: Date, toolVersion: String,
        sourceStore: SourceStore, since: Base?, references: [BundleReference], blobs: [BundleBlob],
        excludedBlobs: [ExcludedBlob], history: LedgerHistory
    ) {
        self.formatVersion = formatVersion
        self.id = id
        self.createdAt = createdAt
        self.toolVersion = toolVersion
        self.sourceStore = sourceStore
        self.since = since
        self.references = references
        self.blobs = blobs
        self.excludedBlobs = excludedBlobs
        self.history = history
    }

    /// The bundle ID of a content list: SHA-256 over the format version, the references and the blobs, as
    /// canonical JSON. Time, history and parts stay out, so exporting unchanged content again gives the same ID
    /// and importing it is a no-op.
    ///
    /// The JSON is hashed as it is written, one element at a time: encoding tens of thousands of blobs at once
    /// builds the whole document in memory first.
    public static func id(references: [BundleReference], blobs: [BundleBlob]) -> Digest {
        struct ContentList: Encodable {
            var formatVersion: Int
            var references: [BundleReference]
            var blobs: [BundleBlob]
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var hasher = DigestHasher(.sha256)
        // Encoding plain strings and integers cannot fail, and the shell has both arrays.
        let empty = ContentList(formatVersion: formatVersion, references: [], blobs: [])
        let document = (try? encoder.encode(empty)) ?? Data()
        guard
            let shell = try? JSONShell(
                Array(document), slots: [JSONShell.Slot("blobs"), JSONShell.Slot("references")], layout: .compact)
        else { return hasher.finalize() }
        let writer = JSONSpliceWriter<Never>(shell: shell) { hasher.update($0) }
        // Positions sorted rather than the blobs: a copy of 60,000 blobs is megabytes.
        for position in blobs.indices.sorted(by: { blobs[$0].digest < blobs[$1].digest }) {
            writer.add(Array((try? encoder.encode(blobs[position])) ?? Data()))
        }
        writer.closeSlot()
        for reference in references { writer.add(Array((try? encoder.encode(reference)) ?? Data())) }
        writer.finish()
        return hasher.finalize()
    }

    /// The JSON ferry writes: sorted keys, ISO 8601 times with milliseconds, indented for people reading it.
    public func encoded() throws -> [UInt8] {
        Array(try BundleJSON.encoder().encode(self))
    }
}

/// A bundle description without its history: what export and import keep in memory, while the history (tens of
/// megabytes at 20,000 references) streams between the reference store and the document.
public struct BundleOutline: Sendable, Hashable {
    /// Always ``BundleDescription/formatVersion`` when written by this ferry.
    public var formatVersion: Int
    /// The bundle ID.
    public var id: Digest
    /// When it was exported.
    public var createdAt: Date
    /// The exporting ferry's version.
    public var toolVersion: String
    /// The exporting store.
    public var sourceStore: BundleDescription.SourceStore
    /// The `--since` base; nil for a full bundle.
    public var since: BundleDescription.Base?
    /// Every reference, as in the bundle's `index.json`.
    public var references: [BundleReference]
    /// Every blob in the tar, in stream order.
    public var blobs: [BundleBlob]
    /// Every blob the references need that the tar leaves out.
    public var excludedBlobs: [BundleDescription.ExcludedBlob]
    /// The referrers among the references, by kind; nil when there are none.
    public var referrers: [String: Int]? = nil

    /// Creates an outline.
    public init(
        formatVersion: Int = BundleDescription.formatVersion, id: Digest, createdAt: Date, toolVersion: String,
        sourceStore: BundleDescription.SourceStore, since: BundleDescription.Base?, references: [BundleReference],
        blobs: [BundleBlob], excludedBlobs: [BundleDescription.ExcludedBlob], referrers: [String: Int]? = nil
    ) {
        self.referrers = referrers
        self.formatVersion = formatVersion
        self.id = id
        self.createdAt = createdAt
        self.toolVersion = toolVersion
        self.sourceStore = sourceStore
        self.since = since
        self.references = references
        self.blobs = blobs
        self.excludedBlobs = excludedBlobs
    }
}

extension BundleDescription {
    /// Everything but the history.
    public var outline: BundleOutline {
        BundleOutline(
            formatVersion: formatVersion, id: id, createdAt: createdAt, toolVersion: toolVersion,
            sourceStore: sourceStore, since: since, references: references, blobs: blobs, excludedBlobs: excludedBlobs,
            referrers: referrers)
    }

    /// The description of `outline` with `history`.
    public init(outline: BundleOutline, history: LedgerHistory) {
        self.init(
            formatVersion: outline.formatVersion, id: outline.id, createdAt: outline.createdAt,
            toolVersion: outline.toolVersion, sourceStore: outline.sourceStore, since: outline.since,
            references: outline.references, blobs: outline.blobs, excludedBlobs: outline.excludedBlobs,
            history: history)
        referrers = outline.referrers
    }
}

/// The sidecar `FILE.ferry-bundle.json`: the description's keys plus `parts`.
public struct BundleSidecar: Sendable, Hashable, Codable {
    /// The bundle description.
    public var description: BundleDescription
    /// The bundle's files in stream order: one for a single tar, `FILE.part0001`… for a split bundle.
    public var parts: [BundlePart]

    /// Creates a sidecar.
    public init(description: BundleDescription, parts: [BundlePart]) {
        self.description = description
        self.parts = parts
    }

    private enum CodingKeys: String, CodingKey { case parts }

    /// Decodes the description's keys and `parts` from one object.
    public init(from decoder: any Decoder) throws {
        description = try BundleDescription(from: decoder)
        parts = try decoder.container(keyedBy: CodingKeys.self).decode([BundlePart].self, forKey: .parts)
    }

    /// Encodes the description's keys and `parts` into one object.
    public func encode(to encoder: any Encoder) throws {
        try description.encode(to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(parts, forKey: .parts)
    }

    /// The JSON ferry writes.
    public func encoded() throws -> [UInt8] {
        Array(try BundleJSON.encoder().encode(self))
    }

    /// Parses a sidecar; `path` goes into errors.
    public static func decode(_ bytes: [UInt8], path: String) throws(BundleError) -> BundleSidecar {
        struct Version: Decodable { var formatVersion: Int }
        guard let version = try? BundleJSON.decoder().decode(Version.self, from: Data(bytes)) else {
            throw .invalidSidecar(path: path, reason: "not a ferry bundle description (no formatVersion)")
        }
        guard version.formatVersion == BundleDescription.formatVersion else {
            throw .unsupportedFormat(path: path, version: version.formatVersion)
        }
        do {
            return try BundleJSON.decoder().decode(BundleSidecar.self, from: Data(bytes))
        } catch {
            throw .invalidSidecar(path: path, reason: BundleJSON.reason(error))
        }
    }
}

extension Int64 {
    fileprivate func floorDivided(by divisor: Int64) -> Int64 {
        let quotient = self / divisor
        return (self % divisor != 0 && (self < 0) != (divisor < 0)) ? quotient - 1 : quotient
    }
}

/// The JSON settings of bundle documents.
enum BundleJSON {
    static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes, .prettyPrinted]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(format(date))
        }
        return encoder
    }

    static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            let text = try container.decode(String.self)
            guard let date = parse(text) else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "invalid time \"\(text)\"")
            }
            return date
        }
        return decoder
    }

    /// `2026-11-29T10:30:00.123Z`; the reference store keeps milliseconds, so nothing is lost.
    ///
    /// Rounded to the nearest millisecond by hand: a time read back from SQLite text is a binary fraction just
    /// below or above the millisecond, and a formatter that truncates would move it by one.
    static func format(_ date: Date) -> String {
        let milliseconds = Int64((date.timeIntervalSince1970 * 1000).rounded())
        var seconds = time_t(milliseconds.floorDivided(by: 1000))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2))."
            + "\(pad(Int32(milliseconds - milliseconds.floorDivided(by: 1000) * 1000), 3))Z"
    }

    static func parse(_ text: String) -> Date? {
        if let date = try? Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: .gmt).parse(text) {
            return date
        }
        return try? Date.ISO8601FormatStyle(timeZone: .gmt).parse(text)
    }

    /// A decoding error in one line: the coding path and what was wrong. `prefix` is the path of the value that
    /// was decoded on its own (an element of a big array: `history.observations[3]`).
    static func reason(_ error: any Error, at prefix: String = "") -> String {
        guard let error = error as? DecodingError else { return prefix.isEmpty ? "\(error)" : "\(prefix): \(error)" }
        func path(_ context: DecodingError.Context) -> String {
            let keys =
                prefix + context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? "." + $0.stringValue }.joined()
            return keys.isEmpty ? "" : "\(keys.hasPrefix(".") ? String(keys.dropFirst()) : keys): "
        }
        switch error {
        case .keyNotFound(let key, let context): return "\(path(context))missing key \"\(key.stringValue)\""
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            return path(context) + context.debugDescription
        @unknown default: return "\(error)"
        }
    }
}
