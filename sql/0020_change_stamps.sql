-- Change stamps (issue 22): the day's `finsent label` and `finsent score` read only what changed
-- since their last run, through an index, instead of anti-joining every post against every label
-- or score.
--
-- One sequence stamps every row written to posts, news and prices (and every price deleted). A
-- step remembers the last stamp it has processed (step_watermarks); its next run takes the stamps
-- above it. A run reads its upper stamp after waiting for the writers in flight (a SHARE lock on
-- the stamped tables, held for a moment): every row stamped up to there is committed, every later
-- row gets a larger stamp. No CACHE on the sequence: a per-session cache would hand out stamps out
-- of order and break exactly that.
CREATE SEQUENCE change_seq;

-- Rows written before this migration keep a NULL stamp: a step without a watermark (its first run
-- after the upgrade, a new model version or label definition) processes everything, as before.
ALTER TABLE posts ADD COLUMN changed_seq bigint;
ALTER TABLE posts ALTER COLUMN changed_seq SET DEFAULT nextval('change_seq');
ALTER TABLE news ADD COLUMN changed_seq bigint;
ALTER TABLE news ALTER COLUMN changed_seq SET DEFAULT nextval('change_seq');
ALTER TABLE prices ADD COLUMN changed_seq bigint;
COMMENT ON COLUMN posts.changed_seq IS 'change_seq when the row was written (NULL: before migration 0020)';
COMMENT ON COLUMN news.changed_seq IS 'change_seq when the row was written (NULL: before migration 0020)';
COMMENT ON COLUMN prices.changed_seq IS 'change_seq when the row was last written (a re-fetch that changes a bar restamps it)';

CREATE INDEX posts_changed_seq_idx ON posts (changed_seq);
CREATE INDEX news_changed_seq_idx ON news (changed_seq);
CREATE INDEX prices_changed_seq_idx ON prices (changed_seq);

-- Prices are updated in place (a re-fetch after a split): the row trigger of 0005 that stamps
-- fetched_at on every write stamps changed_seq too.
CREATE OR REPLACE FUNCTION prices_stamp() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.fetched_at := clock_timestamp();
    NEW.changed_seq := nextval('change_seq');
    RETURN NEW;
END $$;

-- A deleted session (a bar the source no longer lists) moves the day map of its ticker's posts:
-- kept here with its stamp, so the label run finds the posts around it.
CREATE TABLE price_deletions (
    ticker      text    NOT NULL,
    trade_date  date    NOT NULL,
    changed_seq bigint  NOT NULL DEFAULT nextval('change_seq'),
    deleted_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX price_deletions_changed_seq_idx ON price_deletions (changed_seq);
COMMENT ON TABLE price_deletions IS 'Sessions deleted from prices, stamped like the rows of prices (change_seq).';

CREATE FUNCTION prices_log_deletions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO price_deletions (ticker, trade_date) SELECT ticker, trade_date FROM deleted_prices;
    RETURN NULL;
END $$;
CREATE TRIGGER prices_deleted AFTER DELETE ON prices REFERENCING OLD TABLE AS deleted_prices
    FOR EACH STATEMENT EXECUTE FUNCTION prices_log_deletions();

-- Per step and version (a label definition's name, a model version), the last stamp processed.
CREATE TABLE step_watermarks (
    step       text    NOT NULL CHECK (step IN ('label', 'score')),
    version    text    NOT NULL,   -- label: the definition's name; score: the model version
    last_seq   bigint  NOT NULL,   -- every row stamped up to here is processed
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (step, version)
);
COMMENT ON TABLE step_watermarks IS
    'How far each incremental step has read the change stamps (change_seq) of posts, news and prices.';

-- A changed price relabels the labels whose return runs through it: per ticker, those ending on or
-- after it (a range of this index; a new session at the end of the history finds none).
CREATE INDEX labels_definition_ticker_target_idx ON labels (definition, ticker, target_date);
CREATE INDEX news_labels_definition_ticker_target_idx ON news_labels (definition, ticker, target_date);
