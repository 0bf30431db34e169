import Foundation
internal import GRDB
import OCIModel

/// A name the store's `index.json` carries according to the reference store.
public struct RecordedName: Sendable, Hashable {
    /// The full reference: `repository:tag`, or the pinned reference as the mirror list named it.
    public var name: String
    /// The manifest (or index) digest it names.
    public var digest: Digest
    /// That manifest's media type.
    public var mediaType: MediaType
    /// True for a tag, whose digest can move; false for a digest-pinned reference.
    public var isTag: Bool
}

extension ReferenceStore {
    /// What `index.json` is derived from: every tag at its current digest and every digest-pinned reference ever
    /// stored, sorted by name. Cost follows the number of names, not the length of the history.
    public func recordedNames() async throws -> [RecordedName] {
        var names: [RecordedName] = []
        try forEachRecordedName { names.append($0) }
        return names.sorted { $0.name < $1.name }
    }

    /// Calls `body` with each name ``recordedNames()`` lists (tags by repository and tag, then pinned
    /// references), one at a time, in one read transaction; `body`'s errors pass through.
    public func forEachRecordedName(_ body: (RecordedName) throws -> Void) throws {
        try readNow("read recorded names") { db in
            let tags = try Row.fetchCursor(
                db,
                sql: """
                    SELECT repository.name || ':' || tag.name AS name, tag.manifestDigest, tag.mediaType
                    FROM tag JOIN repository ON repository.id = tag.repositoryId
                    """)
            while let row = try tags.next() {
                let stored = StoredRow(row: row, table: "tag")
                try body(
                    RecordedName(
                        name: try stored.string("name"), digest: try stored.digest("manifestDigest"),
                        mediaType: try stored.mediaType("mediaType"), isTag: true))
            }
            // Served by the partial index observation_pinned (the same WHERE clause).
            let pinned = try Row.fetchCursor(
                db,
                sql: """
                    SELECT reference, min(manifestDigest) AS manifestDigest, min(mediaType) AS mediaType
                    FROM observation
                    WHERE requestedDigest IS NOT NULL AND manifestDigest IS NOT NULL AND dryRun = 0
                        AND outcome != 'failed'
                    GROUP BY reference
                    """)
            while let row = try pinned.next() {
                let stored = StoredRow(row: row, table: "observation")
                try body(
                    RecordedName(
                        name: try stored.string("reference"), digest: try stored.digest("manifestDigest"),
                        mediaType: try stored.mediaType("mediaType"), isTag: false))
            }
            // Referrers are named too (their cosign tag, else repository@digest), so they stay in the store.
            try ReferrerQueries.forEachName(db, body)
        }
    }

    /// Every digest the tag `name` (`repository:tag`) has pointed to, oldest first; empty for an unknown tag.
    public func digestsEver(tag name: String) async throws -> [Digest] {
        guard let colon = name.lastIndex(of: ":"), !name[colon...].contains("/") else { return [] }
        let repository = String(name[..<colon])
        let tag = String(name[name.index(after: colon)...])
        return try await read("read tag history \(name)") { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT tagHistory.manifestDigest FROM tagHistory
                    JOIN tag ON tag.id = tagHistory.tagId JOIN repository ON repository.id = tag.repositoryId
                    WHERE repository.name = ? AND tag.name = ? ORDER BY tagHistory.id
                    """, arguments: [repository, tag]
            ).map { try StoredRow(row: $0, table: "tagHistory").digest("manifestDigest") }
        }
    }
}

extension ReferenceStore {
    /// Every index child the reference store recorded as selected: content a platform-filtered index needs.
    public func recordedChildren() async throws -> Set<Digest> {
        try await read("read recorded children") { db in
            var children: Set<Digest> = []
            let rows = try Row.fetchCursor(
                db, sql: "SELECT DISTINCT childDigest FROM digestMapping WHERE childDigest IS NOT NULL")
            while let row = try rows.next() {
                children.insert(try StoredRow(row: row, table: "digestMapping").digest("childDigest"))
            }
            return children
        }
    }
}

extension ReferenceStore {
    /// What the last run that left `index.json` in line with this reference store recorded about the file (its
    /// identity and version, as text), or nil while a run may have left it behind: a run clears it before it
    /// commits anything and sets it after its last `index.json` write. A run that finds the same text as the file
    /// shows now need not compare the two.
    public func indexStamp() async throws -> String? {
        try await read("read index stamp") { db in
            try String.fetchOne(db, sql: "SELECT value FROM storeInfo WHERE key = 'indexStamp'")
        }
    }

    /// Records `stamp` (nil: `index.json` may lag from now on) for ``indexStamp()``.
    public func setIndexStamp(_ stamp: String?) async throws {
        try await write("record index stamp") { db in
            if let stamp {
                try db.execute(
                    sql: "INSERT INTO storeInfo (key, value) VALUES ('indexStamp', ?) "
                        + "ON CONFLICT (key) DO UPDATE SET value = excluded.value", arguments: [stamp])
            } else {
                try db.execute(sql: "DELETE FROM storeInfo WHERE key = 'indexStamp'")
            }
        }
    }
}
