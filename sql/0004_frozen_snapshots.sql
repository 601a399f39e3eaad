-- Frozen snapshots: a dataset row carries everything training and evaluation read (title, label,
-- return, yesterday's direction), so a relabel or a price re-fetch after the build changes nothing
-- it trains or tests on. The content hash covers these values; readers recompute and compare it.

ALTER TABLE dataset_rows
    ADD COLUMN title               text,
    ADD COLUMN ret                 double precision,  -- the label's return, as frozen at build time
    ADD COLUMN previous_session_up double precision;  -- 1 up, 0 down, 0.5 flat: the last closed session

-- hash_version 1: membership and titles only (before this migration; such snapshots must be rebuilt
-- to be read). 2: every frozen column.
ALTER TABLE datasets ADD COLUMN hash_version smallint NOT NULL DEFAULT 1;
ALTER TABLE datasets ALTER COLUMN hash_version SET DEFAULT 2;

COMMENT ON COLUMN dataset_rows.ret IS 'The return behind the label when the snapshot was built (frozen).';
COMMENT ON COLUMN datasets.hash_version IS
    '2: content_hash covers title, label, session, return and previous_session_up of every row.';
