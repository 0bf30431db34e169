import Foundation
internal import GRDB
import OCIModel

/// What an import needs of a bundle's history besides the records it writes, gathered in one pass that also checks
/// the history: the runs (written first, since every other record names one), and for each reference what the
/// exporting store recorded of its tag and where its digest mapping came from. Only what the references ask for is
/// kept, keyed by the request's own strings, with the few distinct endpoints and run IDs kept once: at 20,000
/// references, whole tag records were 10 MB.
struct ImportedHistoryIndex {
    /// What moving a tag takes from the exporting store's record of it.
    struct BundleTag {
        var firstSeen: Date
        var lastSeen: Date
        var lastChecked: Date
        var lastRunID: RunID
        var imageID: Digest?
        var servedBy: String
    }

    /// Every run the history carries, in its order.
    let runs: [RunRecord]
    private let tags: [TagKey: BundleTag]
    private let servedBy: [ImportWriter.RepositoryDigest: String]

    private struct TagKey: Hashable {
        var repository: String
        var tag: String
        var digest: Digest
    }

    /// Reads `writer`'s history once; throws ``LedgerError/invalidBundleHistory(path:bundle:reason:)`` for a
    /// history that names a run or observation it does not carry, or a repository by a name that is none.
    init(_ writer: ImportWriter) throws {
        var wantedTags = Set<TagKey>()
        var wantedDigests = Set<ImportWriter.RepositoryDigest>()
        for reference in writer.request.references {
            let repository = reference.reference.repository.name
            if let tag = try writer.tagName(reference) {
                wantedTags.insert(TagKey(repository: repository, tag: tag, digest: reference.digest))
            }
            wantedDigests.insert(ImportWriter.RepositoryDigest(repository: repository, digest: reference.digest))
        }
        var runs: [RunRecord] = []
        var tags: [TagKey: BundleTag] = [:]
        var servedBy: [ImportWriter.RepositoryDigest: String] = [:]
        var endpoints: [String: String] = [:]
        var runIDs: [RunID: RunID] = [:]
        func once(_ endpoint: String) -> String {
            if let known = endpoints[endpoint] { return known }
            endpoints[endpoint] = endpoint
            return endpoint
        }
        func once(_ run: RunID) -> RunID {
            if let known = runIDs[run] { return known }
            runIDs[run] = run
            return run
        }
        var check = HistoryCheck()
        // A lookup by repository name finds the first entry of that name; later ones (a hand-made bundle) count
        // for nothing here.
        var entries = Set<String>()
        try writer.pass(.all) { record in
            check.add(record)
            switch record {
            case .run(let run):
                runs.append(run)
            case .repository(let entry):
                guard entries.insert(entry.repository).inserted else { return }
                for tag in entry.tags {
                    let found = TagKey(repository: entry.repository, tag: tag.tag, digest: tag.manifestDigest)
                    guard let position = wantedTags.firstIndex(of: found) else { continue }
                    let key = wantedTags[position]
                    guard tags[key] == nil else { continue }
                    tags[key] = BundleTag(
                        firstSeen: tag.firstSeen, lastSeen: tag.lastSeen, lastChecked: tag.lastChecked,
                        lastRunID: once(tag.lastRunID), imageID: tag.imageID, servedBy: once(tag.servedBy))
                }
                for mapping in entry.digests {
                    let found = ImportWriter.RepositoryDigest(repository: entry.repository, digest: mapping.digest)
                    guard let position = wantedDigests.firstIndex(of: found) else { continue }
                    let key = wantedDigests[position]
                    if servedBy[key] == nil { servedBy[key] = once(mapping.servedBy) }
                }
            case .observation, .driftEvent:
                break
            }
        }
        if let failure = check.failure { throw writer.invalid(failure) }
        self.runs = runs
        self.tags = tags
        self.servedBy = servedBy
    }

