-- Comments as a text source (issue 30): labelled by the same rules as posts and news (by the time a
-- comment was written), quality-flagged, scored by their own registered model
-- (`finsent-comments-updown`) and indexed in daily_sentiment as source 'comments'. Tables keyed like
-- comments: (ticker, post_id, comment_no).

-- A comment's id in snapshots and backtests: -item_id, like a news article's (sql/0032). It draws
-- from the news' sequence, so a comment's id never meets an article's (nor a post's: negative).
ALTER TABLE comments ADD COLUMN item_id bigint;
UPDATE comments SET item_id = nextval('news_item_seq');
ALTER TABLE comments ALTER COLUMN item_id SET DEFAULT nextval('news_item_seq'),
                     ALTER COLUMN item_id SET NOT NULL;
CREATE UNIQUE INDEX comments_ticker_item_id_idx ON comments (ticker, item_id);
COMMENT ON COLUMN comments.item_id IS
    'The comment''s id in dataset_rows.post_id and backtest_scores.post_id (as -item_id; drawn from news_item_seq).';

-- No foreign keys, like labels: `finsent label` registers the definition before it writes.
CREATE TABLE comment_labels (
    definition   text    NOT NULL,
    ticker       text    NOT NULL,
    post_id      bigint  NOT NULL,
    comment_no   bigint  NOT NULL,
    session_date date    NOT NULL,
    base_date    date    NOT NULL,
    target_date  date    NOT NULL,
    ret          double precision NOT NULL,
    label        text    NOT NULL CHECK (label IN ('up', 'down', 'flat')),
    labelled_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (definition, ticker, post_id, comment_no)
);
-- a changed price relabels the labels whose return runs through it (as labels and news_labels)
CREATE INDEX comment_labels_definition_ticker_target_idx ON comment_labels (definition, ticker, target_date);
COMMENT ON TABLE comment_labels IS 'Labels of comments under the definitions of label_definitions, by the rules of labels.';
COMMENT ON COLUMN comment_labels.definition IS 'the label definition';
COMMENT ON COLUMN comment_labels.ticker IS 'the stock';
COMMENT ON COLUMN comment_labels.post_id IS 'the post the comment is under';
COMMENT ON COLUMN comment_labels.comment_no IS 'the comment (comments.comment_no)';
COMMENT ON COLUMN comment_labels.session_date IS 'the session the comment is about: the first that opens after it was written';
COMMENT ON COLUMN comment_labels.base_date IS 'the session before it (a price written from here to target_date relabels)';
COMMENT ON COLUMN comment_labels.target_date IS 'the session whose close the return ends at';
COMMENT ON COLUMN comment_labels.ret IS 'as labels.ret';
COMMENT ON COLUMN comment_labels.label IS 'up, down or flat';
COMMENT ON COLUMN comment_labels.labelled_at IS 'when it was written';

-- Flags per comment, never deletions; a function of the data (finsent.data.comment_quality).
CREATE TABLE comment_flags (
    ticker     text   NOT NULL,
    post_id    bigint NOT NULL,
    comment_no bigint NOT NULL,
    rule       text   NOT NULL,
    flagged_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (ticker, post_id, comment_no, rule)
);
COMMENT ON TABLE comment_flags IS 'Quality flags of comments (comment_empty, comment_spam, comment_duplicate); '
    'kept in step with the data: a flag whose reason went away is removed.';
COMMENT ON COLUMN comment_flags.ticker IS 'the stock';
COMMENT ON COLUMN comment_flags.post_id IS 'the post the comment is under';
COMMENT ON COLUMN comment_flags.comment_no IS 'the comment';
COMMENT ON COLUMN comment_flags.rule IS 'comment_empty, comment_spam or comment_duplicate';
COMMENT ON COLUMN comment_flags.flagged_at IS 'when';

CREATE TABLE comment_scores (
    model_version integer NOT NULL,   -- version of the registered model `finsent-comments-updown`
    ticker        text    NOT NULL,
    post_id       bigint  NOT NULL,
    comment_no    bigint  NOT NULL,
    p_up          real    NOT NULL CHECK (p_up BETWEEN 0 AND 1),
    scored_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (model_version, ticker, post_id, comment_no)
);
CREATE INDEX comment_scores_version_scored_at_idx ON comment_scores (model_version, scored_at);
COMMENT ON TABLE comment_scores IS 'P(up) per comment and version of finsent-comments-updown (the comments champion).';
COMMENT ON COLUMN comment_scores.model_version IS 'the version of the registered model finsent-comments-updown';
COMMENT ON COLUMN comment_scores.ticker IS 'the stock';
COMMENT ON COLUMN comment_scores.post_id IS 'the post the comment is under';
COMMENT ON COLUMN comment_scores.comment_no IS 'the comment';
COMMENT ON COLUMN comment_scores.p_up IS 'the probability that the comment''s session goes up';
COMMENT ON COLUMN comment_scores.scored_at IS 'when it was scored';

