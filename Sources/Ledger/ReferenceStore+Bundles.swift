import Foundation
internal import GRDB
import OCIModel

// MARK: Export side

extension ReferenceStore {
    /// This store's random ID (32 hex digits), made when the file got the bundle schema; bundles name their source
    /// store with it.
    public func storeID() async throws -> String {
        let path = path
        return try await read("read store ID") { db in
            guard let id = try String.fetchOne(db, sql: "SELECT value FROM storeInfo WHERE key = 'id'") else {
                throw LedgerError.corruptRow(path: path, table: "storeInfo", reason: "no id row")
            }
            return id
        }
    }

    /// Records a bundle just written, with its blobs (for later `--since`), references and part checksums.
    ///
    /// Exporting the same content again gives the same bundle ID; the record then keeps its blobs and takes the
    /// new time, path and parts (the files differ in their creation time).
    public func recordExport(_ record: BundleExportRecord) async throws {
        let id = record.id.description
        try await write("record bundle \(record.id)") { db in
            let bundleBytes = record.parts.reduce(Int64(0)) { $0 + $1.size }
            let blobBytes = record.blobs.reduce(Int64(0)) { $0 + $1.size }
            let exists = try Int.fetchOne(db, sql: "SELECT 1 FROM bundleExport WHERE id = ?", arguments: [id]) != nil
            if exists {
                try db.execute(
                    literal: """
                        UPDATE bundleExport SET createdAt = \(record.createdAt), path = \(record.path),
                            toolVersion = \(record.toolVersion), bundleBytes = \(bundleBytes),
                            partCount = \(record.parts.count)
                        WHERE id = \(id)
                        """)
                try db.execute(literal: "DELETE FROM bundleExportPart WHERE bundleId = \(id)")
            } else {
                try db.execute(
                    literal: """
                        INSERT INTO bundleExport
                            (id, createdAt, sinceBundleId, sinceRunId, path, toolVersion, referenceCount, blobCount,
                             blobBytes, excludedBlobCount, bundleBytes, partCount)
                        VALUES (\(id), \(record.createdAt), \(record.sinceBundle?.description),
                                \(record.sinceRun?.rawValue), \(record.path), \(record.toolVersion),
                                \(record.references.count), \(record.blobs.count), \(blobBytes),
                                \(record.excludedBlobCount), \(bundleBytes), \(record.parts.count))
                        """)
                for (position, reference) in record.references.enumerated() {
                    try db.execute(
                        literal: """
                            INSERT INTO bundleExportReference (bundleId, position, reference, digest, mediaType, size)
                            VALUES (\(id), \(position), \(reference.name), \(reference.digest.description),
                                    \(reference.mediaType.rawValue), \(reference.size))
                            """)
                }
                for blob in record.blobs {
                    try db.execute(
                        literal: """
                            INSERT INTO bundleExportBlob (bundleId, digest, size)
                            VALUES (\(id), \(blob.digest.description), \(blob.size))
                            ON CONFLICT DO NOTHING
                            """)
                }
            }
            for (position, part) in record.parts.enumerated() {
                try db.execute(
                    literal: """
                        INSERT INTO bundleExportPart (bundleId, position, name, size, sha256)
                        VALUES (\(id), \(position), \(part.name), \(part.size), \(part.sha256.description))
                        """)
            }
        }
    }

    /// The export record of bundle `id`, or nil.
    public func bundleExport(_ id: Digest) async throws -> BundleExportRecord? {
        try await read("read bundle \(id)") { db in try BundleQueries.export(db, id: id.description) }
    }

    /// Every bundle exported from this store, oldest first.
    public func bundleExports() async throws -> [BundleExportRecord] {
        try await read("list bundles") { db in
            try String.fetchAll(db, sql: "SELECT id FROM bundleExport ORDER BY seq").compactMap {
                try BundleQueries.export(db, id: $0)
            }
        }
    }

    /// IDs of exported bundles whose hex part starts with `prefix` (`sha256:` optional), so a user can name a
    /// bundle by the short ID ferry prints.
    public func bundleExportIDs(matching prefix: String) async throws -> [Digest] {
        let hex = prefix.hasPrefix("sha256:") ? String(prefix.dropFirst(7)) : prefix
        let pattern =
            "sha256:" + hex.replacingOccurrences(of: "%", with: "").replacingOccurrences(of: "_", with: "")
            + "%"
        return try await read("find bundle \(prefix)") { db in
            try Row.fetchAll(db, sql: "SELECT id FROM bundleExport WHERE id LIKE ? ORDER BY seq", arguments: [pattern])
                .stored("bundleExport").map { try $0.digest("id") }
        }
    }