    /// The exporting store's record of the reference's tag, when it points to the reference's digest.
    func tag(of reference: ImportedReference) -> BundleTag? {
        guard reference.reference.digest == nil else { return nil }
        let tag = reference.reference.tag ?? ImageReference.defaultTag
        return tags[TagKey(repository: reference.reference.repository.name, tag: tag, digest: reference.digest)]
    }

    /// The served-by of the exporting store's first mapping of the reference's digest.
    func servedBy(of reference: ImportedReference) -> String? {
        servedBy[
            ImportWriter.RepositoryDigest(repository: reference.reference.repository.name, digest: reference.digest)]
    }
}

/// The checks foreign keys would make too, but with SQLite's text and no hint of which record was wrong: every run
/// and observation a record names must be in the bundle, and every repository name must be one.
///
/// Records come in any order (runs last, in a bundle ferry wrote), so a check waits for the end; the failure
/// reported is the first in the order repositories, observations, drift events, each in the bundle's order.
struct HistoryCheck {
    private struct Position: Comparable {
        var list: Int
        var record: Int
        var step: Int

        static func < (lhs: Position, rhs: Position) -> Bool {
            (lhs.list, lhs.record, lhs.step) < (rhs.list, rhs.record, rhs.step)
        }
    }

    private var records = [0, 0, 0]
    private var carriedRuns = Set<RunID>()
    private var carriedObservations = Set<Int64>()
    /// The first record naming each run, with what to call it.
    private var neededRuns: [RunID: (Position, String)] = [:]
    /// The first drift event naming each observation, with the whole message.
    private var neededObservations: [Int64: (Position, String)] = [:]
    private var badName: (Position, String)?

    mutating func add(_ record: LedgerHistoryRecord) {
        switch record {
        case .run(let run):
            carriedRuns.insert(run.id)
        case .repository(let entry):
            var position = next(0)
            if (try? RepositoryName(parsing: entry.repository)) == nil, badName == nil {
                badName = (position, "\"\(entry.repository)\" is not a repository name")
            }
            func need(_ run: RunID, _ what: String) {
                position.step += 1
                needRun(run, what, at: position)
            }
            for tag in entry.tags { need(tag.lastRunID, "tag \(entry.repository):\(tag.tag)") }
            for stretch in entry.tagHistory {
                need(stretch.firstRunID, "history of \(entry.repository):\(stretch.tag)")
                need(stretch.lastRunID, "history of \(entry.repository):\(stretch.tag)")
            }
            for mapping in entry.digests { need(mapping.firstRunID, "mapping \(entry.repository)@\(mapping.digest)") }
        case .observation(let observation):
            carriedObservations.insert(observation.id)
            needRun(observation.runID, "observation of \(observation.reference)", at: next(1))
        case .driftEvent(let event):
            var position = next(2)
            needRun(event.runID, "drift event of \(event.reference)", at: position)
            position.step += 1
            if neededObservations[event.observationID] == nil {
                neededObservations[event.observationID] = (
                    position,
                    "drift event of \(event.reference) names observation \(event.observationID), "
                        + "which the bundle does not carry"
                )
            }
        }
    }

    /// The first failed check, once every record was added.
    var failure: String? {
        var failures: [(Position, String)] = badName.map { [$0] } ?? []
        for (run, need) in neededRuns where !carriedRuns.contains(run) {
            failures.append((need.0, "\(need.1) names run \(run), which the bundle does not carry"))
        }
        for (id, need) in neededObservations where !carriedObservations.contains(id) { failures.append(need) }
        return failures.min { $0.0 < $1.0 }?.1
    }

    private mutating func next(_ list: Int) -> Position {
        defer { records[list] += 1 }
        return Position(list: list, record: records[list], step: 0)
    }

    private mutating func needRun(_ run: RunID, _ what: String, at position: Position) {
        if let known = neededRuns[run], known.0 < position { return }
        neededRuns[run] = (position, what)
    }
}

