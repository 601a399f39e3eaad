-- Hand edits of posts and news (issue 32 #12). A title or a time changed by hand (psql, a fix-up
-- script) was never seen again: its score, its quality flags and its labels stayed those of the old
-- text. Now such an update restamps the row (a new change_seq, so the day's label and score runs
-- read it) and is logged here; `finsent reconcile` consumes the log, drops what the old text decided
-- (scores of every version, quality flags, labels) and has the steps redo it. Deleted rows need no
-- log: reconcile finds what refers to a row that is gone.
CREATE TABLE text_edits (
    source        text    NOT NULL CHECK (source IN ('board', 'news')),
    ticker        text    NOT NULL,
    post_id       bigint,           -- board
    office_id     text,             -- news
    article_id    text,
    title_changed boolean NOT NULL, -- scores and flags depend on it
    time_changed  boolean NOT NULL, -- labels and the index session depend on it
    edited_at     timestamptz NOT NULL DEFAULT clock_timestamp()
);
COMMENT ON TABLE text_edits IS
    'Titles and times of posts and news changed by an UPDATE (hand edits), until `finsent reconcile` handles them.';

CREATE FUNCTION posts_log_edit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.changed_seq := nextval('change_seq');
    INSERT INTO text_edits (source, ticker, post_id, title_changed, time_changed)
    VALUES ('board', NEW.ticker, NEW.post_id, OLD.title IS DISTINCT FROM NEW.title
            OR (OLD.ticker, OLD.post_id) IS DISTINCT FROM (NEW.ticker, NEW.post_id),
            OLD.posted_at IS DISTINCT FROM NEW.posted_at
            OR (OLD.ticker, OLD.post_id) IS DISTINCT FROM (NEW.ticker, NEW.post_id));
    RETURN NEW;
END $$;
CREATE FUNCTION news_log_edit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.changed_seq := nextval('change_seq');
    INSERT INTO text_edits (source, ticker, office_id, article_id, title_changed, time_changed)
    VALUES ('news', NEW.ticker, NEW.office_id, NEW.article_id, OLD.title IS DISTINCT FROM NEW.title
            OR (OLD.ticker, OLD.office_id, OLD.article_id) IS DISTINCT FROM (NEW.ticker, NEW.office_id, NEW.article_id),
            OLD.published_at IS DISTINCT FROM NEW.published_at
            OR (OLD.ticker, OLD.office_id, OLD.article_id) IS DISTINCT FROM (NEW.ticker, NEW.office_id, NEW.article_id));
    RETURN NEW;
END $$;
-- Only an edit of what the steps read fires them (a story merge updates news.story_key: not an edit).
CREATE TRIGGER posts_edited BEFORE UPDATE OF ticker, post_id, title, posted_at ON posts FOR EACH ROW
    WHEN ((OLD.ticker, OLD.post_id, OLD.title, OLD.posted_at) IS DISTINCT FROM
          (NEW.ticker, NEW.post_id, NEW.title, NEW.posted_at))
    EXECUTE FUNCTION posts_log_edit();
CREATE TRIGGER news_edited BEFORE UPDATE OF ticker, office_id, article_id, title, published_at ON news FOR EACH ROW
    WHEN ((OLD.ticker, OLD.office_id, OLD.article_id, OLD.title, OLD.published_at) IS DISTINCT FROM
          (NEW.ticker, NEW.office_id, NEW.article_id, NEW.title, NEW.published_at))
    EXECUTE FUNCTION news_log_edit();
