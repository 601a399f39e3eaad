-- News labels and quality flags (issue 20): the same label definitions as posts, one row per
-- (definition, ticker, article); flags per article, never deletions.

-- No foreign keys, like labels: `finsent label` registers the definition before it writes.
CREATE TABLE news_labels (
    definition   text    NOT NULL,
    ticker       text    NOT NULL,
    office_id    text    NOT NULL,
    article_id   text    NOT NULL,
    session_date date    NOT NULL,   -- the session the article is about (the first that opens after it)
    base_date    date    NOT NULL,   -- the session before it (a price written from here to target_date relabels)
    target_date  date    NOT NULL,   -- the session whose close the return ends at
    ret          double precision NOT NULL,  -- as labels.ret: from the open (next_open_close) or the close before
    label        text    NOT NULL CHECK (label IN ('up', 'down', 'flat')),
    labelled_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (definition, ticker, office_id, article_id)
);
COMMENT ON TABLE news_labels IS 'Labels of news articles under the definitions of label_definitions, by the rules of labels.';

CREATE TABLE news_flags (
    ticker     text NOT NULL,
    office_id  text NOT NULL,
    article_id text NOT NULL,
    rule       text NOT NULL,
    flagged_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (ticker, office_id, article_id, rule)
);
COMMENT ON TABLE news_flags IS 'Quality flags of news articles (news_story_repeat, news_market_summary); '
    'kept in step with the data: a flag whose reason went away (a story merge) is removed.';

-- Datasets of news or of both sources (`finsent dataset build --source`): each row keeps its source.
-- A news row's post_id is -(office_id * 10^10 + article_id): negative, so it never meets a post's id,
-- and it reads back to the article (office_id and article_id are kept beside it too).
ALTER TABLE dataset_rows
    ADD COLUMN source     text NOT NULL DEFAULT 'board' CHECK (source IN ('board', 'news')),
    ADD COLUMN office_id  text,
    ADD COLUMN article_id text,
    ADD CONSTRAINT dataset_rows_news_ids CHECK ((source = 'news') = (post_id < 0 AND article_id IS NOT NULL));
