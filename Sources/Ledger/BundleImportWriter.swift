import Foundation
internal import GRDB
import OCIModel

/// One ``ReferenceStore/recordImport(_:)`` call's work, inside its transaction.
///
/// The bundle's history is read in three passes over the request's history source, never whole: what the checks
/// and the references need of it (``ImportedHistoryIndex``), then the observations (drift events point to their
/// local IDs), then drift events and repositories. Every statement that runs once per record is a cached one.
struct ImportWriter {
    let db: Database
    let path: String
    let request: BundleImportRequest

    var bundle: String { request.bundleID.description }

    func stored(_ date: Date) -> String { StoredDate.text(date) }
    func stored(_ date: Date?) -> String? { date.map(StoredDate.text) }
    var now: Date { request.importedAt }
    /// What a row says served it when the exporting store had no record of the reference.
    var bundleEndpoint: String { "bundle:" + request.bundleID.description }

    struct MappingKey: Hashable {
        var repository: String
        var digest: Digest
        var platform: String
    }

    /// A repository and one of its digests: how conflicting mappings are found again per reference.
    struct RepositoryDigest: Hashable {
        var repository: String
        var digest: Digest
    }

    private struct LocalTag {
        var id: Int64
        var digest: Digest
    }

    func invalid(_ reason: String) -> LedgerError {
        LedgerError.invalidBundleHistory(path: path, bundle: request.bundleID, reason: reason)
    }

    /// Runs `sql` through the connection's statement cache.
    func execute(_ sql: String, _ arguments: StatementArguments) throws {
        try db.cachedStatement(sql: sql).execute(arguments: arguments)
    }

    /// The first column of the first row of `sql`, through the statement cache.
    func fetchInt64(_ sql: String, _ arguments: StatementArguments) throws -> Int64? {
        try Int64.fetchOne(db.cachedStatement(sql: sql), arguments: arguments)
    }

