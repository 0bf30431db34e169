import Foundation
internal import GRDB
import OCIModel

extension ReferenceStore {
    /// Records one reference's resolution in one transaction and returns the outcome the store computed.
    ///
    /// moby's reference-store rules (PULL-SEMANTICS.md §3): a tag always moves to what was observed; a
    /// `repository@digest[, platform]` mapping is written once and never overwritten, and a different image ID
    /// for it becomes an `image-id-drift` event while the old mapping stays. A failed or dry-run observation is
    /// stored as an observation only and leaves tags and digests alone.
    public func record(_ observation: Observation) async throws -> RecordResult {
        let path = path
        return try await write("record \(observation.referenceText)") { db in
            try Recorder(db: db, path: path, observation: observation).record()
        }
    }

    /// Records a batch of observations and pushes in one transaction, in order, with the rules of
    /// ``record(_:)``: a run commits (and flushes to disk) once per batch instead of once per reference. Either
    /// the whole batch is stored or, on any error, none of it.
    public func record(_ observations: [Observation], pushes: [PushRecording] = []) async throws -> [RecordResult] {
        guard !observations.isEmpty || !pushes.isEmpty else { return [] }
        let path = path
        let operation =
            observations.count == 1 && pushes.isEmpty
            ? "record \(observations[0].referenceText)"
            : "record \(observations.count) observations and \(pushes.count) pushes"
        return try await write(operation) { db in
            var results: [RecordResult] = []
            results.reserveCapacity(observations.count)
            for observation in observations {
                results.append(try Recorder(db: db, path: path, observation: observation).record())
            }
            for push in pushes { try PushWriter.insert(push, db) }
            return results
        }
    }
}

/// One `record` call's work, inside its transaction.
private struct Recorder {
    let db: Database
    let path: String
    let observation: Observation
    let reference: String
    let repository: String

    init(db: Database, path: String, observation: Observation) {
        self.db = db
        self.path = path
        self.observation = observation
        self.reference = observation.referenceText
        self.repository = observation.repository.name
    }

    private var run: String { observation.runID.rawValue }
    private var now: Date { observation.observedAt }

    // Statements are prepared once per connection and reused (GRDB's statement cache): a run records thousands
    // of observations, and compiling a dozen statements for each one would cost more than executing them.
    private func execute(_ sql: String, _ arguments: StatementArguments) throws {
        try db.cachedStatement(sql: sql).execute(arguments: arguments)
    }

    private func row(_ sql: String, _ arguments: StatementArguments) throws -> Row? {
        try Row.fetchOne(db.cachedStatement(sql: sql), arguments: arguments)
    }

    /// A mapping this observation implies.
    private struct Mapping {
        var digest: Digest
        var platform: Platform?
        var imageID: Digest
        var childDigest: Digest?
        var mediaType: MediaType
        var platformKey: String { platform.map(PlatformKey.encode) ?? "" }
    }

    /// A drift event before it has an observation to point to.
    private struct PendingDrift {
        var kind: DriftKind
        var digest: Digest
        var platform: Platform?
        var oldValue: Digest
        var newValue: Digest
        var endpoint: String
        var upstreamEndpoint: String?
    }

    private struct CurrentTag {
        var id: Int64
        var digest: Digest
    }

    func record() throws -> RecordResult {
        try checkRunIsOpen()
        let current = try observation.tag.flatMap { try currentTag($0) }
        switch observation.result {
        case .failed(let error):
            let id = try insertObservation(
                outcome: .failed, previous: current?.digest, manifest: nil, error: Redaction.freeText(error))
            return RecordResult(observationID: id, outcome: .failed, previousDigest: current?.digest, driftEvents: [])
        case .deferred(let reason, let retryAt):
            let id = try insertObservation(
                outcome: .deferred, previous: current?.digest, manifest: nil, error: Redaction.freeText(reason),
                retryAt: retryAt)
            return RecordResult(observationID: id, outcome: .deferred, previousDigest: current?.digest, driftEvents: [])
        case .notAsked:
            return try recordNotAsked(current: current)
        case .resolved(let manifest):
            return try record(manifest, current: current)
        }
    }

