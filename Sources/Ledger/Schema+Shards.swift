extension Schema {
    // Sharded runs (`ferry sync --shard K/N`) and merged stores (`ferry merge`).
    //
    // A shard's run records which shard it was and the group it belongs to (`--shard-group`, in Kubernetes the
    // Job's name): runs of one group, merged into one store, become one run there. `mergedRun` is the merge's
    // ledger of what it brought in: one row per run of another store, keyed by that store's `storeInfo.id` and the
    // run's ID there, naming the run here it became (its own ID, a new one when that ID was taken, or its group's
    // run). That is what makes a second merge of the same stores add nothing, and a merged run's start, end,
    // status and exit status are derived from its rows.
    static let v7Shards = """
        ALTER TABLE run ADD COLUMN shardIndex INTEGER;
        ALTER TABLE run ADD COLUMN shardCount INTEGER;
        ALTER TABLE run ADD COLUMN shardGroup TEXT;
        CREATE INDEX run_shardGroup ON run(shardGroup) WHERE shardGroup IS NOT NULL;

        CREATE TABLE mergedRun (
            sourceStore TEXT NOT NULL,
            sourceRunId TEXT NOT NULL,
            runId TEXT NOT NULL REFERENCES run(id),
            sourcePath TEXT NOT NULL,
            shardIndex INTEGER,
            shardCount INTEGER,
            startedAt TEXT NOT NULL,
            finishedAt TEXT,
            status TEXT NOT NULL,
            exitStatus INTEGER,
            dryRun INTEGER NOT NULL,
            mergedAt TEXT NOT NULL,
            PRIMARY KEY (sourceStore, sourceRunId)
        ) WITHOUT ROWID;
        CREATE INDEX mergedRun_run ON mergedRun(runId);

        PRAGMA user_version = 7;
        """
}
