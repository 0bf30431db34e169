extension Schema {
    // The names `index.json` derives from the reference store: every tag's current digest (the tag table) and
    // every digest-pinned reference ever stored. The partial index keeps finding the pinned ones proportional to
    // how many there are, not to the whole observation history (which grows by one row per reference per run).
    static let v4Names = """
        CREATE INDEX observation_pinned ON observation(reference)
            WHERE requestedDigest IS NOT NULL AND manifestDigest IS NOT NULL AND dryRun = 0 AND outcome != 'failed';

        PRAGMA user_version = 4;
        """
}
