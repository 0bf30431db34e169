import Foundation
internal import GRDB
import OCIModel

// The writes of ImportWriter: the import run, the exporting store's history, the references.

extension ImportWriter {
    func beginRun() throws -> RunID {
        for _ in 0..<32 {
            let id = RunID.make(startingAt: now)
            guard try Int.fetchOne(db, sql: "SELECT 1 FROM run WHERE id = ?", arguments: [id.rawValue]) == nil else {
                continue
            }
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

    /// Runs of the exporting store keep their IDs; one already here (imported by an earlier bundle) is kept. Rows
    /// that travelled through several sites are marked with the bundle that brought them here.
    func insertRuns() throws {
        for run in request.history.runs {
            let counts = run.counts
            try db.execute(
                literal: """
                    INSERT INTO run
                        (id, command, configFingerprint, toolVersion, dryRun, startedAt, finishedAt, status, exitStatus,
                         referenceCount, pulledCount, upToDateCount, updatedCount, failedCount, driftCount,
                         driftEventCount, bytesTransferred, bundleId)
                    VALUES (\(run.id.rawValue), \(run.command), \(run.configFingerprint), \(run.toolVersion),
                            \(run.dryRun), \(stored(run.startedAt)), \(stored(run.finishedAt)), \(run.status.rawValue),
                            \(run.exitStatus), \(counts.references), \(counts.pulled), \(counts.upToDate),
                            \(counts.updated), \(counts.failed), \(counts.drift), \(counts.driftEvents),
                            \(counts.bytesTransferred), \(bundle))
                    ON CONFLICT (id) DO NOTHING
                    """)
        }
    }

    /// Returns the local ID of every bundle observation; one imported before (same run and reference) is reused.
    func insertObservations() throws -> [Int64: Int64] {
        var ids: [Int64: Int64] = [:]
        for observation in request.history.observations {
            if let existing = try Int64.fetchOne(
                db, sql: "SELECT id FROM observation WHERE runId = ? AND reference = ? LIMIT 1",
                arguments: [observation.runID.rawValue, observation.reference])
            {
                ids[observation.id] = existing
                continue
            }
            try db.execute(
                literal: """
                    INSERT INTO observation
                        (runId, reference, repository, tag, requestedDigest, manifestDigest, mediaType, imageId,
                         servedBy, upstreamDigest, upstreamEndpoint, outcome, previousDigest, error, immutable,
                         dryRun, bytesTransferred, durationMs, observedAt, bundleId)
                    VALUES (\(observation.runID.rawValue), \(observation.reference), \(observation.repository),
                            \(observation.tag), \(observation.requestedDigest?.description),
                            \(observation.manifestDigest?.description), \(observation.mediaType?.rawValue),
                            \(observation.imageID?.description), \(observation.servedBy.map(Redaction.endpoint)),
                            \(observation.upstream?.digest.description),
                            \(observation.upstream.map { Redaction.endpoint($0.endpoint) }),
                            \(observation.outcome.rawValue), \(observation.previousDigest?.description),
                            \(observation.error.map(Redaction.freeText)), \(observation.immutable),
                            \(observation.dryRun), \(observation.bytesTransferred),
                            \(observation.durationMilliseconds), \(stored(observation.observedAt)),
                            \(bundle))
                    """)
            let id = db.lastInsertedRowID
            ids[observation.id] = id
            for (position, attempt) in observation.attempts.enumerated() {
                try db.execute(
                    literal: """
                        INSERT INTO observationAttempt (observationId, position, endpoint, error, fellBack)
                        VALUES (\(id), \(position), \(Redaction.endpoint(attempt.endpoint)),
                                \(Redaction.freeText(attempt.error)), \(attempt.fellBack))
                        """)
            }
            for (position, child) in observation.platforms.enumerated() {
                try db.execute(
                    literal: """
                        INSERT INTO observationPlatform
                            (observationId, position, platform, manifestDigest, mediaType, imageId)
                        VALUES (\(id), \(position), \(PlatformKey.encode(child.platform)),
                                \(child.digest.description), \(child.mediaType.rawValue),
                                \(child.imageID.description))
                        """)
            }
        }
        return ids
    }

    func insertDriftEvents(_ observationIDs: [Int64: Int64]) throws {
        for event in request.history.driftEvents {
            guard let observationID = observationIDs[event.observationID] else {
                throw invalid("drift event of \(event.reference) names an observation the bundle does not carry")
            }
            let platform = event.platform.map(PlatformKey.encode)
            let duplicate = try Int.fetchOne(
                db,
                sql: """
                    SELECT 1 FROM driftEvent WHERE runId = ? AND kind = ? AND reference = ? AND digest = ?
                        AND coalesce(platform, '') = ? AND oldValue = ? AND newValue = ? LIMIT 1
                    """,
                arguments: [
                    event.runID.rawValue, event.kind.rawValue, event.reference, event.digest.description,
                    platform ?? "", event.oldValue.description, event.newValue.description,
                ])
            guard duplicate == nil else { continue }
            try db.execute(
                literal: """
                    INSERT INTO driftEvent
                        (runId, observationId, kind, reference, repository, digest, platform, oldValue, newValue,
                         endpoint, upstreamEndpoint, dryRun, occurredAt, bundleId)
                    VALUES (\(event.runID.rawValue), \(observationID), \(event.kind.rawValue), \(event.reference),
                            \(event.repository), \(event.digest.description), \(platform),
                            \(event.oldValue.description), \(event.newValue.description),
                            \(Redaction.endpoint(event.endpoint)), \(event.upstreamEndpoint.map(Redaction.endpoint)),
                            \(event.dryRun), \(stored(event.occurredAt)), \(bundle))
                    """)
        }
    }

    func upsertRepository(_ name: String, run: RunID) throws -> Int64 {
        let parsed: RepositoryName
        do { parsed = try RepositoryName(parsing: name) } catch {
            throw invalid("\"\(name)\" is not a repository name")
        }
        let entry = entry(name)
        // The first run the exporting store recorded anything of this repository in, else the import itself.
        let firstRun =
            entry.flatMap { entry in
                (entry.tagHistory.map { ($0.firstSeen, $0.firstRunID) }
                    + entry.digests.map { ($0.firstSeen, $0.firstRunID) })
                    .min { $0.0 < $1.0 }?.1
            } ?? run
        let firstSeen = entry?.firstSeen ?? now
        try db.execute(
            literal: """
                INSERT INTO repository (name, domain, path, firstSeen, firstRunId)
                VALUES (\(name), \(parsed.domain), \(parsed.path), \(stored(firstSeen)), \(firstRun.rawValue))
                ON CONFLICT (name) DO UPDATE SET firstSeen = min(firstSeen, excluded.firstSeen)
                """)
        guard let id = try Int64.fetchOne(db, sql: "SELECT id FROM repository WHERE name = ?", arguments: [name]) else {
            throw StoredValueError(table: "repository", reason: "\(name) vanished after insert")
        }
        return id
    }

    /// Writes the bundle's mappings this store lacks; returns those that contradict a mapping already here.
    func insertHistoryMappings(
        _ repositoryIDs: [String: Int64]
    ) throws
        -> [MappingKey: (stored: Digest, bundle: Digest)]
    {
        var conflicts: [MappingKey: (stored: Digest, bundle: Digest)] = [:]
        for entry in request.history.repositories {
            guard let repositoryID = repositoryIDs[entry.repository] else { continue }
            for mapping in entry.digests {
                let key = MappingKey(
                    repository: entry.repository, digest: mapping.digest,
                    platform: mapping.platform.map(PlatformKey.encode) ?? "")
                if let stored = try storedImageID(key, repositoryID: repositoryID) {
                    if stored != mapping.imageID { conflicts[key] = (stored, mapping.imageID) }
                    continue
                }
                try db.execute(
                    literal: """
                        INSERT INTO digestMapping
                            (repositoryId, manifestDigest, platform, imageId, childDigest, mediaType, firstSeen,
                             firstRunId, servedBy)
                        VALUES (\(repositoryID), \(mapping.digest.description), \(key.platform),
                                \(mapping.imageID.description), \(mapping.childDigest?.description),
                                \(mapping.mediaType.rawValue), \(stored(mapping.firstSeen)),
                                \(mapping.firstRunID.rawValue),
                                \(Redaction.endpoint(mapping.servedBy)))
                        """)
            }
        }
        return conflicts
    }

    /// Adds the bundle's tag history stretches this store lacks (same tag, digest and first run) and extends
    /// those it has. Tags this store observed later than the bundle keep their own history.
    func mergeTagHistory(_ repositoryIDs: [String: Int64]) throws {
        let kept = Set(
            request.references.filter(\.keepsLocalTag).map {
                "\($0.reference.repository.name):\($0.reference.tag ?? ImageReference.defaultTag)"
            })
        for entry in request.history.repositories {
            guard let repositoryID = repositoryIDs[entry.repository] else { continue }
            for stretch in entry.tagHistory.sorted(by: { $0.firstSeen < $1.firstSeen })
            where !kept.contains("\(entry.repository):\(stretch.tag)") {
                let tagID = try ensureTag(stretch.tag, repositoryID: repositoryID, entry: entry)
                if let existing = try Int64.fetchOne(
                    db,
                    sql: "SELECT id FROM tagHistory WHERE tagId = ? AND manifestDigest = ? AND firstRunId = ?",
                    arguments: [tagID, stretch.manifestDigest.description, stretch.firstRunID.rawValue])
                {
                    try db.execute(
                        literal: """
                            UPDATE tagHistory
                            SET lastSeen = \(stored(stretch.lastSeen)), lastRunId = \(stretch.lastRunID.rawValue)
                            WHERE id = \(existing) AND lastSeen < \(stored(stretch.lastSeen))
                            """)
                } else {
                    try db.execute(
                        literal: """
                            INSERT INTO tagHistory
                                (tagId, manifestDigest, imageId, firstSeen, lastSeen, firstRunId, lastRunId)
                            VALUES (\(tagID), \(stretch.manifestDigest.description), \(stretch.imageID?.description),
                                    \(stored(stretch.firstSeen)), \(stored(stretch.lastSeen)),
                                    \(stretch.firstRunID.rawValue),
                                    \(stretch.lastRunID.rawValue))
                            """)
                }
            }
        }
    }

    /// The local tag row for a history stretch, created from the bundle's tag record when the tag is new here.
    func ensureTag(_ name: String, repositoryID: Int64, entry: InventoryEntry) throws -> Int64 {
        if let id = try Int64.fetchOne(
            db, sql: "SELECT id FROM tag WHERE repositoryId = ? AND name = ?", arguments: [repositoryID, name])
        {
            return id
        }
        guard let record = entry.tags.first(where: { $0.tag == name }) else {
            throw invalid("history of \(entry.repository):\(name) has no tag record")
        }
        try db.execute(
            literal: """
                INSERT INTO tag
                    (repositoryId, name, manifestDigest, mediaType, imageId, firstSeen, lastSeen, lastChecked, servedBy,
                     lastRunId, bundleId)
                VALUES (\(repositoryID), \(name), \(record.manifestDigest.description), \(record.mediaType.rawValue),
                        \(record.imageID?.description), \(stored(record.firstSeen)), \(stored(record.lastSeen)),
                        \(stored(record.lastChecked)),
                        \(Redaction.endpoint(record.servedBy)), \(record.lastRunID.rawValue), \(bundle))
                """)
        return db.lastInsertedRowID
    }

    /// Points the tag at the bundle's digest, with the exporting store's times and servedBy when it has them.
    func moveTag(
        _ name: String, _ reference: ImportedReference, repositoryID: Int64, servedBy: String, run: RunID
    ) throws {
        let record = try bundleTag(reference)
        let firstSeen = record?.firstSeen ?? now
        let lastSeen = record?.lastSeen ?? now
        let lastChecked = record?.lastChecked ?? now
        let lastRun = record?.lastRunID ?? run
        let imageID = (record?.imageID ?? reference.imageID)?.description
        try db.execute(
            literal: """
                INSERT INTO tag
                    (repositoryId, name, manifestDigest, mediaType, imageId, firstSeen, lastSeen, lastChecked, servedBy,
                     lastRunId, bundleId)
                VALUES (\(repositoryID), \(name), \(reference.digest.description), \(reference.mediaType.rawValue),
                        \(imageID), \(stored(firstSeen)), \(stored(lastSeen)), \(stored(lastChecked)), \(servedBy),
                        \(lastRun.rawValue),
                        \(bundle))
                ON CONFLICT (repositoryId, name) DO UPDATE SET
                    manifestDigest = excluded.manifestDigest, mediaType = excluded.mediaType,
                    imageId = excluded.imageId, firstSeen = min(firstSeen, excluded.firstSeen),
                    lastSeen = excluded.lastSeen, lastChecked = excluded.lastChecked, servedBy = excluded.servedBy,
                    lastRunId = excluded.lastRunId, bundleId = excluded.bundleId
                """)
        guard
            let tagID = try Int64.fetchOne(
                db, sql: "SELECT id FROM tag WHERE repositoryId = ? AND name = ?", arguments: [repositoryID, name])
        else { throw StoredValueError(table: "tag", reason: "\(name) vanished after upsert") }
        // The newest stretch must be the current digest, as record(_:) keeps it; the merged history usually
        // already ends with it.
        let latest = try Row.fetchOne(
            db, sql: "SELECT manifestDigest FROM tagHistory WHERE tagId = ? ORDER BY id DESC LIMIT 1",
            arguments: [tagID]
        ).map { StoredRow(row: $0, table: "tagHistory") }
        if let latest, try latest.digest("manifestDigest") == reference.digest { return }
        try db.execute(
            literal: """
                INSERT INTO tagHistory (tagId, manifestDigest, imageId, firstSeen, lastSeen, firstRunId, lastRunId)
                VALUES (\(tagID), \(reference.digest.description), \(imageID), \(stored(firstSeen)),
                        \(stored(lastSeen)),
                        \(lastRun.rawValue), \(lastRun.rawValue))
                """)
    }

    func insertImportObservation(
        _ reference: ImportedReference, run: RunID, outcome: Outcome, previous: Digest?, servedBy: String
    ) throws -> Int64 {
        let text = reference.reference.taggedLatestIfNameOnly().string
        try db.execute(
            literal: """
                INSERT INTO observation
                    (runId, reference, repository, tag, requestedDigest, manifestDigest, mediaType, imageId, servedBy,
                     outcome, previousDigest, immutable, dryRun, bytesTransferred, durationMs, observedAt, bundleId)
                VALUES (\(run.rawValue), \(text), \(reference.reference.repository.name),
                        \(try tagName(reference)), \(reference.reference.digest?.description),
                        \(reference.digest.description), \(reference.mediaType.rawValue),
                        \(reference.imageID?.description), \(servedBy), \(outcome.rawValue), \(previous?.description),
                        0, 0, 0, 0, \(stored(now)), \(bundle))
                """)
        let id = db.lastInsertedRowID
        for (position, child) in reference.platforms.enumerated() {
            try db.execute(
                literal: """
                    INSERT INTO observationPlatform
                        (observationId, position, platform, manifestDigest, mediaType, imageId)
                    VALUES (\(id), \(position), \(PlatformKey.encode(child.platform)), \(child.digest.description),
                            \(child.mediaType.rawValue), \(child.imageID.description))
                    """)
        }
        return id
    }

    func insertDrift(
        _ reference: ImportedReference, run: RunID, observationID: Int64, key: MappingKey, old: Digest, new: Digest,
        endpoint: String
    ) throws -> DriftEventRecord {
        try db.execute(
            literal: """
                INSERT INTO driftEvent
                    (runId, observationId, kind, reference, repository, digest, platform, oldValue, newValue, endpoint,
                     dryRun, occurredAt, bundleId)
                VALUES (\(run.rawValue), \(observationID), \(DriftKind.imageIDDrift.rawValue),
                        \(reference.reference.taggedLatestIfNameOnly().string), \(key.repository),
                        \(key.digest.description), \(key.platform.isEmpty ? nil : key.platform), \(old.description),
                        \(new.description), \(endpoint), 0, \(stored(now)), \(bundle))
                """)
        let id = db.lastInsertedRowID
        guard let event = try Queries.driftEvents(db, where: "WHERE id = ?", [id]).first else {
            throw StoredValueError(table: "driftEvent", reason: "event \(id) vanished after insert")
        }
        return event
    }
}
