import OCIModel

/// One part of a mirror list split across machines: shard `index` of `count` (`ferry sync --shard K/N`).
///
/// The split is by repository, so that each repository has exactly one writer: cross-repository mounts and
/// anything else a run keeps per repository stay consistent. A repository's shard is the SHA-256 of its normalized
/// name (`docker.io/library/alpine`), read as a big-endian number, modulo `count` — the same on every machine, in
/// every process and in every ferry version, unlike Swift's per-process seeded `Hasher`.
public struct Shard: Sendable, Hashable, CustomStringConvertible {
    /// Zero-based index, below `count`.
    public let index: Int
    /// How many shards the list is split into, at least 1.
    public let count: Int

    /// The most shards a list can be split into; more would only be a typo of a large number.
    public static let maxCount = 10_000

    /// A shard; fails unless `0 <= index < count <= maxCount`.
    public init(index: Int, count: Int) throws(ShardError) {
        guard count >= 1, count <= Self.maxCount else { throw .invalidCount("\(count)") }
        guard index >= 0, index < count else { throw .indexOutOfRange(index: index, count: count) }
        self.index = index
        self.count = count
    }

    /// Parses `K/N`, both plain decimal numbers.
    public init(parsing text: String) throws(ShardError) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let index = Self.number(parts[0]), let count = Self.number(parts[1]) else {
            throw .malformed(text)
        }
        try self.init(index: index, count: count)
    }

    /// `K/N`, as `--shard` takes it.
    public var description: String { "\(index)/\(count)" }

    /// True when `repository` belongs to this shard.
    public func contains(_ repository: RepositoryName) -> Bool {
        Self.index(of: repository, count: count) == index
    }

    /// The shard of `repository` among `count`: SHA-256 of the normalized name, first 8 bytes big-endian, mod count.
    public static func index(of repository: RepositoryName, count: Int) -> Int {
        let digest = Digest.sha256(of: Array(repository.name.utf8))
        var value: UInt64 = 0
        // 16 hex digits are the first 8 bytes of the hash.
        for character in digest.hex.prefix(16) {
            value = value << 4 | UInt64(character.hexDigitValue ?? 0)
        }
        return Int(value % UInt64(max(count, 1)))
    }

    /// A count as `--shards` takes it.
    public static func count(parsing text: String) throws(ShardError) -> Int {
        guard let count = number(Substring(text)), count >= 1, count <= maxCount else { throw .invalidCount(text) }
        return count
    }

    /// Decimal digits only: `+1`, ` 1` and `0x1` are typos, not numbers.
    private static func number(_ text: Substring) -> Int? {
        guard !text.isEmpty, text.count <= 9, text.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return Int(text)
    }
}

/// Where a sync's shard comes from: `--shard K/N`, `--shards N`, and the environment (`FERRY_SHARD`, and
/// `JOB_COMPLETION_INDEX`, which a Kubernetes Indexed Job sets in every pod).
public struct ShardRequest: Sendable, Hashable {
    /// `--shard K/N`, as given.
    public var shard: String?
    /// `--shards N`, as given.
    public var shards: String?
    /// `FERRY_SHARD`: `K/N`, or `K` with `--shards N`.
    public var ferryShard: String?
    /// `JOB_COMPLETION_INDEX`: `K`, with `--shards N`.
    public var jobCompletionIndex: String?

