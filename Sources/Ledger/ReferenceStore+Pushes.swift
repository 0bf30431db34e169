import Foundation
internal import GRDB
import OCIModel

/// What happened when one reference was pushed to one target.
public enum PushOutcome: String, Sendable, Hashable, Codable, CaseIterable {
    /// Something was written: blobs or manifests.
    case pushed
    /// The destination tag already pointed at the digest (one HEAD).
    case upToDate = "up-to-date"
    /// The push failed; see the error.
    case failed
}

/// One push of one reference to one target, as recorded.
public struct PushRecord: Sendable, Hashable, Codable {
    /// The run that pushed.
    public var runID: RunID
    /// The source reference (as stored).
    public var reference: String
    /// The target name from the mirror list, or `--to` for an ad-hoc destination.
    public var target: String
    /// The destination reference, e.g. `registry.internal:5000/mirror/docker.io/library/alpine:3.20`.
    public var destination: String
    /// The destination registry host, or the layout path.
    public var registry: String
    /// The manifest digest pushed.
    public var digest: Digest?
    /// The outcome.
    public var outcome: PushOutcome
    /// The error text of a failure.
    public var error: String?
    /// Bytes uploaded.
    public var bytes: Int64
    /// Blobs uploaded.
    public var blobsUploaded: Int
    /// Blobs mounted from another repository of the registry.
    public var blobsMounted: Int
    /// Blobs the destination already had.
    public var blobsPresent: Int
    /// When.
    public var pushedAt: Date

    /// Creates a record.
    public init(
        runID: RunID, reference: String, target: String, destination: String, registry: String, digest: Digest?,
        outcome: PushOutcome, error: String? = nil, bytes: Int64 = 0, blobsUploaded: Int = 0, blobsMounted: Int = 0,
        blobsPresent: Int = 0, pushedAt: Date = Date()
    ) {
        self.runID = runID
        self.reference = reference
        self.target = target
        self.destination = destination
        self.registry = registry
        self.digest = digest
        self.outcome = outcome
        self.error = error
        self.bytes = bytes
        self.blobsUploaded = blobsUploaded
        self.blobsMounted = blobsMounted
        self.blobsPresent = blobsPresent
        self.pushedAt = pushedAt
    }
}

/// A push to record, with the blobs it proved present in the destination repository (future mount sources).
public struct PushRecording: Sendable, Hashable {
    /// The push.
    public var record: PushRecord
    /// The destination repository path.
    public var repository: String
    /// Blobs now known to be in that repository.
    public var blobs: [Digest]

    /// Creates a recording.
    public init(record: PushRecord, repository: String, blobs: [Digest]) {
        self.record = record
        self.repository = repository
        self.blobs = blobs
    }
}

/// The SQL of recording a push, shared by single pushes and batches.
enum PushWriter {
    static func insert(_ recording: PushRecording, _ db: Database) throws {
        let push = recording.record
        try db.cachedStatement(
            sql: """
                INSERT INTO push (runId, reference, target, destination, registry, digest, outcome, error, bytes,
                    blobsUploaded, blobsMounted, blobsPresent, pushedAt)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """
        ).execute(arguments: [
            push.runID.rawValue, push.reference, push.target, Redaction.endpoint(push.destination),
            Redaction.endpoint(push.registry), push.digest?.description, push.outcome.rawValue,
            push.error.map(Redaction.freeText), push.bytes, push.blobsUploaded, push.blobsMounted, push.blobsPresent,
            push.pushedAt,
        ])
        let blob = try db.cachedStatement(
            sql: "INSERT OR IGNORE INTO pushedBlob (registry, repository, digest, firstPushedAt) VALUES (?, ?, ?, ?)")
        for digest in recording.blobs {
            try blob.execute(arguments: [push.registry, recording.repository, digest.description, push.pushedAt])
        }
    }
}

extension ReferenceStore {
    /// Records one push and the blobs now known to be in `repository` of `registry`, in one transaction.
    public func recordPush(_ push: PushRecord, repository: String, blobs: [Digest]) async throws {
        let recording = PushRecording(record: push, repository: repository, blobs: blobs)
        try await write("record push of \(push.reference) to \(push.destination)") { db in
            try PushWriter.insert(recording, db)
        }
    }

    /// Repositories of `registry` that received `digest` from ferry: candidates for a cross-repository mount.
    public func mountSources(registry: String, digest: Digest) async throws -> [String] {
        try await read("read mount sources of \(digest)") { db in
            try String.fetchAll(
                db, sql: "SELECT repository FROM pushedBlob WHERE registry = ? AND digest = ? ORDER BY firstPushedAt",
                arguments: [registry, digest.description])
        }
    }

    /// The pushes of a run, in order.
    public func pushes(run: RunID) async throws -> [PushRecord] {
        let path = self.path
        return try await read("read pushes of run \(run)") { db in
            try Row.fetchAll(db, sql: "SELECT * FROM push WHERE runId = ? ORDER BY id", arguments: [run.rawValue])
                .map { try Self.pushRecord($0, path: path) }
        }
    }

    /// Every push of a reference, oldest first.
    public func pushes(reference: String) async throws -> [PushRecord] {
        let path = self.path
        return try await read("read pushes of \(reference)") { db in
            try Row.fetchAll(db, sql: "SELECT * FROM push WHERE reference = ? ORDER BY id", arguments: [reference])
                .map { try Self.pushRecord($0, path: path) }
        }
    }

    static func pushRecord(_ row: Row, path: String) throws -> PushRecord {
        let digestText: String? = row["digest"]
        let runText: String = row["runId"]
        guard let runID = RunID(rawValue: runText) else {
            throw LedgerError.corruptRow(path: path, table: "push", reason: "bad run id \(runText)")
        }
        return PushRecord(
            runID: runID,
            reference: row["reference"], target: row["target"], destination: row["destination"],
            registry: row["registry"], digest: digestText.flatMap { try? Digest(parsing: $0) },
            outcome: PushOutcome(rawValue: row["outcome"]) ?? .failed, error: row["error"], bytes: row["bytes"],
            blobsUploaded: row["blobsUploaded"], blobsMounted: row["blobsMounted"], blobsPresent: row["blobsPresent"],
            pushedAt: row["pushedAt"])
    }
}