extension ImportWriter {
    /// A bundle mapping that contradicts one this store has.
    struct Conflict {
        var key: MappingKey
        var stored: Digest
        var bundle: Digest
    }

    /// What merging the history left for the references: repository IDs, and the contradicting mappings by
    /// repository and digest.
    struct MergedHistory {
        var repositoryIDs: [String: Int64] = [:]
        var conflicts: [RepositoryDigest: [Conflict]] = [:]
    }

    /// Runs of the exporting store keep their IDs; one already here (imported by an earlier bundle) is kept. Rows
    /// that travelled through several sites are marked with the bundle that brought them here.
    func insertRuns(_ runs: [RunRecord]) throws {
        for run in runs {
            let counts = run.counts
            try execute(
                """
                INSERT INTO run
                    (id, command, configFingerprint, toolVersion, dryRun, startedAt, finishedAt, status, exitStatus,
                     referenceCount, pulledCount, upToDateCount, updatedCount, failedCount, driftCount,
                     driftEventCount, bytesTransferred, bundleId)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (id) DO NOTHING
                """,
                [
                    run.id.rawValue, run.command, run.configFingerprint, run.toolVersion, run.dryRun,
                    stored(run.startedAt), stored(run.finishedAt), run.status.rawValue, run.exitStatus,
                    counts.references, counts.pulled, counts.upToDate, counts.updated, counts.failed, counts.drift,
                    counts.driftEvents, counts.bytesTransferred, bundle,
                ])
        }
    }

