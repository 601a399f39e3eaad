-- News scores and a daily index per source (issue 20): `finsent score` scores news articles with the
-- news champion (`finsent-news-updown`) as it scores posts with the board's (`finsent-updown`), and
-- daily_sentiment holds one index per source. The two registered models number their versions
-- independently (both have a v1), so every index row and build stamp is keyed by its source too.

-- P(up) per news article and version of `finsent-news-updown`; keyed like news_labels.
CREATE TABLE news_scores (
    model_version integer NOT NULL,   -- version of the registered model `finsent-news-updown`
    ticker        text    NOT NULL,
    office_id     text    NOT NULL,
    article_id    text    NOT NULL,
    p_up          real    NOT NULL CHECK (p_up BETWEEN 0 AND 1),
    scored_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (model_version, ticker, office_id, article_id)
);
CREATE INDEX news_scores_version_scored_at_idx ON news_scores (model_version, scored_at);
COMMENT ON TABLE news_scores IS 'P(up) per news article and version of finsent-news-updown (the news champion).';

-- Existing rows are the board's index.
ALTER TABLE daily_sentiment
    ADD COLUMN source text NOT NULL DEFAULT 'board' CHECK (source IN ('board', 'news')),
    DROP CONSTRAINT daily_sentiment_pkey,
    ADD PRIMARY KEY (source, model_version, ticker, session_date);
COMMENT ON TABLE daily_sentiment IS
    'Per source, stock and session: how bullish the board (source board, model finsent-updown) or the news '
    '(source news, model finsent-news-updown) was before the open, by that model''s version.';
COMMENT ON COLUMN daily_sentiment.n_posts IS
    'the votes: posts (board); stories (news: the articles of one story from several offices are one vote)';

ALTER TABLE daily_sentiment_state
    ADD COLUMN source text NOT NULL DEFAULT 'board' CHECK (source IN ('board', 'news')),
    DROP CONSTRAINT daily_sentiment_state_pkey,
    ADD PRIMARY KEY (source, model_version);

-- News articles whose flags were added or removed, or whose story changed (a cluster that joins two
-- stories), and when: the news index rewrites their sessions. A NULL ticker: every flag changed (TRUNCATE).
CREATE TABLE news_index_changes (
    ticker     text,
    office_id  text,
    article_id text,
    changed_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX news_index_changes_changed_at_idx ON news_index_changes (changed_at);

CREATE FUNCTION news_flags_log_rows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO news_index_changes (ticker, office_id, article_id)
    SELECT DISTINCT ticker, office_id, article_id FROM changed_flags;
    RETURN NULL;
END $$;
CREATE FUNCTION news_flags_log_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO news_index_changes (ticker, office_id, article_id) VALUES (NULL, NULL, NULL);
    RETURN NULL;
END $$;
CREATE FUNCTION news_log_story_changes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO news_index_changes (ticker, office_id, article_id)
    SELECT n.ticker, n.office_id, n.article_id FROM new_rows n
    JOIN old_rows o USING (ticker, office_id, article_id) WHERE o.story_key <> n.story_key;
    RETURN NULL;
END $$;
-- statement-level with transition tables, as post_flags: one insert per statement
CREATE TRIGGER news_flags_inserted AFTER INSERT ON news_flags REFERENCING NEW TABLE AS changed_flags
    FOR EACH STATEMENT EXECUTE FUNCTION news_flags_log_rows();
CREATE TRIGGER news_flags_deleted AFTER DELETE ON news_flags REFERENCING OLD TABLE AS changed_flags
    FOR EACH STATEMENT EXECUTE FUNCTION news_flags_log_rows();
CREATE TRIGGER news_flags_truncated AFTER TRUNCATE ON news_flags
    FOR EACH STATEMENT EXECUTE FUNCTION news_flags_log_truncate();
CREATE TRIGGER news_story_changed AFTER UPDATE ON news REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION news_log_story_changes();
