import Foundation
internal import GRDB
import OCIModel

extension ReferenceStore {
    /// Calls `body` with the history of `references` for a bundle, one record at a time: drift events, then
    /// observations, repositories and runs (the order of the keys of the encoded ``LedgerHistory``, so that a
    /// caller can write the document as the records come). One read transaction; `body`'s errors pass through.
    /// Synchronous: it runs while the caller writes the bundle description.
    ///
    /// What travels: the references' tags with every digest they pointed to, the digest mappings of `manifests`
    /// and of those digests, drift events, the latest observation of each reference and those the drift events
    /// point to, and the runs all of these name. References this store never recorded contribute nothing.
    /// `references` is read once, before anything else; a lazy sequence spares a caller holding them parsed.
    public func forEachHistoryRecord(
        of references: some Sequence<ImageReference>, manifests: Set<Digest>,
        _ body: (LedgerHistoryRecord) throws -> Void
    ) throws {
        let export = HistoryExport(references: references, manifests: manifests)
        do {
            try writer.read { db in try export.run(db, body) }
        } catch let error as DatabaseError {
            throw LedgerError.database(path: path, operation: "read history for a bundle", reason: Self.reason(error))
        } catch let error as StoredValueError {
            throw LedgerError.corruptRow(path: path, table: error.table, reason: error.reason)
        }
    }

    /// The history of `references` for a bundle, as ``forEachHistoryRecord(of:manifests:_:)`` hands it out, in
    /// memory: for small bundles and tests.
    public func history(of references: [ImageReference], manifests: Set<Digest>) async throws -> LedgerHistory {
        try await read("read history for a bundle") { db in
            var history = LedgerHistory()
            try HistoryExport(references: references, manifests: manifests).run(db) { history.append($0) }
            return history
        }
    }
}

/// One read of a bundle's history. Every query is a cached statement run once per reference (or repository, or
/// record), and no more than one repository's records are in memory at a time.
private struct HistoryExport {
    /// Each reference text (name-only means :latest) once, in the references' order.
    private var texts: [String] = []
    /// Each exported tag once per repository, in the references' order.
    private var tagsByRepository: [String: [String]] = [:]
    /// Every repository of the references, by name.
    private let repositories: [String]
    private let manifests: Set<Digest>

    private struct TagKey: Hashable {
        var repository: String
        var tag: String
    }

    init(references: some Sequence<ImageReference>, manifests: Set<Digest>) {
        self.manifests = manifests
        var seenTexts = Set<String>()
        var seenTags = Set<TagKey>()
        var repositories = Set<String>()
        for reference in references {
            let text = reference.taggedLatestIfNameOnly().string
            if seenTexts.insert(text).inserted { texts.append(text) }
            repositories.insert(reference.repository.name)
            guard reference.digest == nil else { continue }
            let key = TagKey(repository: reference.repository.name, tag: reference.tag ?? ImageReference.defaultTag)
            if seenTags.insert(key).inserted { tagsByRepository[key.repository, default: []].append(key.tag) }
        }
        self.repositories = repositories.sorted()
    }

    func run(_ db: Database, _ body: (LedgerHistoryRecord) throws -> Void) throws {
        var runIDs = Set<String>()

        var observationIDs = Set<Int64>()
        for text in texts {
            let events = try Queries.driftEvents(
                db, where: "WHERE reference = ? AND dryRun = 0 ORDER BY id", [text], cached: true)
            for event in events {
                observationIDs.insert(event.observationID)
                runIDs.insert(event.runID.rawValue)
                try body(.driftEvent(event))
            }
        }

        let latest = try db.cachedStatement(
            sql: """
                SELECT id FROM observation WHERE reference = ? AND dryRun = 0 AND outcome != 'failed'
                ORDER BY id DESC LIMIT 1
                """)
        for text in texts {
            if let id = try Int64.fetchOne(latest, arguments: [text]) { observationIDs.insert(id) }
        }
        for id in observationIDs.sorted() {
            guard let observation = try Queries.observation(db, id: id) else { continue }
            runIDs.insert(observation.runID.rawValue)
            try body(.observation(observation))
        }

        let tagged = try taggedDigests(db)
        let firstSeen = try db.cachedStatement(sql: "SELECT firstSeen FROM repository WHERE name = ?")
        let clause = "WHERE repository.name = ? AND tag.name = ?"
        for name in repositories {
            guard let fetched = try Row.fetchOne(firstSeen, arguments: [name]) else { continue }
            var entry = InventoryEntry(
                repository: name, firstSeen: try StoredRow(row: fetched, table: "repository").date("firstSeen"),
                tags: [], tagHistory: [], digests: [])
            for tag in tagsByRepository[name] ?? [] {
                entry.tags += try Queries.tags(db, where: clause, [name, tag], cached: true)
                entry.tagHistory += try Queries.history(db, where: clause, [name, tag], cached: true).map(\.record)
            }
            entry.digests = try Queries.digests(db, where: "WHERE repository.name = ?", [name], cached: true)
                .filter { manifests.contains($0.digest) || tagged.contains($0.digest) }
            entry.tags.forEach { runIDs.insert($0.lastRunID.rawValue) }
            entry.tagHistory.forEach {
                runIDs.insert($0.firstRunID.rawValue)
                runIDs.insert($0.lastRunID.rawValue)
            }
            entry.digests.forEach { runIDs.insert($0.firstRunID.rawValue) }
            try body(.repository(entry))
        }

        for id in runIDs.sorted() {
            for run in try ReferenceStore.fetchRuns(db, where: "WHERE id = ?", [id]) { try body(.run(run)) }
        }
    }

    /// The digests an exported tag points or pointed to that are no manifest of the bundle: their mappings travel
    /// too, in whichever repository. Read before the repositories are, since a tag of one repository can name a
    /// digest mapped in another; kept apart from `manifests`, which a merged copy would duplicate.
    private func taggedDigests(_ db: Database) throws -> Set<Digest> {
        var tagged = Set<Digest>()
        let sql = """
            SELECT tag.manifestDigest FROM tag JOIN repository ON repository.id = tag.repositoryId
            WHERE repository.name = ?1 AND tag.name = ?2
            UNION ALL
            SELECT tagHistory.manifestDigest FROM tagHistory JOIN tag ON tag.id = tagHistory.tagId
                JOIN repository ON repository.id = tag.repositoryId
            WHERE repository.name = ?1 AND tag.name = ?2
            """
        let statement = try db.cachedStatement(sql: sql)
        for (repository, tags) in tagsByRepository {
            for tag in tags {
                let rows = try Row.fetchCursor(statement, arguments: [repository, tag])
                while let row = try rows.next() {
                    let digest = try StoredRow(row: row, table: "tag").digest("manifestDigest")
                    if !manifests.contains(digest) { tagged.insert(digest) }
                }
            }
        }
        return tagged
    }
}
