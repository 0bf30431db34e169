import Foundation
internal import GRDB
import OCIModel

/// One ``ReferenceStore/recordImport(_:)`` call's work, inside its transaction.
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

    struct LocalTag {
        var id: Int64
        var digest: Digest
    }

    func invalid(_ reason: String) -> LedgerError {
        LedgerError.invalidBundleHistory(path: path, bundle: request.bundleID, reason: reason)
    }

    func write() throws -> BundleImportResult {
        if try Int.fetchOne(db, sql: "SELECT 1 FROM bundleImport WHERE id = ?", arguments: [bundle]) != nil {
            throw LedgerError.bundleAlreadyImported(path: path, bundle: request.bundleID)
        }
        try validate()
        let run = try beginRun()
        // Decided before anything is written, so that outcomes compare with the store as it was.
        var before: [(tag: LocalTag?, digestKnown: Bool)] = []
        for reference in request.references {
            let repository = reference.reference.repository.name
            let tag = try tagName(reference).flatMap { try localTag(repository: repository, name: $0) }
            let known =
                try Int.fetchOne(
                    db,
                    sql: """
                        SELECT 1 FROM digestMapping d JOIN repository r ON r.id = d.repositoryId
                        WHERE r.name = ? AND d.manifestDigest = ? LIMIT 1
                        """,
                    arguments: [repository, reference.digest.description]) != nil
            before.append((tag, known))
        }

        try insertRuns()
        let observationIDs = try insertObservations()
        try insertDriftEvents(observationIDs)
        var repositoryIDs: [String: Int64] = [:]
        for name in repositoryNames() { repositoryIDs[name] = try upsertRepository(name, run: run) }
        let conflicts = try insertHistoryMappings(repositoryIDs)
        try mergeTagHistory(repositoryIDs)

        var rows: [BundleImportResult.Row] = []
        var events: [DriftEventRecord] = []
        var raised = Set<MappingKey>()
        for (reference, state) in zip(request.references, before) {
            let repository = reference.reference.repository.name
            guard let repositoryID = repositoryIDs[repository] else {
                throw invalid("repository \(repository) vanished")
            }
            let servedBy = servedBy(reference)
            var drifts: [(MappingKey, Digest, Digest)] = []
            for mapping in impliedMappings(reference) {
                let key = MappingKey(repository: repository, digest: mapping.digest, platform: mapping.platformKey)
                if let stored = try storedImageID(key, repositoryID: repositoryID) {
                    if stored != mapping.imageID, raised.insert(key).inserted {
                        drifts.append((key, stored, mapping.imageID))
                    }
                } else {
                    try db.execute(
                        literal: """
                            INSERT INTO digestMapping
                                (repositoryId, manifestDigest, platform, imageId, childDigest, mediaType, firstSeen,
                                 firstRunId, servedBy)
                            VALUES (\(repositoryID), \(mapping.digest.description), \(mapping.platformKey),
                                    \(mapping.imageID.description), \(mapping.childDigest?.description),
                                    \(mapping.mediaType.rawValue), \(stored(now)), \(run.rawValue), \(servedBy))
                            """)
                }
            }
            for (key, conflict) in conflicts
            where key.repository == repository && isPart(key.digest, of: reference) && raised.insert(key).inserted {
                drifts.append((key, conflict.stored, conflict.bundle))
            }

            var outcome: Outcome
            if let tag = try tagName(reference) {
                if let local = state.tag {
                    outcome = local.digest == reference.digest || reference.keepsLocalTag ? .upToDate : .updated
                } else {
                    outcome = .pulled
                }
                if !reference.keepsLocalTag {
                    try moveTag(tag, reference, repositoryID: repositoryID, servedBy: servedBy, run: run)
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

    // MARK: Checks

    /// Foreign keys would catch most of this, but with SQLite's text and no hint of which record was wrong.
    func validate() throws {
        let runs = Set(request.history.runs.map(\.id))
        func needRun(_ id: RunID, _ what: String) throws {
            guard runs.contains(id) else { throw invalid("\(what) names run \(id), which the bundle does not carry") }
        }
        for entry in request.history.repositories {
            guard (try? RepositoryName(parsing: entry.repository)) != nil else {
                throw invalid("\"\(entry.repository)\" is not a repository name")
            }
            for tag in entry.tags { try needRun(tag.lastRunID, "tag \(entry.repository):\(tag.tag)") }
            for stretch in entry.tagHistory {
                try needRun(stretch.firstRunID, "history of \(entry.repository):\(stretch.tag)")
                try needRun(stretch.lastRunID, "history of \(entry.repository):\(stretch.tag)")
            }
            for mapping in entry.digests {
                try needRun(mapping.firstRunID, "mapping \(entry.repository)@\(mapping.digest)")
            }
        }
        for observation in request.history.observations {
            try needRun(observation.runID, "observation of \(observation.reference)")
        }
        let observations = Set(request.history.observations.map(\.id))
        for event in request.history.driftEvents {
            try needRun(event.runID, "drift event of \(event.reference)")
            guard observations.contains(event.observationID) else {
                throw invalid(
                    "drift event of \(event.reference) names observation \(event.observationID), "
                        + "which the bundle does not carry"
                )
            }
        }
    }

    // MARK: Reads

    func tagName(_ reference: ImportedReference) throws -> String? {
        reference.reference.digest == nil ? (reference.reference.tag ?? ImageReference.defaultTag) : nil
    }

    func localTag(repository: String, name: String) throws -> LocalTag? {
        let sql = """
            SELECT tag.id, tag.manifestDigest FROM tag JOIN repository ON repository.id = tag.repositoryId
            WHERE repository.name = ? AND tag.name = ?
            """
        guard let fetched = try Row.fetchOne(db, sql: sql, arguments: [repository, name]) else { return nil }
        let row = StoredRow(row: fetched, table: "tag")
        return LocalTag(id: try row.int64("id"), digest: try row.digest("manifestDigest"))
    }

    func storedImageID(_ key: MappingKey, repositoryID: Int64) throws -> Digest? {
        let sql = "SELECT imageId FROM digestMapping WHERE repositoryId = ? AND manifestDigest = ? AND platform = ?"
        guard
            let fetched = try Row.fetchOne(
                db, sql: sql, arguments: [repositoryID, key.digest.description, key.platform])
        else { return nil }
        return try StoredRow(row: fetched, table: "digestMapping").digest("imageId")
    }

    func entry(_ repository: String) -> InventoryEntry? {
        request.history.repositories.first { $0.repository == repository }
    }

    /// The exporting store's current record of the reference's tag, when it agrees with the bundle's digest.
    func bundleTag(_ reference: ImportedReference) throws -> TagRecord? {
        guard let name = try tagName(reference) else { return nil }
        return entry(reference.reference.repository.name)?.tags.first {
            $0.tag == name && $0.manifestDigest == reference.digest
        }
    }

    /// Where the exporting store got the reference: its tag's servedBy, else its digest mapping's.
    func servedBy(_ reference: ImportedReference) -> String {
        if let tag = try? bundleTag(reference) { return Redaction.endpoint(tag.servedBy) }
        if let mapping = entry(reference.reference.repository.name)?.digests.first(where: {
            $0.digest == reference.digest
        }) {
            return Redaction.endpoint(mapping.servedBy)
        }
        return bundleEndpoint
    }

    struct Mapping {
        var digest: Digest
        var platformKey: String
        var imageID: Digest
        var childDigest: Digest?
        var mediaType: MediaType
    }

    /// The same mappings ``ReferenceStore/record(_:)`` writes for a resolved manifest.
    func impliedMappings(_ reference: ImportedReference) -> [Mapping] {
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

    func isPart(_ digest: Digest, of reference: ImportedReference) -> Bool {
        digest == reference.digest || reference.platforms.contains { $0.digest == digest }
    }

    func repositoryNames() -> [String] {
        var names: [String] = []
        for name in request.history.repositories.map(\.repository) + request.references.map(\.reference.repository.name)
        where !names.contains(name) {
            names.append(name)
        }
        return names
    }
}