    /// Bundle `id` and the bundles it was based on (its `--since` chain), and the run at the chain's root, if any;
    /// nil when no bundle `id` was exported from this store.
    public func exportChain(from id: Digest) async throws -> BundleExportChain? {
        let path = path
        return try await read("read bundle chain \(id)") { db in
            var chain: [Digest] = []
            var current: Digest? = id
            var run: RunID?
            while let bundle = current {
                guard
                    let fetched = try Row.fetchOne(
                        db, sql: "SELECT sinceBundleId, sinceRunId FROM bundleExport WHERE id = ?",
                        arguments: [bundle.description])
                else {
                    if chain.isEmpty { return nil }
                    throw LedgerError.corruptRow(
                        path: path, table: "bundleExport", reason: "\(chain.last!) names missing base \(bundle)")
                }
                guard !chain.contains(bundle) else {
                    throw LedgerError.corruptRow(path: path, table: "bundleExport", reason: "\(bundle) is its own base")
                }
                chain.append(bundle)
                let row = StoredRow(row: fetched, table: "bundleExport")
                current = try row.optionalDigest("sinceBundleId")
                if let text = try row.optionalString("sinceRunId") { run = RunID(rawValue: text) }
            }
            return BundleExportChain(bundles: chain, run: run)
        }
    }

    /// Every blob the given bundles carried, with the first of them (in the order given) that carried it.
    public func blobsCarried(by bundles: [Digest]) async throws -> [Digest: Digest] {
        try await read("read bundle blobs") { db in
            var carriers: [Digest: Digest] = [:]
            for bundle in bundles {
                let rows = try Row.fetchAll(
                    db, sql: "SELECT digest FROM bundleExportBlob WHERE bundleId = ?", arguments: [bundle.description])
                for row in rows.stored("bundleExportBlob") where carriers[try row.digest("digest")] == nil {
                    carriers[try row.digest("digest")] = bundle
                }
            }
            return carriers
        }
    }

    /// Every manifest digest (images, indexes and their recorded children) whose digest mapping was written by
    /// `run` or a run before it; nil when there is no such run.
    public func manifestsRecorded(through run: RunID) async throws -> Set<Digest>? {
        try await read("read manifests through run \(run)") { db in
            guard
                let seq = try Int64.fetchOne(db, sql: "SELECT seq FROM run WHERE id = ?", arguments: [run.rawValue])
            else { return nil }
            let sql = """
                SELECT d.manifestDigest AS digest FROM digestMapping d JOIN run r ON r.id = d.firstRunId
                WHERE r.seq <= ?1
                UNION SELECT d.childDigest FROM digestMapping d JOIN run r ON r.id = d.firstRunId
                WHERE r.seq <= ?1 AND d.childDigest IS NOT NULL
                """
            var digests = Set<Digest>()
            for row in try Row.fetchAll(db, sql: sql, arguments: [seq]).stored("digestMapping") {
                digests.insert(try row.digest("digest"))
            }
            return digests
        }
    }

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

// MARK: Import side

extension ReferenceStore {
    /// The import record of bundle `id`, or nil when it was never imported here.
    public func bundleImport(_ id: Digest) async throws -> BundleImportRecord? {
        try await read("read import of \(id)") { db in
            try BundleQueries.imports(db, where: "WHERE id = ?", [id.description]).first
        }
    }

    /// Every bundle imported here, oldest first.
    public func bundleImports() async throws -> [BundleImportRecord] {
        try await read("list imports") { db in try BundleQueries.imports(db, where: "ORDER BY seq", []) }
    }

