-- A model that reads the comments under a post (--text title+body+comments) scores it with the comments
-- written before its session opened that are stored when it scores; the count it read is kept, so
-- that `finsent score` scores the post again when that set changes (a later crawl, a flag, a label).
ALTER TABLE post_scores ADD COLUMN comments_read integer;
COMMENT ON COLUMN post_scores.comments_read IS
    'how many comments under the post the model read (NULL: a model that reads no comments)';
