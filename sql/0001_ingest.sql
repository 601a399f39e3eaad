-- Ingest: the stocks, their discussion-board posts, their daily prices, and crawl bookkeeping.
-- All timestamps are timestamptz; Naver's board times are KST and are stored as such.

CREATE TABLE tickers (
    code     text PRIMARY KEY CHECK (code ~ '^[0-9A-Z]{6}$'),
    name     text NOT NULL,
    market   text NOT NULL DEFAULT 'KOSPI',
    added_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE tickers IS 'Stocks finsent knows; crawl and prices refuse codes not listed here.';

-- No foreign key to tickers on purpose: its per-row check halves bulk-insert throughput (measured
-- in bench/ingest.py), and every writer checks codes against tickers before it writes.
CREATE TABLE posts (
    ticker          text        NOT NULL,
    post_id         bigint      NOT NULL,   -- Naver''s nid: global, increasing with time
    posted_at       timestamptz NOT NULL,
    title           text        NOT NULL,
    body            text,                   -- plain text (line breaks kept); NULL when the source has none
    author          text,                   -- nickname as shown (masked on the legacy board)
    author_id       text,                   -- profileId (JSON source only)
    is_reply        boolean     NOT NULL DEFAULT false,
    parent_id       bigint,
    cleanbot_passed boolean,                -- false: hidden by Naver''s clean-bot; NULL: unknown
    holder_verified boolean,                -- writer verified as a holder of the stock
    post_type       text,                   -- 'normal' | 'itemNewsResearch' (JSON source)
    views           integer,
    likes           integer,
    dislikes        integer,
    comment_count   integer,
    source          text        NOT NULL,   -- 'naver-mobile' | 'naver-html' | 'csv'
    crawled_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (ticker, post_id)
);
-- The label join walks each ticker's posts in time order.
CREATE INDEX posts_ticker_posted_at_idx ON posts (ticker, posted_at);
COMMENT ON TABLE posts IS 'Every discussion-board post, one row per (ticker, post_id); never updated by re-crawls.';

CREATE TABLE prices (
    ticker     text          NOT NULL REFERENCES tickers (code),
    trade_date date          NOT NULL,
    open       numeric(14, 2) NOT NULL,
    high       numeric(14, 2) NOT NULL,
    low        numeric(14, 2) NOT NULL,
    close      numeric(14, 2) NOT NULL,
    volume     bigint        NOT NULL CHECK (volume >= 0),
    adjusted   boolean       NOT NULL,      -- split-adjusted (fchart, siseJson) or raw (legacy sise_day)
    source     text          NOT NULL,      -- 'fchart' | 'sisejson' | 'sise-day' | 'csv'
    fetched_at timestamptz   NOT NULL DEFAULT now(),
    PRIMARY KEY (ticker, trade_date)
);
COMMENT ON TABLE prices IS 'Daily OHLCV per session; trading-halt rows (volume 0) are not stored.';

-- Where each board walk stands. A walk goes newest to oldest; every page is committed together
-- with this row, so a killed run resumes from resume_cursor and loses nothing.
CREATE TABLE crawl_watermarks (
    ticker               text        NOT NULL REFERENCES tickers (code),
    source               text        NOT NULL,
    newest_post_id       bigint,      -- complete from here down to the previous walk's floor...
    newest_posted_at     timestamptz,
    oldest_posted_at     timestamptz, -- ...and, once no walk is open, back to here
    resume_cursor        text,        -- non-NULL while a walk is unfinished: the next (older) page
    resume_floor_post_id bigint,      -- that walk stops at this id...
    resume_floor_at      timestamptz, -- ...or at this time
    updated_at           timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (ticker, source)
);

-- One row per (command run, ticker): what it fetched, stored, skipped and how long it took.
-- Counters are updated in the same transaction as the rows they count.
CREATE TABLE crawl_runs (
    run_id      bigserial PRIMARY KEY,
    batch_id    uuid        NOT NULL,       -- one CLI invocation
    command     text        NOT NULL,       -- 'crawl' | 'prices' | 'import-posts' | 'import-prices'
    source      text        NOT NULL,
    ticker      text,
    status      text        NOT NULL DEFAULT 'running'
                CHECK (status IN ('running', 'ok', 'failed', 'locked', 'interrupted')),
    started_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    finished_at timestamptz,
    pages       integer     NOT NULL DEFAULT 0,
    fetched     integer     NOT NULL DEFAULT 0,
    inserted    integer     NOT NULL DEFAULT 0,
    updated     integer     NOT NULL DEFAULT 0,
    duplicates  integer     NOT NULL DEFAULT 0,
    skipped     integer     NOT NULL DEFAULT 0,
    retries     integer     NOT NULL DEFAULT 0,
    failures    integer     NOT NULL DEFAULT 0,
    error       text
);
CREATE INDEX crawl_runs_ticker_started_idx ON crawl_runs (ticker, started_at DESC);
