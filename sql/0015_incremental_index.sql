-- An incremental daily index (issue 22): a score run rewrites only the daily_sentiment rows that
-- new scores, new or removed quality flags, or changed prices (a new session, a rewritten history)
-- change, instead of the whole history of the version.

-- When each version's index was last brought up to date (taken under a SHARE lock on prices and
-- post_flags, so a change committed later is stamped later).
CREATE TABLE daily_sentiment_state (
    model_version integer PRIMARY KEY,
    built_at      timestamptz NOT NULL
);

-- New scores since the last build.
CREATE INDEX post_scores_version_scored_at_idx ON post_scores (model_version, scored_at);

-- Which posts' flags changed (added or removed) and when; a NULL ticker: every flag changed (TRUNCATE).
CREATE TABLE post_flag_changes (
    ticker     text,
    post_id    bigint,
    changed_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX post_flag_changes_changed_at_idx ON post_flag_changes (changed_at);

CREATE FUNCTION post_flags_log_rows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO post_flag_changes (ticker, post_id) SELECT DISTINCT ticker, post_id FROM changed_flags;
    RETURN NULL;
END $$;
CREATE FUNCTION post_flags_log_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO post_flag_changes (ticker, post_id) VALUES (NULL, NULL);
    RETURN NULL;
END $$;
-- statement-level with transition tables: one insert per statement, not a call per flag
CREATE TRIGGER post_flags_inserted AFTER INSERT ON post_flags REFERENCING NEW TABLE AS changed_flags
    FOR EACH STATEMENT EXECUTE FUNCTION post_flags_log_rows();
CREATE TRIGGER post_flags_deleted AFTER DELETE ON post_flags REFERENCING OLD TABLE AS changed_flags
    FOR EACH STATEMENT EXECUTE FUNCTION post_flags_log_rows();
CREATE TRIGGER post_flags_truncated AFTER TRUNCATE ON post_flags
    FOR EACH STATEMENT EXECUTE FUNCTION post_flags_log_truncate();