    /// Records an imported bundle in one transaction: an `import` run with one observation per reference, the
    /// exporting store's runs, observations, drift events, tag history and digest mappings (original times,
    /// servedBy and run IDs, marked with the bundle ID), the tags moved to the bundle's digests, and the import
    /// itself, which makes a second import of the bundle fail with ``LedgerError/bundleAlreadyImported(path:bundle:)``.
    ///
    /// The rules of ``record(_:)`` hold: digest mappings are written once, and a bundle that maps a known digest to
    /// another image ID raises an `image-id-drift` event instead of overwriting. A tag this store observed after
    /// the bundle did (``ImportedReference/keepsLocalTag``) is left as it is.
    public func recordImport(_ request: BundleImportRequest) async throws -> BundleImportResult {
        let path = path
        return try await write("record import of \(request.bundleID)") { db in
            try ImportWriter(db: db, path: path, request: request).write()
        }
    }
}

/// Row mapping for the bundle tables.
enum BundleQueries {
    static func export(_ db: Database, id: String) throws -> BundleExportRecord? {
        guard
            let fetched = try Row.fetchOne(db, sql: "SELECT * FROM bundleExport WHERE id = ?", arguments: [id])
        else { return nil }
        let row = StoredRow(row: fetched, table: "bundleExport")
        let references = try Row.fetchAll(
            db, sql: "SELECT * FROM bundleExportReference WHERE bundleId = ? ORDER BY position", arguments: [id]
        ).stored("bundleExportReference").map { row in
            BundleReference(
                name: try row.string("reference"), digest: try row.digest("digest"),
                mediaType: try row.mediaType("mediaType"), size: try row.int64("size"))
        }
        let blobs = try Row.fetchAll(
            db, sql: "SELECT digest, size FROM bundleExportBlob WHERE bundleId = ? ORDER BY digest", arguments: [id]
        ).stored("bundleExportBlob").map { row in
            BundleBlob(digest: try row.digest("digest"), size: try row.int64("size"))
        }
        let parts = try Row.fetchAll(
            db, sql: "SELECT * FROM bundleExportPart WHERE bundleId = ? ORDER BY position", arguments: [id]
        ).stored("bundleExportPart").map { row in
            BundlePart(name: try row.string("name"), size: try row.int64("size"), sha256: try row.digest("sha256"))
        }
        return BundleExportRecord(
            id: try row.digest("id"), createdAt: try row.date("createdAt"),
            sinceBundle: try row.optionalDigest("sinceBundleId"),
            sinceRun: try row.optionalString("sinceRunId").flatMap(RunID.init(rawValue:)), path: try row.string("path"),
            toolVersion: try row.string("toolVersion"), references: references, blobs: blobs,
            excludedBlobCount: try row.int("excludedBlobCount"), parts: parts)
    }

    static func imports(
        _ db: Database, where clause: String, _ arguments: StatementArguments
    ) throws
        -> [BundleImportRecord]
    {
        try Row.fetchAll(db, sql: "SELECT * FROM bundleImport \(clause)", arguments: arguments).stored("bundleImport")
            .map { row in
                let filesText = try row.string("files")
                let files = (try? JSONDecoder().decode([String].self, from: Data(filesText.utf8))) ?? [filesText]
                return BundleImportRecord(
                    id: try row.digest("id"), importedAt: try row.date("importedAt"), runID: try row.runID("runId"),
                    createdAt: try row.date("createdAt"), sourceStore: try row.string("sourceStore"),
                    sinceBundle: try row.optionalDigest("sinceBundleId"),
                    sinceRun: try row.optionalString("sinceRunId").flatMap(RunID.init(rawValue:)),
                    toolVersion: try row.string("toolVersion"), files: files,
                    referenceCount: try row.int("referenceCount"), blobCount: try row.int("blobCount"),
                    blobsAdded: try row.int("blobsAdded"), bytesAdded: try row.int64("bytesAdded"))
            }
    }
}

/// One ``ReferenceStore/recordImport(_:)`` call's work, inside its transaction.
private struct ImportWriter {
    let db: Database
    let path: String
    let request: BundleImportRequest

    private var bundle: String { request.bundleID.description }

    private func stored(_ date: Date) -> String { StoredDate.text(date) }
    private func stored(_ date: Date?) -> String? { date.map(StoredDate.text) }
    private var now: Date { request.importedAt }
    /// What a row says served it when the exporting store had no record of the reference.
    private var bundleEndpoint: String { "bundle:" + request.bundleID.description }

    private struct MappingKey: Hashable {
        var repository: String
        var digest: Digest
        var platform: String
    }

    private struct LocalTag {
        var id: Int64
        var digest: Digest
    }

