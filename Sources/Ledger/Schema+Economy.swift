extension Schema {
    // Request economy (issue 10). `checked = 0` marks a tag ferry did not ask for (`immutable-tags`): its
    // observation repeats what the tag table holds, and the tag's lastChecked stays the time it was last asked,
    // which is what `revalidate` measures. `retryAt` is when a deferred reference's host may be asked again.
    // `rateLimit` is what each host last said about its quota, so the next cron run starts from it; `runHost` and
    // `runRequest` are the per-host request counts of each run, for its report and metrics; `tagListing` keeps
    // the last tag list of each repository, reused within `revalidate`.
    static let v5Economy = """
        ALTER TABLE observation ADD COLUMN checked INTEGER NOT NULL DEFAULT 1;
        ALTER TABLE observation ADD COLUMN retryAt TEXT;
        ALTER TABLE run ADD COLUMN deferredCount INTEGER;
        ALTER TABLE run ADD COLUMN notAskedCount INTEGER;

        CREATE TABLE rateLimit (
            host TEXT PRIMARY KEY,
            quota INTEGER,
            remaining INTEGER,
            windowSeconds INTEGER,
            resetAt TEXT,
            observedAt TEXT NOT NULL
        );

        CREATE TABLE runHost (
            runId TEXT NOT NULL REFERENCES run(id),
            host TEXT NOT NULL,
            throttled INTEGER NOT NULL,
            quota INTEGER,
            remaining INTEGER,
            resetAt TEXT,
            blocked INTEGER NOT NULL,
            blockedUntil TEXT,
            PRIMARY KEY (runId, host)
        );

        CREATE TABLE runRequest (
            runId TEXT NOT NULL REFERENCES run(id),
            host TEXT NOT NULL,
            kind TEXT NOT NULL,
            count INTEGER NOT NULL,
            PRIMARY KEY (runId, host, kind)
        );

        CREATE TABLE tagListing (
            repository TEXT PRIMARY KEY,
            tags TEXT NOT NULL,
            fetchedAt TEXT NOT NULL
        );

        PRAGMA user_version = 5;
        """
}