    /// A request from the options and the process environment.
    public init(shard: String?, shards: String?, environment: [String: String]) {
        self.shard = shard
        self.shards = shards
        ferryShard = environment["FERRY_SHARD"].flatMap { $0.isEmpty ? nil : $0 }
        jobCompletionIndex = environment["JOB_COMPLETION_INDEX"].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// The shard asked for, or nil for an unsharded run.
    ///
    /// `--shard` wins over `FERRY_SHARD`, which wins over `JOB_COMPLETION_INDEX`; the environment alone shards a
    /// run only through `FERRY_SHARD=K/N` (a pod's `JOB_COMPLETION_INDEX` says nothing of the count). Every count
    /// given must agree.
    public func resolve() throws(ShardError) -> Shard? {
        let count = try shards.map { (text) throws(ShardError) in try Shard.count(parsing: text) }
        if let shard {
            let parsed = try Shard(parsing: shard)
            if let count, count != parsed.count { throw .countsDisagree(shard: shard, shards: count) }
            return parsed
        }
        if let ferryShard {
            if ferryShard.contains("/") {
                let parsed = try Shard(parsing: ferryShard)
                if let count, count != parsed.count { throw .countsDisagree(shard: ferryShard, shards: count) }
                return parsed
            }
            guard let count else { throw .indexWithoutCount(variable: "FERRY_SHARD", value: ferryShard) }
            return try Self.indexed(ferryShard, count: count, variable: "FERRY_SHARD")
        }
        guard let count else { return nil }
        guard let jobCompletionIndex else { throw .countWithoutIndex(count) }
        return try Self.indexed(jobCompletionIndex, count: count, variable: "JOB_COMPLETION_INDEX")
    }

    private static func indexed(_ text: String, count: Int, variable: String) throws(ShardError) -> Shard {
        guard !text.isEmpty, text.count <= 9, text.allSatisfy({ $0.isASCII && $0.isNumber }), let index = Int(text)
        else { throw .malformedIndex(variable: variable, value: text) }
        return try Shard(index: index, count: count)
    }
}

/// Why a shard could not be decided; each case names the value at fault.
public enum ShardError: Error, Sendable, Equatable, CustomStringConvertible {
    /// `--shard` (or `FERRY_SHARD`) is not `K/N`.
    case malformed(String)
    /// A count that is not a number from 1 to ``Shard/maxCount``.
    case invalidCount(String)
    /// `K` is not below `N`.
    case indexOutOfRange(index: Int, count: Int)
    /// An environment variable's index is not a number.
    case malformedIndex(variable: String, value: String)
    /// `--shard K/N` and `--shards M` disagree.
    case countsDisagree(shard: String, shards: Int)
    /// `--shards N` without an index from anywhere.
    case countWithoutIndex(Int)
    /// An index from the environment without a count.
    case indexWithoutCount(variable: String, value: String)

    /// One line naming the value.
    public var description: String {
        switch self {
        case .malformed(let text):
            "invalid shard \"\(text)\": expected K/N, e.g. 0/3 (shard K of N, counting from 0)"
        case .invalidCount(let text):
            "invalid shard count \"\(text)\": expected a whole number from 1 to \(Shard.maxCount)"
        case .indexOutOfRange(let index, let count):
            "shard \(index)/\(count) does not exist: the index counts from 0 and must be below \(count)"
        case .malformedIndex(let variable, let value):
            "\(variable)=\"\(value)\" is not a shard index: expected a whole number from 0"
        case .countsDisagree(let shard, let shards):
            "shard \(shard) disagrees with --shards \(shards)"
        case .countWithoutIndex(let count):
            "--shards \(count) needs this process's shard index: --shard K/\(count), FERRY_SHARD=K or "
                + "JOB_COMPLETION_INDEX (set by a Kubernetes Indexed Job)"
        case .indexWithoutCount(let variable, let value):
            "\(variable)=\(value) needs the shard count: pass --shards N, or set \(variable)=\(value)/N"
        }
    }
}

extension MirrorList {
    /// The same list with only the images whose repository falls in `shard` (``Shard/contains(_:)``): every
    /// reference an entry expands to shares the entry's repository, so filtering entries splits the expanded
    /// references by repository, and a shard lists the tags of its own repositories only.
    public func filtered(shard: Shard) -> MirrorList {
        MirrorList(
            registries: registries, targets: targets, images: images.filter { shard.contains($0.source.repository) },
            files: files, fingerprint: fingerprint)
    }

    /// The list split into `count` shards, each with its images in list order.
    public func shards(_ count: Int) throws(ShardError) -> [(shard: Shard, images: [ImageEntry])] {
        var parts: [[ImageEntry]] = Array(repeating: [], count: try Shard(index: 0, count: count).count)
        for entry in images { parts[Shard.index(of: entry.source.repository, count: count)].append(entry) }
        var result: [(shard: Shard, images: [ImageEntry])] = []
        for (index, images) in parts.enumerated() {
            result.append((try Shard(index: index, count: count), images))
        }
        return result
    }
}