    /// A trusted tag that was not asked for: its observation repeats the tag's record, and nothing else changes
    /// (lastChecked keeps the time it was last asked, which `revalidate` measures).
    private func recordNotAsked(current: CurrentTag?) throws -> RecordResult {
        guard let current, observation.tag != nil else {
            throw LedgerError.invalidObservation(
                path: path, reference: reference, reason: "only a recorded tag can be left unasked")
        }
        let sql = "SELECT mediaType, imageId, servedBy FROM tag WHERE id = ?"
        guard let fetched = try row(sql, [current.id]) else {
            throw StoredValueError(table: "tag", reason: "\(reference) vanished")
        }
        let stored = StoredRow(row: fetched, table: "tag")
        let manifest = ResolvedManifest(
            digest: current.digest, mediaType: try stored.mediaType("mediaType"),
            imageID: try stored.optionalDigest("imageId"), servedBy: "store")
        let id = try insertObservation(
            outcome: .upToDate, previous: current.digest, manifest: manifest, error: nil, checked: false)
        return RecordResult(observationID: id, outcome: .upToDate, previousDigest: current.digest, driftEvents: [])
    }

    private func record(_ manifest: ResolvedManifest, current: CurrentTag?) throws -> RecordResult {
        try validate(manifest)
        let servedBy = Redaction.endpoint(manifest.servedBy)
        let repositoryID = try observation.dryRun ? existingRepositoryID() : upsertRepository()
        let digestWasKnown = try repositoryID.map { try isKnown(manifest.digest, in: $0) } ?? false

        var drifts: [PendingDrift] = []
        for mapping in mappings(of: manifest) {
            if let repositoryID, let stored = try storedImageID(mapping, in: repositoryID) {
                if stored != mapping.imageID {
                    drifts.append(
                        PendingDrift(
                            kind: .imageIDDrift, digest: mapping.digest, platform: mapping.platform, oldValue: stored,
                            newValue: mapping.imageID, endpoint: servedBy))
                }
            } else if let repositoryID, !observation.dryRun {
                try insert(mapping, in: repositoryID, servedBy: servedBy)
            }
        }

        var outcome: Outcome
        if let tag = observation.tag {
            if let current {
                outcome = current.digest == manifest.digest ? .upToDate : .updated
                if outcome == .updated, observation.immutable {
                    drifts.append(
                        PendingDrift(
                            kind: .tagMoved, digest: manifest.digest, oldValue: current.digest,
                            newValue: manifest.digest, endpoint: servedBy))
                }
            } else {
                outcome = .pulled
            }
            if let upstream = manifest.upstream, upstream.digest != manifest.digest,
                Redaction.endpoint(upstream.endpoint) != servedBy
            {
                drifts.append(
                    PendingDrift(
                        kind: .mirrorDivergence, digest: manifest.digest, oldValue: manifest.digest,
                        newValue: upstream.digest, endpoint: servedBy,
                        upstreamEndpoint: Redaction.endpoint(upstream.endpoint)))
            }
            if let repositoryID, !observation.dryRun {
                try moveTag(tag, to: manifest, servedBy: servedBy, current: current, in: repositoryID)
            }
        } else {
            outcome = digestWasKnown ? .upToDate : .pulled
        }
        // A referrer recorded for this manifest and not found again was removed upstream (a revoked signature).
        let referrers = ReferrerWriter(db: db, run: run, now: now, repository: repository, image: manifest.digest)
        var removedReferrers: [Referrer] = []
        if let found = manifest.referrers, !observation.dryRun {
            removedReferrers = try referrers.removed(found, types: manifest.referrerTypes)
            for gone in removedReferrers {
                drifts.append(
                    PendingDrift(
                        kind: .referrerRemoved, digest: gone.subject, oldValue: gone.digest, newValue: gone.subject,
                        endpoint: servedBy))
            }
        }
        if !drifts.isEmpty { outcome = .drift }

        let observationID = try insertObservation(
            outcome: outcome, previous: current?.digest, manifest: manifest, error: nil)
        if let found = manifest.referrers, !observation.dryRun {
            try referrers.record(found, removed: removedReferrers, observationID: observationID)
        }
        let events = try drifts.map { try insert($0, observationID: observationID) }
        return RecordResult(
            observationID: observationID, outcome: outcome, previousDigest: current?.digest, driftEvents: events)
    }

    // MARK: Checks

    private func checkRunIsOpen() throws {
        guard let status = try String.fetchOne(db.cachedStatement(sql: "SELECT status FROM run WHERE id = ?"), arguments: [run])
        else {
            throw LedgerError.unknownRun(path: path, run: observation.runID)
        }
        guard status == RunStatus.running.rawValue else {
            throw LedgerError.runFinished(path: path, run: observation.runID)
        }
    }

