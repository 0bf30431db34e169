import Foundation
internal import GRDB
import OCIModel

extension ReferenceStore {
    /// The tag's current mapping, or nil when the store has never stored it.
    public func tag(repository: RepositoryName, tag: String) async throws -> TagRecord? {
        try await read("read tag \(repository.name):\(tag)") { db in
            try Queries.tags(db, where: "WHERE repository.name = ? AND tag.name = ?", [repository.name, tag]).first
        }
    }

    /// The current mapping of each tag, in the order given (nil for a tag never stored), in one read.
    public func tags(_ keys: [(repository: RepositoryName, tag: String)]) async throws -> [TagRecord?] {
        try await read("read \(keys.count) tags") { db in
            try keys.map { key in
                try Queries.tags(
                    db, where: "WHERE repository.name = ? AND tag.name = ?", [key.repository.name, key.tag],
                    cached: true
                ).first
            }
        }
    }

    /// Every digest the tag has pointed to, one entry per stretch of time, oldest first.
    public func tagHistory(repository: RepositoryName, tag: String) async throws -> [TagHistoryRecord] {
        try await read("read tag history \(repository.name):\(tag)") { db in
            try Queries.history(db, where: "WHERE repository.name = ? AND tag.name = ?", [repository.name, tag])
                .map(\.record)
        }
    }

    /// The write-once mapping of `repository@digest` (for an index: of one platform), or nil.
    public func digest(repository: RepositoryName, digest: Digest, platform: Platform? = nil) async throws
        -> DigestRecord?
    {
        let key = platform.map(PlatformKey.encode) ?? ""
        return try await read("read digest \(repository.name)@\(digest)") { db in
            try Queries.digests(
                db,
                where: "WHERE repository.name = ? AND digestMapping.manifestDigest = ? AND digestMapping.platform = ?",
                [repository.name, digest.description, key]
            ).first
        }
    }

    /// Every mapping of `repository@digest`: one for an image manifest, one per stored platform for an index.
    public func digestMappings(repository: RepositoryName, digest: Digest) async throws -> [DigestRecord] {
        try await read("read digest \(repository.name)@\(digest)") { db in
            try Queries.digests(
                db, where: "WHERE repository.name = ? AND digestMapping.manifestDigest = ?",
                [repository.name, digest.description])
        }
    }

    /// The run's observations, in recording order.
    public func observations(run: RunID) async throws -> [ObservationRecord] {
        try await read("read observations of run \(run)") { db in try Queries.observations(db, run: run) }
    }

    /// The drift events raised by the run, in recording order.
    public func driftEvents(run: RunID) async throws -> [DriftEventRecord] {
        try await read("read drift events of run \(run)") { db in
            try Queries.driftEvents(db, where: "WHERE runId = ? ORDER BY id", [run.rawValue])
        }
    }

    /// Every drift event ever raised for the reference (name-only means `:latest`), oldest first.
    public func driftEvents(reference: ImageReference, includeDryRuns: Bool = false) async throws -> [DriftEventRecord]
    {
        let text = reference.taggedLatestIfNameOnly().string
        return try await read("read drift events of \(text)") { db in
            try Queries.driftEvents(
                db, where: "WHERE reference = ? AND (dryRun = 0 OR ?) ORDER BY id", [text, includeDryRuns])
        }
    }

    /// The audit view: every repository with its tags, tag history and digest mappings, plus the drift history.
    /// Holds the whole store in memory: for big stores, ``inventorySummary()`` and
    /// ``forEachInventoryEntry(_:)`` read it one repository at a time.
    public func inventory() async throws -> Inventory {
        let summary = try await inventorySummary()
        var repositories: [InventoryEntry] = []
        try forEachInventoryEntry { repositories.append($0) }
        return Inventory(
            schemaVersion: summary.schemaVersion, repositories: repositories, driftHistory: summary.driftHistory)
    }

