internal import GRDB

/// The append-only schema history of `ferry.db`.
///
/// A shipped migration is never edited: a change is a new `vN-…` migration that also sets `PRAGMA user_version`
/// to N. Later work (pushes per target registry/repository/digest, exported blobs per bundle) adds tables that
/// reference `run(id)`, `repository(id)` and digests; nothing here needs to change for that. Enumerated columns
/// (outcome, kind, status) carry no CHECK constraint because widening one would need a table rebuild; the Swift
/// enums validate them, and a new value comes with a migration so older binaries refuse the file.
enum Schema {
    /// The `user_version` this binary writes and understands.
    static let version = 7

    static let migrator: DatabaseMigrator = {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-reference-store") { db in try db.execute(sql: v1) }
        migrator.registerMigration("v2-pushes") { db in try db.execute(sql: v2Pushes) }
        migrator.registerMigration("v3-bundles") { db in try db.execute(sql: v3Bundles) }
        migrator.registerMigration("v4-names") { db in try db.execute(sql: v4Names) }
        migrator.registerMigration("v5-request-economy") { db in try db.execute(sql: v5Economy) }
        migrator.registerMigration("v6-referrers") { db in try db.execute(sql: v6Referrers) }
        migrator.registerMigration("v7-shards") { db in try db.execute(sql: v7Shards) }
        return migrator
    }()

    // Times are GRDB's Date text, "yyyy-MM-dd HH:mm:ss.SSS" in UTC: sortable, and readable by SQLite's date
    // functions when someone audits the file with the sqlite3 shell.
    private static let v1 = """
        CREATE TABLE run (
            seq INTEGER PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            command TEXT NOT NULL,
            configFingerprint TEXT,
            toolVersion TEXT,
            dryRun INTEGER NOT NULL,
            startedAt TEXT NOT NULL,
            finishedAt TEXT,
            status TEXT NOT NULL,
            exitStatus INTEGER,
            referenceCount INTEGER,
            pulledCount INTEGER,
            upToDateCount INTEGER,
            updatedCount INTEGER,
            failedCount INTEGER,
            driftCount INTEGER,
            driftEventCount INTEGER,
            bytesTransferred INTEGER
        );
        CREATE INDEX run_startedAt ON run(startedAt, seq);

        CREATE TABLE repository (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            domain TEXT NOT NULL,
            path TEXT NOT NULL,
            firstSeen TEXT NOT NULL,
            firstRunId TEXT NOT NULL REFERENCES run(id)
        );

        CREATE TABLE tag (
            id INTEGER PRIMARY KEY,
            repositoryId INTEGER NOT NULL REFERENCES repository(id),
            name TEXT NOT NULL,
            manifestDigest TEXT NOT NULL,
            mediaType TEXT NOT NULL,
            imageId TEXT,
            firstSeen TEXT NOT NULL,
            lastSeen TEXT NOT NULL,
            lastChecked TEXT NOT NULL,
            servedBy TEXT NOT NULL,
            lastRunId TEXT NOT NULL REFERENCES run(id),
            UNIQUE (repositoryId, name)
        );

        -- One row per stretch of time a tag pointed to one digest; A -> B -> A gives three rows.
        CREATE TABLE tagHistory (
            id INTEGER PRIMARY KEY,
            tagId INTEGER NOT NULL REFERENCES tag(id) ON DELETE CASCADE,
            manifestDigest TEXT NOT NULL,
            imageId TEXT,
            firstSeen TEXT NOT NULL,
            lastSeen TEXT NOT NULL,
            firstRunId TEXT NOT NULL REFERENCES run(id),
            lastRunId TEXT NOT NULL REFERENCES run(id)
        );
        CREATE INDEX tagHistory_tag ON tagHistory(tagId, id);

        -- platform is '' for an image manifest so that the unique key also holds for it (NULLs never collide).
        CREATE TABLE digestMapping (
            id INTEGER PRIMARY KEY,
            repositoryId INTEGER NOT NULL REFERENCES repository(id),
            manifestDigest TEXT NOT NULL,
            platform TEXT NOT NULL DEFAULT '',
            imageId TEXT NOT NULL,
            childDigest TEXT,
            mediaType TEXT NOT NULL,
            firstSeen TEXT NOT NULL,
            firstRunId TEXT NOT NULL REFERENCES run(id),
            servedBy TEXT NOT NULL,
            UNIQUE (repositoryId, manifestDigest, platform)
        );
        -- moby's rule, enforced by SQLite itself: a digest mapping is never overwritten.
        CREATE TRIGGER digestMapping_writeOnce BEFORE UPDATE ON digestMapping
        BEGIN SELECT RAISE(ABORT, 'digest mappings are written once'); END;

        CREATE TABLE observation (
            id INTEGER PRIMARY KEY,
            runId TEXT NOT NULL REFERENCES run(id),
            reference TEXT NOT NULL,
            repository TEXT NOT NULL,
            tag TEXT,
            requestedDigest TEXT,
            manifestDigest TEXT,
            mediaType TEXT,
            imageId TEXT,
            servedBy TEXT,
            upstreamDigest TEXT,
            upstreamEndpoint TEXT,
            outcome TEXT NOT NULL,
            previousDigest TEXT,
            error TEXT,
            immutable INTEGER NOT NULL,
            dryRun INTEGER NOT NULL,
            bytesTransferred INTEGER NOT NULL,
            durationMs INTEGER NOT NULL,
            observedAt TEXT NOT NULL
        );
        CREATE INDEX observation_run ON observation(runId, id);
        CREATE INDEX observation_reference ON observation(reference, id);
        CREATE TRIGGER observation_appendOnly BEFORE UPDATE ON observation
        BEGIN SELECT RAISE(ABORT, 'observations are append-only'); END;

        CREATE TABLE observationAttempt (
            observationId INTEGER NOT NULL REFERENCES observation(id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            endpoint TEXT NOT NULL,
            error TEXT NOT NULL,
            fellBack INTEGER NOT NULL,
            PRIMARY KEY (observationId, position)
        ) WITHOUT ROWID;

        CREATE TABLE observationPlatform (
            observationId INTEGER NOT NULL REFERENCES observation(id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            platform TEXT NOT NULL,
            manifestDigest TEXT NOT NULL,
            mediaType TEXT NOT NULL,
            imageId TEXT NOT NULL,
            PRIMARY KEY (observationId, position)
        ) WITHOUT ROWID;

        CREATE TABLE driftEvent (
            id INTEGER PRIMARY KEY,
            runId TEXT NOT NULL REFERENCES run(id),
            observationId INTEGER NOT NULL REFERENCES observation(id),
            kind TEXT NOT NULL,
            reference TEXT NOT NULL,
            repository TEXT NOT NULL,
            digest TEXT NOT NULL,
            platform TEXT,
            oldValue TEXT NOT NULL,
            newValue TEXT NOT NULL,
            endpoint TEXT NOT NULL,
            upstreamEndpoint TEXT,
            dryRun INTEGER NOT NULL,
            occurredAt TEXT NOT NULL
        );
        CREATE INDEX driftEvent_run ON driftEvent(runId, id);
        CREATE INDEX driftEvent_reference ON driftEvent(reference, id);
        CREATE TRIGGER driftEvent_appendOnly BEFORE UPDATE ON driftEvent
        BEGIN SELECT RAISE(ABORT, 'drift events are append-only'); END;

        PRAGMA user_version = 1;
        """
}
