-- News scoring reads only what changed too (issue 22's change stamps, for the second source): the news
-- articles stamped since the news version's watermark, kept under its own step name, since a news
-- version's number repeats a board version's.
ALTER TABLE step_watermarks DROP CONSTRAINT step_watermarks_step_check,
    ADD CONSTRAINT step_watermarks_step_check CHECK (step IN ('label', 'score', 'score-news'));
COMMENT ON COLUMN step_watermarks.version IS
    'label: the definition''s name; score: the finsent-updown version; score-news: the finsent-news-updown version';