-- Comments whose flags were added or removed, and when: the comments index rewrites their sessions.
-- A NULL ticker: every flag changed (TRUNCATE).
CREATE TABLE comment_index_changes (
    ticker     text,
    post_id    bigint,
    comment_no bigint,
    changed_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX comment_index_changes_changed_at_idx ON comment_index_changes (changed_at);
COMMENT ON TABLE comment_index_changes IS
    'Comments whose flags were added or removed, and when: the comments index rewrites their sessions.';
COMMENT ON COLUMN comment_index_changes.ticker IS 'the stock; NULL: every flag changed (a TRUNCATE)';
COMMENT ON COLUMN comment_index_changes.post_id IS 'the post the comment is under';
COMMENT ON COLUMN comment_index_changes.comment_no IS 'the comment';
COMMENT ON COLUMN comment_index_changes.changed_at IS 'when its flags changed';

CREATE FUNCTION comment_flags_log_rows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO comment_index_changes (ticker, post_id, comment_no)
    SELECT DISTINCT ticker, post_id, comment_no FROM changed_flags;
    RETURN NULL;
END $$;
CREATE FUNCTION comment_flags_log_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO comment_index_changes (ticker, post_id, comment_no) VALUES (NULL, NULL, NULL);
    RETURN NULL;
END $$;
-- statement-level with transition tables, as post_flags and news_flags: one insert per statement
CREATE TRIGGER comment_flags_inserted AFTER INSERT ON comment_flags REFERENCING NEW TABLE AS changed_flags
    FOR EACH STATEMENT EXECUTE FUNCTION comment_flags_log_rows();
CREATE TRIGGER comment_flags_deleted AFTER DELETE ON comment_flags REFERENCING OLD TABLE AS changed_flags
    FOR EACH STATEMENT EXECUTE FUNCTION comment_flags_log_rows();
CREATE TRIGGER comment_flags_truncated AFTER TRUNCATE ON comment_flags
    FOR EACH STATEMENT EXECUTE FUNCTION comment_flags_log_truncate();

-- The comments' scoring reads what was stamped since its version's last run, as the news' does.
ALTER TABLE step_watermarks DROP CONSTRAINT step_watermarks_step_check,
    ADD CONSTRAINT step_watermarks_step_check CHECK (step IN ('label', 'score', 'score-news', 'score-comments'));

-- Every table keyed by a source name takes the third one.
ALTER TABLE dataset_rows DROP CONSTRAINT dataset_rows_source_check,
    ADD CONSTRAINT dataset_rows_source_check CHECK (source IN ('board', 'news', 'comments'));
ALTER TABLE daily_sentiment DROP CONSTRAINT daily_sentiment_source_check,
    ADD CONSTRAINT daily_sentiment_source_check CHECK (source IN ('board', 'news', 'comments'));
ALTER TABLE daily_sentiment_state DROP CONSTRAINT daily_sentiment_state_source_check,
    ADD CONSTRAINT daily_sentiment_state_source_check CHECK (source IN ('board', 'news', 'comments'));
ALTER TABLE backtest_steps DROP CONSTRAINT backtest_steps_source_check,
    ADD CONSTRAINT backtest_steps_source_check CHECK (source IN ('board', 'news', 'comments'));
ALTER TABLE backtest_daily DROP CONSTRAINT backtest_daily_source_check,
    ADD CONSTRAINT backtest_daily_source_check CHECK (source IN ('board', 'news', 'comments'));
-- a post's id is positive; a news article's and a comment's (-item_id) negative
ALTER TABLE backtest_scores DROP CONSTRAINT backtest_scores_source_check, DROP CONSTRAINT backtest_scores_news_ids,
    ADD CONSTRAINT backtest_scores_source_check CHECK (source IN ('board', 'news', 'comments')),
    ADD CONSTRAINT backtest_scores_board_ids CHECK ((source = 'board') = (post_id >= 0));
COMMENT ON COLUMN backtest_scores.source IS
    'board: post_id is posts.post_id; news: post_id = -news.item_id; comments: post_id = -comments.item_id.';
COMMENT ON COLUMN dataset_rows.post_id IS
    'board: posts.post_id; news: -news.item_id (office_id and article_id beside it); comments: -comments.item_id.';
COMMENT ON COLUMN dataset_rows.source IS 'board, news or comments';
