extension Schema {
    // Bundles (`ferry export` / `ferry import`).
    //
    // Export side: one `bundleExport` row per bundle written, with the blobs it carried (`bundleExportBlob`, what
    // `--since` subtracts), its references and its part checksums. Import side: one `bundleImport` row per bundle
    // applied, keyed by the bundle ID, which is what makes a second import of the same bundle a no-op.
    //
    // `bundleId` on run, tag, observation and driftEvent marks rows that arrived in a bundle (NULL: recorded here),
    // so reports on the air-gapped side can tell imported history from local history. Run IDs, servedBy and times
    // keep their original values; only row IDs are local.
    //
    // `storeInfo.id` names this store in the bundles it exports: random, made once, when the file gets this schema.
    static let v3Bundles = """
        CREATE TABLE storeInfo (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        ) WITHOUT ROWID;
        INSERT INTO storeInfo (key, value) VALUES ('id', lower(hex(randomblob(16))));

        ALTER TABLE run ADD COLUMN bundleId TEXT;
        ALTER TABLE tag ADD COLUMN bundleId TEXT;
        ALTER TABLE observation ADD COLUMN bundleId TEXT;
        ALTER TABLE driftEvent ADD COLUMN bundleId TEXT;

        CREATE TABLE bundleExport (
            seq INTEGER PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            createdAt TEXT NOT NULL,
            sinceBundleId TEXT REFERENCES bundleExport(id),
            sinceRunId TEXT REFERENCES run(id),
            path TEXT NOT NULL,
            toolVersion TEXT NOT NULL,
            referenceCount INTEGER NOT NULL,
            blobCount INTEGER NOT NULL,
            blobBytes INTEGER NOT NULL,
            excludedBlobCount INTEGER NOT NULL,
            bundleBytes INTEGER NOT NULL,
            partCount INTEGER NOT NULL
        );

        CREATE TABLE bundleExportReference (
            bundleId TEXT NOT NULL REFERENCES bundleExport(id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            reference TEXT NOT NULL,
            digest TEXT NOT NULL,
            mediaType TEXT NOT NULL,
            size INTEGER NOT NULL,
            PRIMARY KEY (bundleId, position)
        ) WITHOUT ROWID;

        CREATE TABLE bundleExportBlob (
            bundleId TEXT NOT NULL REFERENCES bundleExport(id) ON DELETE CASCADE,
            digest TEXT NOT NULL,
            size INTEGER NOT NULL,
            PRIMARY KEY (bundleId, digest)
        ) WITHOUT ROWID;
        CREATE INDEX bundleExportBlob_digest ON bundleExportBlob(digest);

        CREATE TABLE bundleExportPart (
            bundleId TEXT NOT NULL REFERENCES bundleExport(id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            name TEXT NOT NULL,
            size INTEGER NOT NULL,
            sha256 TEXT NOT NULL,
            PRIMARY KEY (bundleId, position)
        ) WITHOUT ROWID;

        CREATE TABLE bundleImport (
            seq INTEGER PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            importedAt TEXT NOT NULL,
            runId TEXT NOT NULL REFERENCES run(id),
            createdAt TEXT NOT NULL,
            sourceStore TEXT NOT NULL,
            sinceBundleId TEXT,
            sinceRunId TEXT,
            toolVersion TEXT NOT NULL,
            files TEXT NOT NULL,
            referenceCount INTEGER NOT NULL,
            blobCount INTEGER NOT NULL,
            blobsAdded INTEGER NOT NULL,
            bytesAdded INTEGER NOT NULL
        );
        CREATE TRIGGER bundleImport_appendOnly BEFORE UPDATE ON bundleImport
        BEGIN SELECT RAISE(ABORT, 'bundle imports are append-only'); END;

        PRAGMA user_version = 3;
        """
}
