import Foundation
internal import GRDB
import OCIModel

/// A referrer the reference store knows, with the mirrored manifest whose sync found it.
public struct RecordedReferrer: Sendable, Hashable {
    /// The repository's full name.
    public var repository: String
    /// The mirrored manifest (tag or pinned digest) whose discovery found it.
    public var imageDigest: Digest
    /// The referrer.
    public var referrer: Referrer
    /// The run that last found it.
    public var lastRunID: RunID
    /// The run that found it gone upstream; nil while it is current.
    public var removedRunID: RunID?

    /// The `index.json` name that keeps it in the store: the cosign tag, else `repository@digest`.
    public var name: String {
        if let tag = referrer.tag { return "\(repository):\(tag)" }
        return "\(repository)@\(referrer.digest)"
    }
}

/// A referrer found among an imported bundle's references.
public struct ImportedReferrer: Sendable, Hashable {
    /// The repository's full name.
    public var repository: String
    /// The image it belongs to (the subject, or the subject's subject for a referrer of a referrer).
    public var imageDigest: Digest
    /// The referrer.
    public var referrer: Referrer

    /// Creates an imported referrer.
    public init(repository: String, imageDigest: Digest, referrer: Referrer) {
        self.repository = repository
        self.imageDigest = imageDigest
        self.referrer = referrer
    }
}

/// The referrer rows of one observation, inside its transaction.
struct ReferrerWriter {
    let db: Database
    let run: String
    let now: Date
    let repository: String
    let image: Digest

    /// The current referrers of the image not in `found` (and of a type that was looked for): removed upstream.
    func removed(_ found: [Referrer], types: [String]?) throws -> [Referrer] {
        let present = Set(found.map { "\($0.subject) \($0.digest)" })
        return try current().filter { referrer in
            !present.contains("\(referrer.subject) \(referrer.digest)")
                && (types.map { $0.contains(referrer.artifactType) } ?? true)
        }
    }

    private func current() throws -> [Referrer] {
        try Row.fetchAll(
            db.cachedStatement(
                sql: """
                    SELECT * FROM referrer WHERE repository = ? AND imageDigest = ? AND removedRunId IS NULL
                    ORDER BY id
                    """),
            arguments: [repository, image.description]
        ).map { try ReferrerQueries.referrer(StoredRow(row: $0, table: "referrer")) }
    }

    /// Records what the observation found (and what it found gone).
    func record(_ found: [Referrer], removed: [Referrer], observationID: Int64?) throws {
        for (position, referrer) in found.enumerated() {
            if let observationID {
                try db.cachedStatement(
                sql: """
                    INSERT INTO observationReferrer
                        (observationId, position, subjectDigest, referrerDigest, mediaType, size, artifactType,
                         foundBy, tag)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """
            ).execute(arguments: [
                observationID, position, referrer.subject.description, referrer.digest.description,
                referrer.mediaType.rawValue, referrer.size, referrer.artifactType, referrer.source.rawValue,
                referrer.tag,
            ])
            }
            try db.cachedStatement(
                sql: """
                    INSERT INTO referrer
                        (repository, imageDigest, subjectDigest, referrerDigest, mediaType, size, artifactType,
                         foundBy, tag, firstSeen, firstRunId, lastSeen, lastRunId)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (repository, subjectDigest, referrerDigest) DO UPDATE SET
                        imageDigest = excluded.imageDigest, artifactType = excluded.artifactType,
                        foundBy = excluded.foundBy, tag = excluded.tag, lastSeen = excluded.lastSeen,
                        lastRunId = excluded.lastRunId, removedRunId = NULL
                    """
            ).execute(arguments: [
                repository, image.description, referrer.subject.description, referrer.digest.description,
                referrer.mediaType.rawValue, referrer.size, referrer.artifactType, referrer.source.rawValue,
                referrer.tag, now, run, now, run,
            ])
        }
        for referrer in removed {
            try db.cachedStatement(
                sql: """
                    UPDATE referrer SET removedRunId = ?
                    WHERE repository = ? AND subjectDigest = ? AND referrerDigest = ?
                    """
            ).execute(arguments: [run, repository, referrer.subject.description, referrer.digest.description])
        }
    }
}

