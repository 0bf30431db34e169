extension Schema {
    /// Pushes to registry and layout targets: one row per (reference, target) attempt for reports, and the set of
    /// blobs known to be in each destination repository, which picks cross-repository mount sources.
    static let v2Pushes = """
        CREATE TABLE push (
            id INTEGER PRIMARY KEY,
            runId TEXT NOT NULL REFERENCES run(id),
            reference TEXT NOT NULL,
            target TEXT NOT NULL,
            destination TEXT NOT NULL,
            registry TEXT NOT NULL,
            digest TEXT,
            outcome TEXT NOT NULL,
            error TEXT,
            bytes INTEGER NOT NULL,
            blobsUploaded INTEGER NOT NULL,
            blobsMounted INTEGER NOT NULL,
            blobsPresent INTEGER NOT NULL,
            pushedAt TEXT NOT NULL
        );
        CREATE INDEX pushByRun ON push(runId, id);
        CREATE INDEX pushByReference ON push(reference, id);
        CREATE TABLE pushedBlob (
            registry TEXT NOT NULL,
            repository TEXT NOT NULL,
            digest TEXT NOT NULL,
            firstPushedAt TEXT NOT NULL,
            PRIMARY KEY (registry, repository, digest)
        );
        CREATE INDEX pushedBlobByDigest ON pushedBlob(registry, digest);
        CREATE TRIGGER pushIsAppendOnly BEFORE UPDATE ON push
            BEGIN SELECT RAISE(ABORT, 'push rows are append-only'); END;
        PRAGMA user_version = 2;
        """
}
