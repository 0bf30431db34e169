import Foundation
internal import GRDB
import OCIModel

// `ferry export` as the reference store sees it: the store ID bundles name, the record of each export (for
// `--since`), and what a `--since` chain covers. The history a bundle carries is in ReferenceStore+BundleHistory.

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
                // One compiled statement for every row: a bundle of 20,000 references has 80,000 of them.
                let insertReference = try db.cachedStatement(
                    sql: """
                        INSERT INTO bundleExportReference (bundleId, position, reference, digest, mediaType, size)
                        VALUES (?, ?, ?, ?, ?, ?)
                        """)
                for (position, reference) in record.references.enumerated() {
                    try insertReference.execute(arguments: [
                        id, position, reference.name, reference.digest.description, reference.mediaType.rawValue,
                        reference.size,
                    ])
                }
                let insertBlob = try db.cachedStatement(
                    sql: """
                        INSERT INTO bundleExportBlob (bundleId, digest, size) VALUES (?, ?, ?)
                        ON CONFLICT DO NOTHING
                        """)
                for blob in record.blobs {
                    try insertBlob.execute(arguments: [id, blob.digest.description, blob.size])
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
            let rows = try Row.fetchCursor(db, sql: sql, arguments: [seq])
            while let row = try rows.next() {
                digests.insert(try StoredRow(row: row, table: "digestMapping").digest("digest"))
            }
            return digests
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
}