    private func validate(_ manifest: ResolvedManifest) throws {
        func invalid(_ reason: String) -> LedgerError {
            LedgerError.invalidObservation(path: path, reference: reference, reason: reason)
        }
        if let requested = observation.requestedDigest, requested != manifest.digest {
            throw invalid("resolved \(manifest.digest), but the reference pins \(requested)")
        }
        // A dry run resolves with one HEAD and fetches no config, so it cannot know the image ID.
        if manifest.platforms.isEmpty, manifest.imageID == nil, !observation.dryRun {
            throw invalid("\(manifest.digest) has neither an image ID nor index children")
        }
        var seen: Set<String> = []
        for child in manifest.platforms {
            let key = PlatformKey.encode(child.platform)
            guard seen.insert(key).inserted else {
                throw invalid("platform \(key) is listed twice in \(manifest.digest)")
            }
        }
        if repository.isEmpty || observation.repository.domain.isEmpty {
            throw invalid("the repository has no registry domain")
        }
    }

    // MARK: Reads

    private func currentTag(_ tag: String) throws -> CurrentTag? {
        let sql = """
            SELECT tag.id, tag.manifestDigest FROM tag JOIN repository ON repository.id = tag.repositoryId
            WHERE repository.name = ? AND tag.name = ?
            """
        guard let row = try row(sql, [repository, tag]) else { return nil }
        let stored = StoredRow(row: row, table: "tag")
        return CurrentTag(id: try stored.int64("id"), digest: try stored.digest("manifestDigest"))
    }

    private func existingRepositoryID() throws -> Int64? {
        try Int64.fetchOne(db.cachedStatement(sql: "SELECT id FROM repository WHERE name = ?"), arguments: [repository])
    }

    private func isKnown(_ digest: Digest, in repositoryID: Int64) throws -> Bool {
        let sql = "SELECT 1 FROM digestMapping WHERE repositoryId = ? AND manifestDigest = ? LIMIT 1"
        return try Int.fetchOne(db.cachedStatement(sql: sql), arguments: [repositoryID, digest.description]) != nil
    }

    private func storedImageID(_ mapping: Mapping, in repositoryID: Int64) throws -> Digest? {
        let sql = "SELECT imageId FROM digestMapping WHERE repositoryId = ? AND manifestDigest = ? AND platform = ?"
        let arguments: StatementArguments = [repositoryID, mapping.digest.description, mapping.platformKey]
        guard let row = try row(sql, arguments) else { return nil }
        return try StoredRow(row: row, table: "digestMapping").digest("imageId")
    }

    /// An image manifest maps itself; an index maps itself per selected platform, and each child maps itself.
    private func mappings(of manifest: ResolvedManifest) -> [Mapping] {
        guard !manifest.platforms.isEmpty else {
            guard let imageID = manifest.imageID else { return [] }
            return [Mapping(digest: manifest.digest, imageID: imageID, mediaType: manifest.mediaType)]
        }
        return manifest.platforms.flatMap { child in
            [
                Mapping(
                    digest: manifest.digest, platform: child.platform.normalized(), imageID: child.imageID,
                    childDigest: child.digest, mediaType: manifest.mediaType),
                Mapping(digest: child.digest, imageID: child.imageID, mediaType: child.mediaType),
            ]
        }
    }

    // MARK: Writes

    private func upsertRepository() throws -> Int64 {
        let name = observation.repository
        if let id = try existingRepositoryID() { return id }
        try execute(
            """
            INSERT INTO repository (name, domain, path, firstSeen, firstRunId) VALUES (?, ?, ?, ?, ?)
            ON CONFLICT (name) DO NOTHING
            """, [repository, name.domain, name.path, now, run])
        guard let id = try existingRepositoryID() else {
            throw StoredValueError(table: "repository", reason: "\(repository) vanished after insert")
        }
        return id
    }

    private func insert(_ mapping: Mapping, in repositoryID: Int64, servedBy: String) throws {
        // A child shared by two selected platforms, or listed as its own mapping, arrives twice: first one wins.
        try execute(
            """
            INSERT INTO digestMapping
                (repositoryId, manifestDigest, platform, imageId, childDigest, mediaType, firstSeen, firstRunId,
                 servedBy)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (repositoryId, manifestDigest, platform) DO NOTHING
            """,
            [
                repositoryID, mapping.digest.description, mapping.platformKey, mapping.imageID.description,
                mapping.childDigest?.description, mapping.mediaType.rawValue, now, run, servedBy,
            ])
    }