    func write() throws -> BundleImportResult {
        if try fetchInt64("SELECT 1 FROM bundleImport WHERE id = ?", [bundle]) != nil {
            throw LedgerError.bundleAlreadyImported(path: path, bundle: request.bundleID)
        }
        let index = try ImportedHistoryIndex(self)
        let run = try beginRun()
        // Decided before anything is written, so that outcomes compare with the store as it was.
        var before: [(tag: LocalTag?, digestKnown: Bool)] = []
        before.reserveCapacity(request.references.count)
        for reference in request.references {
            let repository = reference.reference.repository.name
            let tag = try tagName(reference).flatMap { try localTag(repository: repository, name: $0) }
            let known =
                try fetchInt64(
                    """
                    SELECT 1 FROM digestMapping d JOIN repository r ON r.id = d.repositoryId
                    WHERE r.name = ? AND d.manifestDigest = ? LIMIT 1
                    """, [repository, reference.digest.description]) != nil
            before.append((tag, known))
        }

        try insertRuns(index.runs)
        let observationIDs = try insertObservations()
        var merged = try mergeHistory(observationIDs: observationIDs, run: run)
        for reference in request.references where merged.repositoryIDs[reference.reference.repository.name] == nil {
            let name = reference.reference.repository.name
            merged.repositoryIDs[name] = try upsertRepository(name, entry: nil, run: run)
        }

        var rows: [BundleImportResult.Row] = []
        var events: [DriftEventRecord] = []
        var raised = Set<MappingKey>()
        for (reference, state) in zip(request.references, before) {
            let repository = reference.reference.repository.name
            guard let repositoryID = merged.repositoryIDs[repository] else {
                throw invalid("repository \(repository) vanished")
            }
            let servedBy = servedBy(reference, index: index)
            var drifts: [(MappingKey, Digest, Digest)] = []
            for mapping in impliedMappings(reference) {
                let key = MappingKey(repository: repository, digest: mapping.digest, platform: mapping.platformKey)
                if let stored = try storedImageID(key, repositoryID: repositoryID) {
                    if stored != mapping.imageID, raised.insert(key).inserted {
                        drifts.append((key, stored, mapping.imageID))
                    }
                } else {
                    try execute(
                        """
                        INSERT INTO digestMapping
                            (repositoryId, manifestDigest, platform, imageId, childDigest, mediaType, firstSeen,
                             firstRunId, servedBy)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """,
                        [
                            repositoryID, mapping.digest.description, mapping.platformKey,
                            mapping.imageID.description, mapping.childDigest?.description, mapping.mediaType.rawValue,
                            stored(now), run.rawValue, servedBy,
                        ])
                }
            }
            for digest in parts(of: reference) {
                for conflict in merged.conflicts[RepositoryDigest(repository: repository, digest: digest)] ?? []
                where raised.insert(conflict.key).inserted {
                    drifts.append((conflict.key, conflict.stored, conflict.bundle))
                }
            }

            var outcome: Outcome
            if let tag = try tagName(reference) {
                if let local = state.tag {
                    outcome = local.digest == reference.digest || reference.keepsLocalTag ? .upToDate : .updated
                } else {
                    outcome = .pulled
                }
                if !reference.keepsLocalTag {
                    try moveTag(
                        tag, reference, bundleTag: index.tag(of: reference), repositoryID: repositoryID,
                        servedBy: servedBy, run: run)
                }
            } else {
                outcome = state.digestKnown ? .upToDate : .pulled
            }
            if !drifts.isEmpty { outcome = .drift }
            let observationID = try insertImportObservation(
                reference, run: run, outcome: outcome, previous: state.tag?.digest, servedBy: servedBy)
            for (key, old, new) in drifts {
                events.append(
                    try insertDrift(
                        reference, run: run, observationID: observationID, key: key, old: old, new: new,
                        endpoint: servedBy))
            }
            rows.append(
                BundleImportResult.Row(
                    reference: reference.reference.taggedLatestIfNameOnly().string, outcome: outcome,
                    previousDigest: state.tag?.digest))
        }

        let files = String(decoding: (try? JSONEncoder().encode(request.files)) ?? Data("[]".utf8), as: UTF8.self)
        try db.execute(
            literal: """
                INSERT INTO bundleImport
                    (id, importedAt, runId, createdAt, sourceStore, sinceBundleId, sinceRunId, toolVersion, files,
                     referenceCount, blobCount, blobsAdded, bytesAdded)
                VALUES (\(bundle), \(stored(now)), \(run.rawValue), \(stored(request.createdAt)),
                        \(request.sourceStore),
                        \(request.sinceBundle?.description), \(request.sinceRun?.rawValue),
                        \(request.exportToolVersion), \(files), \(request.references.count), \(request.blobCount),
                        \(request.blobsAdded), \(request.bytesAdded))
                """)
        let counts = try ReferenceStore.liveCounts(db, run)
        try db.execute(
            literal: """
                UPDATE run SET finishedAt = \(Date()), status = \(RunStatus.completed.rawValue),
                    exitStatus = \(events.isEmpty ? 0 : 2), referenceCount = \(counts.references),
                    pulledCount = \(counts.pulled), upToDateCount = \(counts.upToDate),
                    updatedCount = \(counts.updated), failedCount = \(counts.failed), driftCount = \(counts.drift),
                    driftEventCount = \(counts.driftEvents), bytesTransferred = \(counts.bytesTransferred)
                WHERE id = \(run.rawValue)
                """)
        return BundleImportResult(runID: run, rows: rows, driftEvents: events)
    }

    /// One pass over the history: the source's own errors are marked so that they leave the transaction as they
    /// are, while `body`'s (SQLite's) are mapped as every other write's.
    func pass(_ kinds: LedgerHistoryKinds, _ body: (LedgerHistoryRecord) throws -> Void) throws {
        var bodyFailed = false
        do {
            try request.history.forEachRecord(kinds) { record in
                do { try body(record) } catch {
                    bodyFailed = true
                    throw error
                }
            }
        } catch {
            if bodyFailed { throw error }
            throw HistorySourceFailure(underlying: error)
        }
    }

    // MARK: Reads

    func tagName(_ reference: ImportedReference) throws -> String? {
        reference.reference.digest == nil ? (reference.reference.tag ?? ImageReference.defaultTag) : nil
    }