enum ReferrerQueries {
    static func referrer(_ row: StoredRow) throws -> Referrer {
        Referrer(
            subject: try row.digest("subjectDigest"), digest: try row.digest("referrerDigest"),
            mediaType: try row.mediaType("mediaType"), size: try row.int64("size"),
            artifactType: try row.string("artifactType"), source: try row.value(ReferrerSource.self, "foundBy"),
            tag: try row.optionalString("tag"))
    }

    static func recorded(_ row: StoredRow) throws -> RecordedReferrer {
        RecordedReferrer(
            repository: try row.string("repository"), imageDigest: try row.digest("imageDigest"),
            referrer: try referrer(row), lastRunID: try row.runID("lastRunId"),
            removedRunID: try row.optionalString("removedRunId").flatMap(RunID.init(rawValue:)))
    }

    /// The `index.json` names of current referrers, for ``ReferenceStore/forEachRecordedName(_:)``.
    static func forEachName(_ db: Database, _ body: (RecordedName) throws -> Void) throws {
        let rows = try Row.fetchCursor(
            db,
            sql: """
                SELECT repository, tag, referrerDigest, min(mediaType) AS mediaType FROM referrer
                WHERE removedRunId IS NULL GROUP BY repository, tag, referrerDigest
                """)
        while let row = try rows.next() {
            let stored = StoredRow(row: row, table: "referrer")
            let repository = try stored.string("repository")
            let digest = try stored.digest("referrerDigest")
            let tag = try stored.optionalString("tag")
            try body(
                RecordedName(
                    name: tag.map { "\(repository):\($0)" } ?? "\(repository)@\(digest)", digest: digest,
                    mediaType: try stored.mediaType("mediaType"), isTag: tag != nil))
        }
    }
}

extension ReferenceStore {
    /// Records the referrers an import brought (run `runID`, the import's): ferry then names, verifies and pushes
    /// them (fallback tags included) as if it had found them itself.
    public func recordImportedReferrers(_ referrers: [ImportedReferrer], runID: RunID) async throws {
        guard !referrers.isEmpty else { return }
        try await write("record \(referrers.count) imported referrers") { db in
            let now = Date()
            for (key, group) in Dictionary(grouping: referrers, by: { "\($0.repository) \($0.imageDigest)" }) {
                _ = key
                let writer = ReferrerWriter(
                    db: db, run: runID.rawValue, now: now, repository: group[0].repository, image: group[0].imageDigest)
                try writer.record(group.map(\.referrer), removed: [], observationID: nil)
            }
        }
    }

    /// What each observation of the run found, by observation ID, in discovery order.
    public func referrers(run: RunID) async throws -> [Int64: [Referrer]] {
        try await read("read referrers of run \(run)") { db in
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT observationReferrer.* FROM observationReferrer
                    JOIN observation ON observation.id = observationReferrer.observationId
                    WHERE observation.runId = ? ORDER BY observationReferrer.observationId, position
                    """, arguments: [run.rawValue])
            var result: [Int64: [Referrer]] = [:]
            for row in rows {
                let stored = StoredRow(row: row, table: "observationReferrer")
                result[try stored.int64("observationId"), default: []].append(try ReferrerQueries.referrer(stored))
            }
            return result
        }
    }

    /// Every referrer recorded, current and removed, by repository and first sight.
    public func recordedReferrers() async throws -> [RecordedReferrer] {
        try await read("read recorded referrers") { db in
            try Row.fetchAll(db, sql: "SELECT * FROM referrer ORDER BY repository, id")
                .map { try ReferrerQueries.recorded(StoredRow(row: $0, table: "referrer")) }
        }
    }

    /// The current referrers of `digest` (a mirrored manifest) in `repository`, in discovery order.
    public func referrers(repository: String, image digest: Digest) async throws -> [Referrer] {
        try await read("read referrers of \(repository)@\(digest)") { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT * FROM referrer WHERE repository = ? AND imageDigest = ? AND removedRunId IS NULL
                    ORDER BY id
                    """, arguments: [repository, digest.description]
            ).map { try ReferrerQueries.referrer(StoredRow(row: $0, table: "referrer")) }
        }
    }
}