    private func moveTag(
        _ tag: String, to manifest: ResolvedManifest, servedBy: String, current: CurrentTag?, in repositoryID: Int64
    ) throws {
        let imageID = manifest.imageID?.description
        // Tags always move, like moby's AddTag(force: true); first seen survives the move.
        try execute(
            """
            INSERT INTO tag
                (repositoryId, name, manifestDigest, mediaType, imageId, firstSeen, lastSeen, lastChecked,
                 servedBy, lastRunId)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (repositoryId, name) DO UPDATE SET
                manifestDigest = excluded.manifestDigest, mediaType = excluded.mediaType,
                imageId = excluded.imageId, lastSeen = excluded.lastSeen, lastChecked = excluded.lastChecked,
                servedBy = excluded.servedBy, lastRunId = excluded.lastRunId, bundleId = NULL
            """,
            [
                repositoryID, tag, manifest.digest.description, manifest.mediaType.rawValue, imageID, now, now, now,
                servedBy, run,
            ])
        let tagID =
            try current?.id
            ?? Int64.fetchOne(
                db.cachedStatement(sql: "SELECT id FROM tag WHERE repositoryId = ? AND name = ?"),
                arguments: [repositoryID, tag])
        guard let tagID else { throw StoredValueError(table: "tag", reason: "\(reference) vanished after upsert") }

        let latest = try row(
            "SELECT id, manifestDigest FROM tagHistory WHERE tagId = ? ORDER BY id DESC LIMIT 1", [tagID]
        ).map { StoredRow(row: $0, table: "tagHistory") }
        if let latest, try latest.digest("manifestDigest") == manifest.digest {
            try execute(
                "UPDATE tagHistory SET lastSeen = ?, lastRunId = ? WHERE id = ?", [now, run, try latest.int64("id")])
        } else {
            try execute(
                """
                INSERT INTO tagHistory (tagId, manifestDigest, imageId, firstSeen, lastSeen, firstRunId, lastRunId)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """, [tagID, manifest.digest.description, imageID, now, now, run, run])
        }
    }

    private func insertObservation(
        outcome: Outcome, previous: Digest?, manifest: ResolvedManifest?, error: String?, checked: Bool = true,
        retryAt: Date? = nil
    ) throws -> Int64 {
        let milliseconds =
            observation.duration.components.seconds * 1000
            + observation.duration.components.attoseconds / 1_000_000_000_000_000
        try execute(
            """
            INSERT INTO observation
                (runId, reference, repository, tag, requestedDigest, manifestDigest, mediaType, imageId, servedBy,
                 upstreamDigest, upstreamEndpoint, outcome, previousDigest, error, immutable, dryRun,
                 bytesTransferred, durationMs, observedAt, checked, retryAt)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            [
                run, reference, repository, observation.tag, observation.requestedDigest?.description,
                manifest?.digest.description, manifest?.mediaType.rawValue, manifest?.imageID?.description,
                manifest.map { Redaction.endpoint($0.servedBy) }, manifest?.upstream?.digest.description,
                manifest?.upstream.map { Redaction.endpoint($0.endpoint) }, outcome.rawValue, previous?.description,
                error, observation.immutable, observation.dryRun, observation.bytesTransferred, milliseconds, now,
                checked, retryAt,
            ])
        let id = db.lastInsertedRowID
        for (position, attempt) in observation.attempts.enumerated() {
            try execute(
                "INSERT INTO observationAttempt (observationId, position, endpoint, error, fellBack) VALUES (?, ?, ?, ?, ?)",
                [
                    id, position, Redaction.endpoint(attempt.endpoint), Redaction.freeText(attempt.error),
                    attempt.fellBack,
                ])
        }
        for (position, child) in (manifest?.platforms ?? []).enumerated() {
            try execute(
                """
                INSERT INTO observationPlatform (observationId, position, platform, manifestDigest, mediaType, imageId)
                VALUES (?, ?, ?, ?, ?, ?)
                """,
                [
                    id, position, PlatformKey.encode(child.platform), child.digest.description,
                    child.mediaType.rawValue, child.imageID.description,
                ])
        }
        return id
    }

    private func insert(_ drift: PendingDrift, observationID: Int64) throws -> DriftEventRecord {
        try db.execute(
            literal: """
                INSERT INTO driftEvent
                    (runId, observationId, kind, reference, repository, digest, platform, oldValue, newValue, endpoint,
                     upstreamEndpoint, dryRun, occurredAt)
                VALUES (\(run), \(observationID), \(drift.kind.rawValue), \(reference), \(repository),
                        \(drift.digest.description), \(drift.platform.map(PlatformKey.encode)),
                        \(drift.oldValue.description), \(drift.newValue.description), \(drift.endpoint),
                        \(drift.upstreamEndpoint), \(observation.dryRun), \(now))
                """)
        // Read back so the caller sees exactly what later queries return (times at the stored precision).
        let id = db.lastInsertedRowID
        guard let event = try Queries.driftEvents(db, where: "WHERE id = ?", [id]).first else {
            throw StoredValueError(table: "driftEvent", reason: "event \(id) vanished after insert")
        }
        return event
    }
}
