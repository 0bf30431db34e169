import Foundation
internal import GRDB
import OCIModel

extension ReferenceStore {
    /// The history of `references` for a bundle: their tags with every digest they pointed to, the digest
    /// mappings of `manifests` and of those digests, drift events, the observations that explain them, and the
    /// runs all of these name. References this store never recorded contribute nothing.
    public func history(of references: [ImageReference], manifests: Set<Digest>) async throws -> LedgerHistory {
        try await read("read history for a bundle") { db in
            var tagsByRepository: [String: [TagRecord]] = [:]
            var historyByRepository: [String: [TagHistoryRecord]] = [:]
            var wanted = manifests
            var texts: [String] = []
            for reference in references {
                let text = reference.taggedLatestIfNameOnly().string
                if !texts.contains(text) { texts.append(text) }
                guard reference.digest == nil else { continue }
                let repository = reference.repository.name
                let tag = reference.tag ?? ImageReference.defaultTag
                let arguments: StatementArguments = [repository, tag]
                let clause = "WHERE repository.name = ? AND tag.name = ?"
                for record in try Queries.tags(db, where: clause, arguments)
                where !(tagsByRepository[repository] ?? []).contains(record) {
                    tagsByRepository[repository, default: []].append(record)
                    wanted.insert(record.manifestDigest)
                }
                for row in try Queries.history(db, where: clause, arguments)
                where !(historyByRepository[repository] ?? []).contains(row.record) {
                    historyByRepository[repository, default: []].append(row.record)
                    wanted.insert(row.record.manifestDigest)
                }
            }

            var repositories: [InventoryEntry] = []
            let names = Set(references.map(\.repository.name)).sorted()
            for name in names {
                guard
                    let fetched = try Row.fetchOne(
                        db, sql: "SELECT firstSeen FROM repository WHERE name = ?", arguments: [name])
                else { continue }
                let digests = try Queries.digests(db, where: "WHERE repository.name = ?", [name])
                    .filter { wanted.contains($0.digest) }
                repositories.append(
                    InventoryEntry(
                        repository: name, firstSeen: try StoredRow(row: fetched, table: "repository").date("firstSeen"),
                        tags: tagsByRepository[name] ?? [], tagHistory: historyByRepository[name] ?? [],
                        digests: digests))
            }

            var driftEvents: [DriftEventRecord] = []
            var observationIDs: [Int64] = []
            for text in texts {
                let events = try Queries.driftEvents(
                    db, where: "WHERE reference = ? AND dryRun = 0 ORDER BY id", [text])
                driftEvents += events
                observationIDs += events.map(\.observationID)
                let latest = try Int64.fetchOne(
                    db,
                    sql: """
                        SELECT id FROM observation WHERE reference = ? AND dryRun = 0 AND outcome != 'failed'
                        ORDER BY id DESC LIMIT 1
                        """,
                    arguments: [text])
                if let latest { observationIDs.append(latest) }
            }
            var observations: [ObservationRecord] = []
            for id in Set(observationIDs).sorted() {
                observations += try Queries.observations(db, matching: "o.id = ?", [id])
            }

            var runIDs = Set<String>()
            for entry in repositories {
                entry.tags.forEach { runIDs.insert($0.lastRunID.rawValue) }
                entry.tagHistory.forEach {
                    runIDs.insert($0.firstRunID.rawValue)
                    runIDs.insert($0.lastRunID.rawValue)
                }
                entry.digests.forEach { runIDs.insert($0.firstRunID.rawValue) }
            }
            observations.forEach { runIDs.insert($0.runID.rawValue) }
            driftEvents.forEach { runIDs.insert($0.runID.rawValue) }
            var runs: [RunRecord] = []
            for id in runIDs.sorted() {
                runs += try Self.fetchRuns(db, where: "WHERE id = ?", [id])
            }
            return LedgerHistory(
                runs: runs, repositories: repositories, observations: observations, driftEvents: driftEvents)
        }
    }
}
