-- News headlines, the second source (issue 20): Naver's per-stock news (SOURCES.md section 3b).
-- One row per (ticker, article): Naver tags an article to each stock it concerns, and a cluster of
-- the list (one story carried by several offices) is flattened into its articles; story_key says
-- which articles are one story, so that models and indexes can count a story once.

-- No foreign key to tickers, like posts: every writer checks codes against tickers first.
CREATE TABLE news (
    ticker       text        NOT NULL,
    office_id    text        NOT NULL CHECK (office_id ~ '^[0-9]{1,10}$'),   -- the press office, e.g. '015'
    article_id   text        NOT NULL CHECK (article_id ~ '^[0-9]{1,20}$'),  -- e.g. '0005012345' (zeros kept)
    published_at timestamptz NOT NULL,      -- Naver's `datetime`, read as KST
    title        text        NOT NULL,      -- HTML entities unescaped (&quot; -> ")
    summary      text,                      -- the list's `body` (a summary), unescaped; NULL when absent
    office_name  text,                      -- e.g. '한국경제'
    story_key    text        NOT NULL,      -- 'OFFICE/ARTICLE' of one article of the story; shared by all of
                                            -- the story's articles of this ticker (merged when a cluster joins two)
    article_url  text        GENERATED ALWAYS AS
                 ('https://n.news.naver.com/mnews/article/' || office_id || '/' || article_id) STORED,
    source       text        NOT NULL,      -- 'naver-news' | 'csv'
    fetched_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (ticker, office_id, article_id)
);
CREATE INDEX news_ticker_published_at_idx ON news (ticker, published_at);
CREATE INDEX news_ticker_story_key_idx ON news (ticker, story_key);
COMMENT ON TABLE news IS 'Per-stock news headlines, one row per (ticker, office_id, article_id); story_key groups '
    'the articles of one story (several offices carrying it).';

-- Where each ticker's news walk stands. The list pages by number and shifts as stories arrive, so
-- a walk is bounded by time: down to the newest article of the previous complete walk.
CREATE TABLE news_watermarks (
    ticker              text        PRIMARY KEY REFERENCES tickers (code),
    newest_published_at timestamptz,  -- complete from here down to the previous walk's floor...
    oldest_published_at timestamptz,  -- ...and, once no walk is open, back to here
    resume_page         integer,      -- non-NULL while a walk is unfinished: the next page to fetch
    resume_floor_at     timestamptz,  -- that walk stops once a whole page is older than this
    updated_at          timestamptz NOT NULL DEFAULT now()
);
