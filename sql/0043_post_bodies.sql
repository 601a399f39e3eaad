-- Whole posts (issue 30): bodies the list cuts or omits come from the detail endpoint
-- (SOURCES.md section 1b), and snapshots freeze the body each model read.

-- A post whose list body was cut ("...") or absent waits here for one detail request. The crawl
-- that stored it fetches it right after the page (same politeness clock, robots rule, retries and
-- quarantine); a fetch that failed is tried again by the next crawl of the ticker, at most
-- MAX_DETAIL_ATTEMPTS times. The body is written once: posts.body is replaced by the detail's text
-- and the row turns 'fetched' in the same transaction, so a re-crawl never writes it again.
CREATE TABLE post_body_fetches (
    ticker     text        NOT NULL,
    post_id    bigint      NOT NULL,
    reason     text        NOT NULL CHECK (reason IN ('cut', 'missing')),
    state      text        NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'fetched', 'failed')),
    attempts   smallint    NOT NULL DEFAULT 0,
    last_error text,
    queued_at  timestamptz NOT NULL DEFAULT now(),
    fetched_at timestamptz,
    PRIMARY KEY (ticker, post_id)
);
CREATE INDEX post_body_fetches_pending_idx ON post_body_fetches (ticker, post_id) WHERE state = 'pending';
COMMENT ON TABLE post_body_fetches IS
    'Posts whose list body was cut or absent, and whether their body came from the detail endpoint.';
COMMENT ON TABLE posts IS 'Every discussion-board post, one row per (ticker, post_id); never updated by re-crawls '
    '(a body the list cut or omitted is completed once from the detail endpoint: post_body_fetches).';

-- Detail requests of a crawl run (on the board host: the crawl plan counts them with its pages).
ALTER TABLE crawl_runs ADD COLUMN details integer NOT NULL DEFAULT 0;

-- The body a snapshot row was built with (cleaned and within the snapshot's token budget); NULL for
-- a title-only snapshot, and for rows of snapshots built before this migration.
ALTER TABLE dataset_rows ADD COLUMN body text;
COMMENT ON COLUMN dataset_rows.body IS
    'The cleaned body (news: summary) frozen with the row, cut to the snapshot''s budget; NULL: title only.';

-- Body-aware quality (finsent.data.quality): a post's normalised body, hashed where it is long enough
-- to be a copy (NULL otherwise), so copy-paste bodies under different titles are found by an index.
ALTER TABLE post_quality ADD COLUMN body_key text;
CREATE INDEX post_quality_body_key_idx ON post_quality (ticker, body_key) WHERE body_key IS NOT NULL;
COMMENT ON COLUMN post_quality.body_key IS
    'md5 of the normalised body when it has at least MIN_BODY_COPY_CHARS letters or digits, else NULL';