    private func invalid(_ reason: String) -> LedgerError {
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
    private func validate() throws {
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

    private func tagName(_ reference: ImportedReference) throws -> String? {
        reference.reference.digest == nil ? (reference.reference.tag ?? ImageReference.defaultTag) : nil
    }

    private func localTag(repository: String, name: String) throws -> LocalTag? {
        let sql = """
            SELECT tag.id, tag.manifestDigest FROM tag JOIN repository ON repository.id = tag.repositoryId
            WHERE repository.name = ? AND tag.name = ?
            """
        guard let fetched = try Row.fetchOne(db, sql: sql, arguments: [repository, name]) else { return nil }
        let row = StoredRow(row: fetched, table: "tag")
        return LocalTag(id: try row.int64("id"), digest: try row.digest("manifestDigest"))
    }

    private func storedImageID(_ key: MappingKey, repositoryID: Int64) throws -> Digest? {
        let sql = "SELECT imageId FROM digestMapping WHERE repositoryId = ? AND manifestDigest = ? AND platform = ?"
        guard
            let fetched = try Row.fetchOne(
                db, sql: sql, arguments: [repositoryID, key.digest.description, key.platform])
        else { return nil }
        return try StoredRow(row: fetched, table: "digestMapping").digest("imageId")
    }

    private func entry(_ repository: String) -> InventoryEntry? {
        request.history.repositories.first { $0.repository == repository }
    }

    /// The exporting store's current record of the reference's tag, when it agrees with the bundle's digest.
    private func bundleTag(_ reference: ImportedReference) throws -> TagRecord? {
        guard let name = try tagName(reference) else { return nil }
        return entry(reference.reference.repository.name)?.tags.first {
            $0.tag == name && $0.manifestDigest == reference.digest
        }
    }

    /// Where the exporting store got the reference: its tag's servedBy, else its digest mapping's.
    private func servedBy(_ reference: ImportedReference) -> String {
        if let tag = try? bundleTag(reference) { return Redaction.endpoint(tag.servedBy) }
        if let mapping = entry(reference.reference.repository.name)?.digests.first(where: {
            $0.digest == reference.digest
        }) {
            return Redaction.endpoint(mapping.servedBy)
        }
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

    private func isPart(_ digest: Digest, of reference: ImportedReference) -> Bool {
        digest == reference.digest || reference.platforms.contains { $0.digest == digest }
    }

    private func repositoryNames() -> [String] {
        var names: [String] = []
        for name in request.history.repositories.map(\.repository) + request.references.map(\.reference.repository.name)
        where !names.contains(name) {
            names.append(name)
        }
        return names
    }

    // MARK: Writes

    private func beginRun() throws -> RunID {
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
    private func insertRuns() throws {
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
    private func insertObservations() throws -> [Int64: Int64] {
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

    private func insertDriftEvents(_ observationIDs: [Int64: Int64]) throws {
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

    private func upsertRepository(_ name: String, run: RunID) throws -> Int64 {
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
    private func insertHistoryMappings(
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
    private func mergeTagHistory(_ repositoryIDs: [String: Int64]) throws {
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
    private func ensureTag(_ name: String, repositoryID: Int64, entry: InventoryEntry) throws -> Int64 {
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
    private func moveTag(
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

    private func insertImportObservation(
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

    private func insertDrift(
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

// MARK: Read-only peek

extension ReferenceStore {
    /// The import record of bundle `id` in the file at `path`, read through a read-only connection: nothing is
    /// created, migrated or written (a writable open of a WAL database always writes to it). Nil when the file
    /// does not exist, predates bundles, or never imported the bundle.
    public static func peekImport(of id: Digest, at path: String) throws -> BundleImportRecord? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        var configuration = Configuration()
        configuration.readonly = true
        configuration.busyMode = .timeout(TimeInterval(busyTimeoutSeconds))
        configuration.label = "ferry.db (read-only)"
        do {
            let queue = try DatabaseQueue(path: path, configuration: configuration)
            defer { try? queue.close() }
            return try queue.read { db in
                guard try db.tableExists("bundleImport") else { return nil }
                return try BundleQueries.imports(db, where: "WHERE id = ?", [id.description]).first
            }
        } catch let error as LedgerError {
            throw error
        } catch let error as StoredValueError {
            throw LedgerError.corruptRow(path: path, table: error.table, reason: error.reason)
        } catch {
            throw LedgerError.cannotOpen(path: path, reason: reason(error))
        }
    }
}