    /// The inventory's totals and drift history, without its repositories.
    public func inventorySummary() async throws -> InventorySummary {
        try await read("read inventory") { db in
            InventorySummary(
                schemaVersion: try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0,
                repositories: try Int.fetchOne(db, sql: "SELECT count(*) FROM repository") ?? 0,
                tags: try Int.fetchOne(db, sql: "SELECT count(*) FROM tag") ?? 0,
                digests: try Int.fetchOne(
                    db, sql: "SELECT count(*) FROM (SELECT DISTINCT repositoryId, manifestDigest FROM digestMapping)")
                    ?? 0,
                digestMappings: try Int.fetchOne(db, sql: "SELECT count(*) FROM digestMapping") ?? 0,
                driftHistory: try Queries.driftEvents(db, where: "WHERE dryRun = 0 ORDER BY id", []))
        }
    }

    /// Calls `body` with each repository, by name, with its tags, tag history and digest mappings: one read
    /// transaction, one repository in memory at a time, `body`'s errors passed through. Synchronous: it runs while
    /// the caller writes a report or a listing.
    public func forEachInventoryEntry(_ body: (InventoryEntry) throws -> Void) throws {
        try readNow("read inventory") { db in
            let repositories = try Row.fetchAll(db, sql: "SELECT id, name, firstSeen FROM repository ORDER BY name")
                .stored("repository")
            for row in repositories {
                let id = try row.int64("id")
                try body(
                    InventoryEntry(
                        repository: try row.string("name"), firstSeen: try row.date("firstSeen"),
                        tags: try Queries.tags(db, where: "WHERE tag.repositoryId = ?", [id]),
                        tagHistory: try Queries.history(db, where: "WHERE tag.repositoryId = ?", [id]).map(\.record),
                        digests: try Queries.digests(db, where: "WHERE digestMapping.repositoryId = ?", [id])))
            }
        }
    }
}

/// Row-to-record mapping shared by the public queries and by ``ReferenceStore/record(_:)``.
enum Queries {
    // `cached`: the statement is compiled once per connection, for a query run once per reference of a big batch.

    static func tags(
        _ db: Database, where clause: String, _ arguments: StatementArguments, cached: Bool = false
    ) throws -> [TagRecord] {
        let sql = """
            SELECT repository.name AS repositoryName, tag.name AS tagName, tag.manifestDigest, tag.mediaType,
                tag.imageId, tag.firstSeen, tag.lastSeen, tag.lastChecked, tag.servedBy, tag.lastRunId, tag.bundleId
            FROM tag JOIN repository ON repository.id = tag.repositoryId
            \(clause) ORDER BY repository.name, tag.name
            """
        return try Row.fetchAll(db, SQLRequest(sql: sql, arguments: arguments, cached: cached)).stored("tag").map {
            row in
            TagRecord(
                repository: try row.string("repositoryName"), tag: try row.string("tagName"),
                manifestDigest: try row.digest("manifestDigest"), mediaType: try row.mediaType("mediaType"),
                imageID: try row.optionalDigest("imageId"), firstSeen: try row.date("firstSeen"),
                lastSeen: try row.date("lastSeen"), lastChecked: try row.date("lastChecked"),
                servedBy: try row.string("servedBy"), lastRunID: try row.runID("lastRunId"),
                bundleID: try row.optionalDigest("bundleId"))
        }
    }

    /// History rows keep their repository so the inventory can group them.
    struct HistoryRow {
        var repository: String
        var record: TagHistoryRecord
    }

    static func history(
        _ db: Database, where clause: String, _ arguments: StatementArguments, cached: Bool = false
    ) throws -> [HistoryRow] {
        let sql = """
            SELECT repository.name AS repositoryName, tag.name AS tagName, tagHistory.manifestDigest,
                tagHistory.imageId, tagHistory.firstSeen, tagHistory.lastSeen, tagHistory.firstRunId,
                tagHistory.lastRunId
            FROM tagHistory JOIN tag ON tag.id = tagHistory.tagId JOIN repository ON repository.id = tag.repositoryId
            \(clause) ORDER BY repository.name, tag.name, tagHistory.id
            """
        return try Row.fetchAll(db, SQLRequest(sql: sql, arguments: arguments, cached: cached)).stored("tagHistory")
            .map { row in
            HistoryRow(
                repository: try row.string("repositoryName"),
                record: TagHistoryRecord(
                    tag: try row.string("tagName"), manifestDigest: try row.digest("manifestDigest"),
                    imageID: try row.optionalDigest("imageId"), firstSeen: try row.date("firstSeen"),
                    lastSeen: try row.date("lastSeen"), firstRunID: try row.runID("firstRunId"),
                    lastRunID: try row.runID("lastRunId")))
        }
    }

