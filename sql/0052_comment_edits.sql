-- Edited comments (issue 30, as sql/0033 for posts and news): a re-fetch that changes a comment's text
-- (an edit, a deletion that blanks it) or its time is logged, so `finsent reconcile` drops what the
-- old text decided (its scores of every version, its flags) and the steps redo it. The crawl's
-- upsert restamps the row itself (changed_seq); this trigger only logs.
ALTER TABLE text_edits ADD COLUMN comment_no bigint,
    DROP CONSTRAINT text_edits_source_check,
    ADD CONSTRAINT text_edits_source_check CHECK (source IN ('board', 'news', 'comments'));
COMMENT ON COLUMN text_edits.comment_no IS 'comments: the comment (post_id: the post it is under)';

CREATE FUNCTION comments_log_edit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO text_edits (source, ticker, post_id, comment_no, title_changed, time_changed)
    VALUES ('comments', NEW.ticker, NEW.post_id, NEW.comment_no, OLD.text IS DISTINCT FROM NEW.text,
            OLD.written_at IS DISTINCT FROM NEW.written_at);
    RETURN NEW;
END $$;
CREATE TRIGGER comments_edited BEFORE UPDATE OF text, written_at ON comments FOR EACH ROW
    WHEN ((OLD.text, OLD.written_at) IS DISTINCT FROM (NEW.text, NEW.written_at))
    EXECUTE FUNCTION comments_log_edit();