    private func localTag(repository: String, name: String) throws -> LocalTag? {
        let sql = """
            SELECT tag.id, tag.manifestDigest FROM tag JOIN repository ON repository.id = tag.repositoryId
            WHERE repository.name = ? AND tag.name = ?
            """
        guard let fetched = try Row.fetchOne(db.cachedStatement(sql: sql), arguments: [repository, name]) else {
            return nil
        }
        let row = StoredRow(row: fetched, table: "tag")
        return LocalTag(id: try row.int64("id"), digest: try row.digest("manifestDigest"))
    }

    func storedImageID(_ key: MappingKey, repositoryID: Int64) throws -> Digest? {
        let sql = "SELECT imageId FROM digestMapping WHERE repositoryId = ? AND manifestDigest = ? AND platform = ?"
        guard
            let fetched = try Row.fetchOne(
                db.cachedStatement(sql: sql), arguments: [repositoryID, key.digest.description, key.platform])
        else { return nil }
        return try StoredRow(row: fetched, table: "digestMapping").digest("imageId")
    }

    /// Where the exporting store got the reference: its tag's servedBy, else its digest mapping's.
    private func servedBy(_ reference: ImportedReference, index: ImportedHistoryIndex) -> String {
        if let tag = index.tag(of: reference) { return Redaction.endpoint(tag.servedBy) }
        if let servedBy = index.servedBy(of: reference) { return Redaction.endpoint(servedBy) }
        return bundleEndpoint
    }

    private struct Mapping {
        var digest: Digest
        var platformKey: String
        var imageID: Digest
        var childDigest: Digest?
        var mediaType: MediaType
    }

    /// The same mappings ``ReferenceStore/record(_:)`` writes for a resolved manifest.
    private func impliedMappings(_ reference: ImportedReference) -> [Mapping] {
        guard !reference.platforms.isEmpty else {
            guard let imageID = reference.imageID else { return [] }
            return [
                Mapping(digest: reference.digest, platformKey: "", imageID: imageID, mediaType: reference.mediaType)
            ]
        }
        return reference.platforms.flatMap { child in
            [
                Mapping(
                    digest: reference.digest, platformKey: PlatformKey.encode(child.platform), imageID: child.imageID,
                    childDigest: child.digest, mediaType: reference.mediaType),
                Mapping(digest: child.digest, platformKey: "", imageID: child.imageID, mediaType: child.mediaType),
            ]
        }
    }

    /// The reference's digest and its children's, each once.
    private func parts(of reference: ImportedReference) -> [Digest] {
        var digests = [reference.digest]
        for child in reference.platforms where !digests.contains(child.digest) { digests.append(child.digest) }
        return digests
    }

    // MARK: Writes

    private func beginRun() throws -> RunID {
        for _ in 0..<32 {
            let id = RunID.make(startingAt: now)
            guard try fetchInt64("SELECT 1 FROM run WHERE id = ?", [id.rawValue]) == nil else { continue }
            try db.execute(
                literal: """
                    INSERT INTO run (id, command, toolVersion, dryRun, startedAt, status, bundleId)
                    VALUES (\(id.rawValue), 'import', \(request.toolVersion), 0, \(stored(now)),
                            \(RunStatus.running.rawValue), \(bundle))
                    """)
            return id
        }
        throw LedgerError.database(path: path, operation: "import", reason: "no free run ID for \(RunID.stamp(now))")
    }