    static func digests(
        _ db: Database, where clause: String, _ arguments: StatementArguments, cached: Bool = false
    ) throws -> [DigestRecord] {
        let sql = """
            SELECT repository.name AS repositoryName, digestMapping.manifestDigest, digestMapping.platform,
                digestMapping.imageId, digestMapping.childDigest, digestMapping.mediaType, digestMapping.firstSeen,
                digestMapping.firstRunId, digestMapping.servedBy
            FROM digestMapping JOIN repository ON repository.id = digestMapping.repositoryId
            \(clause) ORDER BY repository.name, digestMapping.manifestDigest, digestMapping.platform
            """
        return try Row.fetchAll(db, SQLRequest(sql: sql, arguments: arguments, cached: cached)).stored("digestMapping")
            .map { row in
            DigestRecord(
                repository: try row.string("repositoryName"), digest: try row.digest("manifestDigest"),
                platform: try row.platform("platform"), imageID: try row.digest("imageId"),
                childDigest: try row.optionalDigest("childDigest"), mediaType: try row.mediaType("mediaType"),
                firstSeen: try row.date("firstSeen"), firstRunID: try row.runID("firstRunId"),
                servedBy: try row.string("servedBy"))
        }
    }

    static func driftEvents(
        _ db: Database, where clause: String, _ arguments: StatementArguments, cached: Bool = false
    ) throws -> [DriftEventRecord] {
        let request = SQLRequest<Row>(sql: "SELECT * FROM driftEvent \(clause)", arguments: arguments, cached: cached)
        return try Row.fetchAll(db, request).stored("driftEvent")
            .map { row in
                DriftEventRecord(
                    id: try row.int64("id"), runID: try row.runID("runId"),
                    observationID: try row.int64("observationId"), kind: try row.value(DriftKind.self, "kind"),
                    reference: try row.string("reference"), repository: try row.string("repository"),
                    digest: try row.digest("digest"), platform: try row.platform("platform"),
                    oldValue: try row.digest("oldValue"), newValue: try row.digest("newValue"),
                    endpoint: try row.string("endpoint"), upstreamEndpoint: try row.optionalString("upstreamEndpoint"),
                    dryRun: try row.bool("dryRun"), occurredAt: try row.date("occurredAt"),
                    bundleID: try row.optionalDigest("bundleId"))
            }
    }

    static func observations(_ db: Database, run: RunID) throws -> [ObservationRecord] {
        try observations(db, matching: "o.runId = ?", [run.rawValue])
    }

    /// Observations whose row `o` satisfies `filter`, by ID.
    static func observations(_ db: Database, matching filter: String, _ arguments: StatementArguments) throws
        -> [ObservationRecord]
    {
        let attemptsSQL = """
            SELECT a.observationId, a.endpoint, a.error, a.fellBack
            FROM observationAttempt a JOIN observation o ON o.id = a.observationId
            WHERE \(filter) ORDER BY a.observationId, a.position
            """
        var attempts: [Int64: [EndpointAttempt]] = [:]
        for row in try Row.fetchAll(db, sql: attemptsSQL, arguments: arguments).stored("observationAttempt") {
            attempts[try row.int64("observationId"), default: []].append(try attempt(row))
        }
        let platformsSQL = """
            SELECT p.observationId, p.platform, p.manifestDigest, p.mediaType, p.imageId
            FROM observationPlatform p JOIN observation o ON o.id = p.observationId
            WHERE \(filter) ORDER BY p.observationId, p.position
            """
        var platforms: [Int64: [PlatformManifest]] = [:]
        for row in try Row.fetchAll(db, sql: platformsSQL, arguments: arguments).stored("observationPlatform") {
            platforms[try row.int64("observationId"), default: []].append(try platform(row))
        }
        let rows = try Row.fetchAll(
            db, sql: "SELECT * FROM observation o WHERE \(filter) ORDER BY o.id", arguments: arguments)
        return try rows.stored("observation").map { row in
            let id = try row.int64("id")
            return try observationRecord(row, platforms: platforms[id] ?? [], attempts: attempts[id] ?? [])
        }
    }
}

