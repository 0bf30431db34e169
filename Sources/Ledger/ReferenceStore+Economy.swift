import Foundation
internal import GRDB
import OCIModel

/// What the store records about one tag, for deciding whether to ask for it at all (`immutable-tags`).
public struct TagCheck: Sendable, Hashable {
    /// The digest the tag points to.
    public var digest: Digest
    /// When the tag was last asked for (`revalidate` measures from here).
    public var lastChecked: Date
}

/// A host's rate limit as the store keeps it between runs.
public struct RateLimitRecord: Sendable, Hashable {
    /// `host[:port]`.
    public var host: String
    /// Requests allowed per window.
    public var limit: Int?
    /// Requests left when last seen.
    public var remaining: Int?
    /// The window, in seconds.
    public var windowSeconds: Int64?
    /// When the quota comes back.
    public var resetAt: Date?
    /// When the host last said it.
    public var observedAt: Date

    /// Creates a record.
    public init(
        host: String, limit: Int?, remaining: Int?, windowSeconds: Int64?, resetAt: Date?, observedAt: Date
    ) {
        self.host = host
        self.limit = limit
        self.remaining = remaining
        self.windowSeconds = windowSeconds
        self.resetAt = resetAt
        self.observedAt = observedAt
    }
}

/// One host's requests in one run.
public struct RunHostRecord: Sendable, Hashable, Codable {
    /// `host[:port]`.
    public var host: String
    /// Requests by kind (`manifest-head`, `manifest-get`, `blob`, `tags`, `token`, …), sorted by kind.
    public var requests: [String: Int]
    /// 429 responses.
    public var throttled: Int
    /// The host's quota, when it advertised one.
    public var limit: Int?
    /// What was left at the end of the run.
    public var remaining: Int?
    /// When the quota comes back.
    public var resetAt: Date?
    /// True when a 429 stopped new work on the host.
    public var blocked: Bool
    /// Until when (nil with ``blocked``: the rest of the run).
    public var blockedUntil: Date?

    /// Creates a record.
    public init(
        host: String, requests: [String: Int], throttled: Int = 0, limit: Int? = nil, remaining: Int? = nil,
        resetAt: Date? = nil, blocked: Bool = false, blockedUntil: Date? = nil
    ) {
        self.host = host
        self.requests = requests
        self.throttled = throttled
        self.limit = limit
        self.remaining = remaining
        self.resetAt = resetAt
        self.blocked = blocked
        self.blockedUntil = blockedUntil
    }

    /// Every request.
    public var total: Int { requests.values.reduce(0, +) }
}

/// A repository's tag list as last fetched.
public struct TagListingRecord: Sendable, Hashable {
    /// The tags, in the registry's order.
    public var tags: [String]
    /// When it was fetched.
    public var fetchedAt: Date
}

extension ReferenceStore {
    /// Every recorded tag's digest and last check, keyed by `repository:tag` (the reference text). One read; the
    /// sync engine asks once per run, for the entries that have `immutable-tags`.
    public func tagChecks(repositories: Set<String>) async throws -> [String: TagCheck] {
        guard !repositories.isEmpty else { return [:] }
        return try await read("read tag checks") { db in
            var result: [String: TagCheck] = [:]
            let rows = try Row.fetchCursor(
                db,
                sql: """
                    SELECT repository.name AS repository, tag.name AS tag, tag.manifestDigest, tag.lastChecked
                    FROM tag JOIN repository ON repository.id = tag.repositoryId
                    """)
            while let fetched = try rows.next() {
                let row = StoredRow(row: fetched, table: "tag")
                let repository = try row.string("repository")
                guard repositories.contains(repository) else { continue }
                result[repository + ":" + (try row.string("tag"))] = TagCheck(
                    digest: try row.digest("manifestDigest"), lastChecked: try row.date("lastChecked"))
            }
            return result
        }
    }

    /// What every host last said about its quota.
    public func rateLimits() async throws -> [RateLimitRecord] {
        try await read("read rate limits") { db in
            try Row.fetchAll(db, sql: "SELECT * FROM rateLimit ORDER BY host").stored("rateLimit").map { row in
                RateLimitRecord(
                    host: try row.string("host"), limit: try row.optionalInt64("quota").map { Int($0) },
                    remaining: try row.optionalInt64("remaining").map { Int($0) },
                    windowSeconds: try row.optionalInt64("windowSeconds"), resetAt: try row.optionalDate("resetAt"),
                    observedAt: try row.date("observedAt"))
            }
        }
    }