    /// Returns the local ID of every bundle observation; one imported before (same run and reference) is reused.
    func insertObservations() throws -> [Int64: Int64] {
        var ids: [Int64: Int64] = [:]
        try pass(.observations) { record in
            guard case .observation(let observation) = record else { return }
            if let existing = try fetchInt64(
                "SELECT id FROM observation WHERE runId = ? AND reference = ? LIMIT 1",
                [observation.runID.rawValue, observation.reference])
            {
                ids[observation.id] = existing
                return
            }
            try execute(
                """
                INSERT INTO observation
                    (runId, reference, repository, tag, requestedDigest, manifestDigest, mediaType, imageId,
                     servedBy, upstreamDigest, upstreamEndpoint, outcome, previousDigest, error, immutable,
                     dryRun, bytesTransferred, durationMs, observedAt, bundleId)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
                [
                    observation.runID.rawValue, observation.reference, observation.repository, observation.tag,
                    observation.requestedDigest?.description, observation.manifestDigest?.description,
                    observation.mediaType?.rawValue, observation.imageID?.description,
                    observation.servedBy.map(Redaction.endpoint), observation.upstream?.digest.description,
                    observation.upstream.map { Redaction.endpoint($0.endpoint) }, observation.outcome.rawValue,
                    observation.previousDigest?.description, observation.error.map(Redaction.freeText),
                    observation.immutable, observation.dryRun, observation.bytesTransferred,
                    observation.durationMilliseconds, stored(observation.observedAt), bundle,
                ])
            let id = db.lastInsertedRowID
            ids[observation.id] = id
            for (position, attempt) in observation.attempts.enumerated() {
                try execute(
                    """
                    INSERT INTO observationAttempt (observationId, position, endpoint, error, fellBack)
                    VALUES (?, ?, ?, ?, ?)
                    """,
                    [
                        id, position, Redaction.endpoint(attempt.endpoint), Redaction.freeText(attempt.error),
                        attempt.fellBack,
                    ])
            }
            try insertPlatforms(observation.platforms, observationID: id)
        }
        return ids
    }

    /// The drift events and repositories of the history: events this store lacks, repositories, the mappings it
    /// lacks (those contradicting its own are returned, to be raised as drift by the references they belong to),
    /// and tag history.
    func mergeHistory(observationIDs: [Int64: Int64], run: RunID) throws -> MergedHistory {
        let kept = Set(
            request.references.filter(\.keepsLocalTag).map {
                "\($0.reference.repository.name):\($0.reference.tag ?? ImageReference.defaultTag)"
            })
        var merged = MergedHistory()
        try pass([.driftEvents, .repositories]) { record in
            switch record {
            case .driftEvent(let event):
                try insertDriftEvent(event, observationIDs: observationIDs)
            case .repository(let entry):
                let repositoryID: Int64
                if let known = merged.repositoryIDs[entry.repository] {
                    repositoryID = known
                } else {
                    repositoryID = try upsertRepository(entry.repository, entry: entry, run: run)
                    merged.repositoryIDs[entry.repository] = repositoryID
                }
                try insertHistoryMappings(entry, repositoryID: repositoryID, conflicts: &merged.conflicts)
                try mergeTagHistory(entry, repositoryID: repositoryID, kept: kept)
            case .observation, .run:
                break
            }
        }
        return merged
    }

    private func insertDriftEvent(_ event: DriftEventRecord, observationIDs: [Int64: Int64]) throws {
        guard let observationID = observationIDs[event.observationID] else {
            throw invalid("drift event of \(event.reference) names an observation the bundle does not carry")
        }
        let platform = event.platform.map(PlatformKey.encode)
        let duplicate = try fetchInt64(
            """
            SELECT 1 FROM driftEvent WHERE runId = ? AND kind = ? AND reference = ? AND digest = ?
                AND coalesce(platform, '') = ? AND oldValue = ? AND newValue = ? LIMIT 1
            """,
            [
                event.runID.rawValue, event.kind.rawValue, event.reference, event.digest.description, platform ?? "",
                event.oldValue.description, event.newValue.description,
            ])
        guard duplicate == nil else { return }
        try execute(
            """
            INSERT INTO driftEvent
                (runId, observationId, kind, reference, repository, digest, platform, oldValue, newValue,
                 endpoint, upstreamEndpoint, dryRun, occurredAt, bundleId)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            [
                event.runID.rawValue, observationID, event.kind.rawValue, event.reference, event.repository,
                event.digest.description, platform, event.oldValue.description, event.newValue.description,
                Redaction.endpoint(event.endpoint), event.upstreamEndpoint.map(Redaction.endpoint), event.dryRun,
                stored(event.occurredAt), bundle,
            ])
    }

    /// The repository row, created with the exporting store's first sighting when `entry` has one.
    func upsertRepository(_ name: String, entry: InventoryEntry?, run: RunID) throws -> Int64 {
        let parsed: RepositoryName
        do { parsed = try RepositoryName(parsing: name) } catch {
            throw invalid("\"\(name)\" is not a repository name")
        }
        // The first run the exporting store recorded anything of this repository in, else the import itself.
        let firstRun =
            entry.flatMap { entry in
                (entry.tagHistory.map { ($0.firstSeen, $0.firstRunID) }
                    + entry.digests.map { ($0.firstSeen, $0.firstRunID) })
                    .min { $0.0 < $1.0 }?.1
            } ?? run
        let firstSeen = entry?.firstSeen ?? now
        try execute(
            """
            INSERT INTO repository (name, domain, path, firstSeen, firstRunId) VALUES (?, ?, ?, ?, ?)
            ON CONFLICT (name) DO UPDATE SET firstSeen = min(firstSeen, excluded.firstSeen)
            """, [name, parsed.domain, parsed.path, stored(firstSeen), firstRun.rawValue])
        guard let id = try fetchInt64("SELECT id FROM repository WHERE name = ?", [name]) else {
            throw StoredValueError(table: "repository", reason: "\(name) vanished after insert")
        }
        return id
    }

    /// Writes the entry's mappings this store lacks; notes in `conflicts` those that contradict one it has.
    private func insertHistoryMappings(
        _ entry: InventoryEntry, repositoryID: Int64, conflicts: inout [RepositoryDigest: [Conflict]]
    ) throws {
        for mapping in entry.digests {
            let key = MappingKey(
                repository: entry.repository, digest: mapping.digest,
                platform: mapping.platform.map(PlatformKey.encode) ?? "")
            if let stored = try storedImageID(key, repositoryID: repositoryID) {
                if stored != mapping.imageID {
                    let conflict = Conflict(key: key, stored: stored, bundle: mapping.imageID)
                    let place = RepositoryDigest(repository: entry.repository, digest: mapping.digest)
                    // A mapping listed twice counts once, as its last listing says.
                    var list = conflicts[place, default: []]
                    list.removeAll { $0.key == key }
                    list.append(conflict)
                    conflicts[place] = list
                }
                continue
            }
            try execute(
                """
                INSERT INTO digestMapping
                    (repositoryId, manifestDigest, platform, imageId, childDigest, mediaType, firstSeen, firstRunId,
                     servedBy)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
                [
                    repositoryID, mapping.digest.description, key.platform, mapping.imageID.description,
                    mapping.childDigest?.description, mapping.mediaType.rawValue, stored(mapping.firstSeen),
                    mapping.firstRunID.rawValue, Redaction.endpoint(mapping.servedBy),
                ])
        }
    }

    /// Adds the entry's tag history stretches this store lacks (same tag, digest and first run) and extends those
    /// it has. Tags this store observed later than the bundle keep their own history.
    private func mergeTagHistory(_ entry: InventoryEntry, repositoryID: Int64, kept: Set<String>) throws {
        // The first record of each tag, as a lookup by name finds it.
        var records: [String: TagRecord] = [:]
        for tag in entry.tags where records[tag.tag] == nil { records[tag.tag] = tag }
        for stretch in entry.tagHistory.sorted(by: { $0.firstSeen < $1.firstSeen })
        where !kept.contains("\(entry.repository):\(stretch.tag)") {
            let tagID = try ensureTag(
                stretch.tag, repositoryID: repositoryID, entry: entry, record: records[stretch.tag])
            if let existing = try fetchInt64(
                "SELECT id FROM tagHistory WHERE tagId = ? AND manifestDigest = ? AND firstRunId = ?",
                [tagID, stretch.manifestDigest.description, stretch.firstRunID.rawValue])
            {
                try execute(
                    "UPDATE tagHistory SET lastSeen = ?, lastRunId = ? WHERE id = ? AND lastSeen < ?",
                    [stored(stretch.lastSeen), stretch.lastRunID.rawValue, existing, stored(stretch.lastSeen)])
            } else {
                try execute(
                    """
                    INSERT INTO tagHistory (tagId, manifestDigest, imageId, firstSeen, lastSeen, firstRunId, lastRunId)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """,
                    [
                        tagID, stretch.manifestDigest.description, stretch.imageID?.description,
                        stored(stretch.firstSeen), stored(stretch.lastSeen), stretch.firstRunID.rawValue,
                        stretch.lastRunID.rawValue,
                    ])
            }
        }
    }

    /// The local tag row for a history stretch, created from the bundle's tag record when the tag is new here.
    private func ensureTag(_ name: String, repositoryID: Int64, entry: InventoryEntry, record: TagRecord?) throws
        -> Int64
    {
        if let id = try fetchInt64("SELECT id FROM tag WHERE repositoryId = ? AND name = ?", [repositoryID, name]) {
            return id
        }
        guard let record else { throw invalid("history of \(entry.repository):\(name) has no tag record") }
        try execute(
            """
            INSERT INTO tag
                (repositoryId, name, manifestDigest, mediaType, imageId, firstSeen, lastSeen, lastChecked, servedBy,
                 lastRunId, bundleId)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            [
                repositoryID, name, record.manifestDigest.description, record.mediaType.rawValue,
                record.imageID?.description, stored(record.firstSeen), stored(record.lastSeen),
                stored(record.lastChecked), Redaction.endpoint(record.servedBy), record.lastRunID.rawValue, bundle,
            ])
        return db.lastInsertedRowID
    }
}