extension Queries {
    /// Observation `id` with its attempts and platforms, through cached statements: a read of thousands of
    /// observations one at a time compiles each query once.
    static func observation(_ db: Database, id: Int64) throws -> ObservationRecord? {
        let statement = try db.cachedStatement(sql: "SELECT * FROM observation WHERE id = ?")
        guard let row = try Row.fetchOne(statement, arguments: [id]) else { return nil }
        return try observationRecord(
            StoredRow(row: row, table: "observation"), platforms: try platforms(db, observation: id),
            attempts: try attempts(db, observation: id))
    }

    /// The endpoints an observation tried before the one that served it, in order.
    static func attempts(_ db: Database, observation id: Int64) throws -> [EndpointAttempt] {
        let statement = try db.cachedStatement(
            sql: "SELECT endpoint, error, fellBack FROM observationAttempt WHERE observationId = ? ORDER BY position")
        return try Row.fetchAll(statement, arguments: [id]).stored("observationAttempt").map(attempt)
    }

    /// The index children an observation selected, in order.
    static func platforms(_ db: Database, observation id: Int64) throws -> [PlatformManifest] {
        let statement = try db.cachedStatement(
            sql: """
                SELECT platform, manifestDigest, mediaType, imageId FROM observationPlatform
                WHERE observationId = ? ORDER BY position
                """)
        return try Row.fetchAll(statement, arguments: [id]).stored("observationPlatform").map(platform)
    }

    private static func attempt(_ row: StoredRow) throws -> EndpointAttempt {
        EndpointAttempt(
            endpoint: try row.string("endpoint"), error: try row.string("error"), fellBack: try row.bool("fellBack"))
    }

    private static func platform(_ row: StoredRow) throws -> PlatformManifest {
        guard let platform = try row.platform("platform") else {
            throw StoredValueError(table: "observationPlatform", reason: "platform is empty")
        }
        return PlatformManifest(
            platform: platform, digest: try row.digest("manifestDigest"), mediaType: try row.mediaType("mediaType"),
            imageID: try row.digest("imageId"))
    }

    /// One observation row as a record, with its platforms and attempts read separately.
    static func observationRecord(
        _ row: StoredRow, platforms: [PlatformManifest], attempts: [EndpointAttempt]
    ) throws -> ObservationRecord {
        let upstream: UpstreamCheck? =
            if let digest = try row.optionalDigest("upstreamDigest") {
                UpstreamCheck(digest: digest, endpoint: try row.optionalString("upstreamEndpoint") ?? "")
            } else {
                nil
            }
        return ObservationRecord(
            id: try row.int64("id"), runID: try row.runID("runId"), reference: try row.string("reference"),
            repository: try row.string("repository"), tag: try row.optionalString("tag"),
            requestedDigest: try row.optionalDigest("requestedDigest"),
            manifestDigest: try row.optionalDigest("manifestDigest"),
            mediaType: try row.optionalMediaType("mediaType"), imageID: try row.optionalDigest("imageId"),
            platforms: platforms, servedBy: try row.optionalString("servedBy"),
            attempts: attempts, upstream: upstream, outcome: try row.value(Outcome.self, "outcome"),
            previousDigest: try row.optionalDigest("previousDigest"), error: try row.optionalString("error"),
            immutable: try row.bool("immutable"), dryRun: try row.bool("dryRun"),
            bytesTransferred: try row.int64("bytesTransferred"),
            durationMilliseconds: try row.int64("durationMs"), observedAt: try row.date("observedAt"),
            checked: try row.bool("checked"), retryAt: try row.optionalDate("retryAt"),
            bundleID: try row.optionalDigest("bundleId"))
    }
}