    /// Points the tag at the bundle's digest, with the exporting store's times and servedBy when it has them.
    private func moveTag(
        _ name: String, _ reference: ImportedReference, bundleTag record: ImportedHistoryIndex.BundleTag?,
        repositoryID: Int64,
        servedBy: String, run: RunID
    ) throws {
        let firstSeen = record?.firstSeen ?? now
        let lastSeen = record?.lastSeen ?? now
        let lastChecked = record?.lastChecked ?? now
        let lastRun = record?.lastRunID ?? run
        let imageID = (record?.imageID ?? reference.imageID)?.description
        try execute(
            """
            INSERT INTO tag
                (repositoryId, name, manifestDigest, mediaType, imageId, firstSeen, lastSeen, lastChecked, servedBy,
                 lastRunId, bundleId)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (repositoryId, name) DO UPDATE SET
                manifestDigest = excluded.manifestDigest, mediaType = excluded.mediaType,
                imageId = excluded.imageId, firstSeen = min(firstSeen, excluded.firstSeen),
                lastSeen = excluded.lastSeen, lastChecked = excluded.lastChecked, servedBy = excluded.servedBy,
                lastRunId = excluded.lastRunId, bundleId = excluded.bundleId
            """,
            [
                repositoryID, name, reference.digest.description, reference.mediaType.rawValue, imageID,
                stored(firstSeen), stored(lastSeen), stored(lastChecked), servedBy, lastRun.rawValue, bundle,
            ])
        guard let tagID = try fetchInt64("SELECT id FROM tag WHERE repositoryId = ? AND name = ?", [repositoryID, name])
        else { throw StoredValueError(table: "tag", reason: "\(name) vanished after upsert") }
        // The newest stretch must be the current digest, as record(_:) keeps it; the merged history usually
        // already ends with it.
        let latest = try Row.fetchOne(
            db.cachedStatement(sql: "SELECT manifestDigest FROM tagHistory WHERE tagId = ? ORDER BY id DESC LIMIT 1"),
            arguments: [tagID]
        ).map { StoredRow(row: $0, table: "tagHistory") }
        if let latest, try latest.digest("manifestDigest") == reference.digest { return }
        try execute(
            """
            INSERT INTO tagHistory (tagId, manifestDigest, imageId, firstSeen, lastSeen, firstRunId, lastRunId)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            """,
            [
                tagID, reference.digest.description, imageID, stored(firstSeen), stored(lastSeen), lastRun.rawValue,
                lastRun.rawValue,
            ])
    }

    private func insertImportObservation(
        _ reference: ImportedReference, run: RunID, outcome: Outcome, previous: Digest?, servedBy: String
    ) throws -> Int64 {
        try execute(
            """
            INSERT INTO observation
                (runId, reference, repository, tag, requestedDigest, manifestDigest, mediaType, imageId, servedBy,
                 outcome, previousDigest, immutable, dryRun, bytesTransferred, durationMs, observedAt, bundleId)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 0, 0, 0, ?, ?)
            """,
            [
                run.rawValue, reference.reference.taggedLatestIfNameOnly().string, reference.reference.repository.name,
                try tagName(reference), reference.reference.digest?.description, reference.digest.description,
                reference.mediaType.rawValue, reference.imageID?.description, servedBy, outcome.rawValue,
                previous?.description, stored(now), bundle,
            ])
        let id = db.lastInsertedRowID
        try insertPlatforms(reference.platforms, observationID: id)
        return id
    }

    /// The index children an observation selected.
    func insertPlatforms(_ platforms: [PlatformManifest], observationID: Int64) throws {
        for (position, child) in platforms.enumerated() {
            try execute(
                """
                INSERT INTO observationPlatform (observationId, position, platform, manifestDigest, mediaType, imageId)
                VALUES (?, ?, ?, ?, ?, ?)
                """,
                [
                    observationID, position, PlatformKey.encode(child.platform), child.digest.description,
                    child.mediaType.rawValue, child.imageID.description,
                ])
        }
    }

    private func insertDrift(
        _ reference: ImportedReference, run: RunID, observationID: Int64, key: MappingKey, old: Digest, new: Digest,
        endpoint: String
    ) throws -> DriftEventRecord {
        try execute(
            """
            INSERT INTO driftEvent
                (runId, observationId, kind, reference, repository, digest, platform, oldValue, newValue, endpoint,
                 dryRun, occurredAt, bundleId)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?)
            """,
            [
                run.rawValue, observationID, DriftKind.imageIDDrift.rawValue,
                reference.reference.taggedLatestIfNameOnly().string, key.repository, key.digest.description,
                key.platform.isEmpty ? nil : key.platform, old.description, new.description, endpoint, stored(now),
                bundle,
            ])
        let id = db.lastInsertedRowID
        guard let event = try Queries.driftEvents(db, where: "WHERE id = ?", [id], cached: true).first else {
            throw StoredValueError(table: "driftEvent", reason: "event \(id) vanished after insert")
        }
        return event
    }
}

/// An error of a bundle's history source (reading the bundle description again), passed out of the
/// transaction as it is.
struct HistorySourceFailure: Error {
    let underlying: any Error
}
