extension Schema {
    /// Referrers (signatures, SBOMs, attestations) of mirrored manifests: `referrer` is what ferry knows now, one
    /// row per (repository, subject, referrer), marked removed when a later sync no longer finds it upstream;
    /// `observationReferrer` is what each observation found, for the run's report.
    static let v6Referrers = """
        CREATE TABLE referrer (
            id INTEGER PRIMARY KEY,
            repository TEXT NOT NULL,
            imageDigest TEXT NOT NULL,
            subjectDigest TEXT NOT NULL,
            referrerDigest TEXT NOT NULL,
            mediaType TEXT NOT NULL,
            size INTEGER NOT NULL,
            artifactType TEXT NOT NULL,
            foundBy TEXT NOT NULL,
            tag TEXT,
            firstSeen TEXT NOT NULL,
            firstRunId TEXT NOT NULL REFERENCES run(id),
            lastSeen TEXT NOT NULL,
            lastRunId TEXT NOT NULL REFERENCES run(id),
            removedRunId TEXT REFERENCES run(id),
            UNIQUE (repository, subjectDigest, referrerDigest)
        );
        CREATE INDEX referrerByImage ON referrer(repository, imageDigest);

        CREATE TABLE observationReferrer (
            observationId INTEGER NOT NULL REFERENCES observation(id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            subjectDigest TEXT NOT NULL,
            referrerDigest TEXT NOT NULL,
            mediaType TEXT NOT NULL,
            size INTEGER NOT NULL,
            artifactType TEXT NOT NULL,
            foundBy TEXT NOT NULL,
            tag TEXT,
            PRIMARY KEY (observationId, position)
        ) WITHOUT ROWID;

        PRAGMA user_version = 6;
        """
}
