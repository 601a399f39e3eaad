-- Hostile feeds (issue 32): a record that fails validation (a lone surrogate, an empty title, a date of
-- 1900, a title of megabytes, a time more than a day ahead) is quarantined on its own, and the good
-- records of its page are stored. The run counts them, beside the rows it stored.
ALTER TABLE crawl_runs ADD COLUMN quarantined integer NOT NULL DEFAULT 0;
COMMENT ON COLUMN crawl_runs.quarantined IS
    'records refused by validation (finsent.ingest.validation), saved under FINSENT_DATA_DIR/quarantine/, not stored';