    /// Stores the hosts' quotas (replacing what was known of those hosts) and the run's per-host requests; part
    /// of finishing the run (``finishRun(_:_:)``), in its transaction.
    static func insertRequests(_ db: Database, run id: RunID, hosts: [RunHostRecord], rateLimits: [RateLimitRecord])
        throws
    {
        for limit in rateLimits {
            try db.execute(
                literal: """
                    INSERT INTO rateLimit (host, quota, remaining, windowSeconds, resetAt, observedAt)
                    VALUES (\(limit.host), \(limit.limit), \(limit.remaining), \(limit.windowSeconds),
                            \(limit.resetAt), \(limit.observedAt))
                    ON CONFLICT (host) DO UPDATE SET quota = excluded.quota, remaining = excluded.remaining,
                        windowSeconds = excluded.windowSeconds, resetAt = excluded.resetAt,
                        observedAt = excluded.observedAt
                    """)
        }
        for host in hosts {
            try db.execute(
                literal: """
                    INSERT OR REPLACE INTO runHost
                        (runId, host, throttled, quota, remaining, resetAt, blocked, blockedUntil)
                    VALUES (\(id.rawValue), \(host.host), \(host.throttled), \(host.limit), \(host.remaining),
                            \(host.resetAt), \(host.blocked), \(host.blockedUntil))
                    """)
            for (kind, count) in host.requests where count > 0 {
                try db.execute(
                    literal: """
                        INSERT OR REPLACE INTO runRequest (runId, host, kind, count)
                        VALUES (\(id.rawValue), \(host.host), \(kind), \(count))
                        """)
            }
        }
    }

    /// The per-host requests of a run, sorted by host; empty for a run before request accounting.
    public func runHosts(_ id: RunID) async throws -> [RunHostRecord] {
        try await read("read requests of run \(id)") { db in try Self.runHosts(db, id) }
    }

    static func runHosts(_ db: Database, _ id: RunID) throws -> [RunHostRecord] {
        var requests: [String: [String: Int]] = [:]
        let counted = try Row.fetchAll(
            db, sql: "SELECT host, kind, count FROM runRequest WHERE runId = ?", arguments: [id.rawValue]
        ).stored("runRequest")
        for row in counted {
            requests[try row.string("host"), default: [:]][try row.string("kind")] = try row.int("count")
        }
        return try Row.fetchAll(
            db, sql: "SELECT * FROM runHost WHERE runId = ? ORDER BY host", arguments: [id.rawValue]
        ).stored("runHost").map { row in
            let host = try row.string("host")
            return RunHostRecord(
                host: host, requests: requests[host] ?? [:], throttled: try row.int("throttled"),
                limit: try row.optionalInt64("quota").map { Int($0) },
                remaining: try row.optionalInt64("remaining").map { Int($0) }, resetAt: try row.optionalDate("resetAt"),
                blocked: try row.bool("blocked"), blockedUntil: try row.optionalDate("blockedUntil"))
        }
    }

    /// The last tag list fetched for `repository`, or nil.
    public func tagListing(_ repository: String) async throws -> TagListingRecord? {
        try await read("read tag list of \(repository)") { db in
            guard
                let fetched = try Row.fetchOne(
                    db, sql: "SELECT tags, fetchedAt FROM tagListing WHERE repository = ?", arguments: [repository])
            else { return nil }
            let row = StoredRow(row: fetched, table: "tagListing")
            let text = try row.string("tags")
            return TagListingRecord(
                tags: text.isEmpty ? [] : text.split(separator: "\n").map(String.init), fetchedAt: try row.date("fetchedAt"))
        }
    }

    /// Keeps `tags` as the tag list of `repository` (tags cannot hold a newline, so one per line).
    public func recordTagListing(_ repository: String, tags: [String], fetchedAt: Date) async throws {
        try await write("record tag list of \(repository)") { db in
            try db.execute(
                literal: """
                    INSERT INTO tagListing (repository, tags, fetchedAt) VALUES (\(repository),
                        \(tags.joined(separator: "\n")), \(fetchedAt))
                    ON CONFLICT (repository) DO UPDATE SET tags = excluded.tags, fetchedAt = excluded.fetchedAt
                    """)
        }
    }

    /// Moves every recorded check, quota reset and tag-list fetch back by `interval`, as if that much time had
    /// passed: how tests drive `revalidate` and rate windows through the store instead of waiting.
    public func age(by interval: TimeInterval) async throws {
        try await write("age checks") { db in
            let shift = "-\(Int64(interval)) seconds"
            for (table, column) in [
                ("tag", "lastChecked"), ("rateLimit", "resetAt"), ("rateLimit", "observedAt"),
                ("tagListing", "fetchedAt"),
            ] {
                try db.execute(
                    sql: "UPDATE \(table) SET \(column) = strftime('%Y-%m-%d %H:%M:%f', \(column), ?) WHERE \(column) IS NOT NULL",
                    arguments: [shift])
            }
        }
    }
}
