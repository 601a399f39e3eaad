-- Labels, quality flags and frozen datasets.

-- Sessions: a (ticker, trade_date) price row with volume > 0, numbered per ticker in time order.
-- Halt rows never reach `prices`, but the filter keeps the definition honest for imported data.
CREATE VIEW sessions AS
SELECT ticker,
       trade_date,
       close,
       (row_number() OVER w)::integer AS session_no
FROM prices
WHERE volume > 0
WINDOW w AS (PARTITION BY ticker ORDER BY trade_date);
COMMENT ON VIEW sessions IS 'Trading sessions per ticker (volume > 0), numbered in time order.';

-- A named label definition; several coexist (the study's same_day beside finsent's next_session).
CREATE TABLE label_definitions (
    name       text PRIMARY KEY CHECK (name ~ '^[a-z0-9_.-]+$'),
    rule       text    NOT NULL CHECK (rule IN ('next_session', 'same_day')),
    horizon    integer NOT NULL DEFAULT 1 CHECK (horizon >= 1),
    band       numeric NOT NULL DEFAULT 0 CHECK (band >= 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    labelled_at timestamptz          -- start of the last `finsent label` run: later price changes relabel
);
COMMENT ON TABLE label_definitions IS
    'next_session: first session opening (09:00 KST) strictly after the post; same_day: the post''s KST date '
    'must be a session (the 2023 study). Target: close `horizon` sessions from that session vs the close '
    'of the session before it. |ret| < band (or ret = 0) is labelled flat.';

-- No foreign keys: the per-row checks cost more than the label join itself (bench/labels.py);
-- `finsent label` registers the definition before it writes.
CREATE TABLE labels (
    definition   text    NOT NULL,
    ticker       text    NOT NULL,
    post_id      bigint  NOT NULL,
    session_date date    NOT NULL,   -- the session the post is about (its first session after the post)
    base_date    date    NOT NULL,   -- the session whose close the return starts from
    target_date  date    NOT NULL,   -- the session whose close the return ends at
    ret          double precision NOT NULL,  -- close(target) / close(base) - 1
    label        text    NOT NULL CHECK (label IN ('up', 'down', 'flat')),
    labelled_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (definition, ticker, post_id)
);

-- Quality rules: flags per post, never deletions. post_quality marks a post as checked (and keeps
-- its normalised title, which the dataset builder uses to keep near-duplicates in one part).
CREATE TABLE quality_rules (
    name        text PRIMARY KEY,
    description text NOT NULL
);

CREATE TABLE post_quality (
    ticker     text   NOT NULL,
    post_id    bigint NOT NULL,
    title_norm text   NOT NULL,
    checked_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (ticker, post_id)
);
CREATE INDEX post_quality_title_norm_idx ON post_quality (ticker, title_norm);

CREATE TABLE post_flags (
    ticker  text   NOT NULL,
    post_id bigint NOT NULL,
    rule    text   NOT NULL REFERENCES quality_rules (name),
    PRIMARY KEY (ticker, post_id, rule)
);
CREATE INDEX post_flags_rule_idx ON post_flags (rule);

-- Frozen dataset snapshots and their membership.
CREATE TABLE datasets (
    name         text PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9_.-]+$'),
    spec         jsonb   NOT NULL,   -- everything needed to rebuild it
    content_hash text    NOT NULL,   -- sha256 over the sorted membership and titles
    rows         integer NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE dataset_rows (
    dataset      text   NOT NULL REFERENCES datasets (name) ON DELETE CASCADE,
    ticker       text   NOT NULL,
    post_id      bigint NOT NULL,
    split        text   NOT NULL CHECK (split IN ('train', 'valid', 'test')),
    label        text   NOT NULL CHECK (label IN ('up', 'down')),
    session_date date   NOT NULL,
    PRIMARY KEY (dataset, ticker, post_id)
);
CREATE INDEX dataset_rows_split_idx ON dataset_rows (dataset, split);
