-- The daily data path stays true (issue 11): history rewrites after splits, an exam-day calendar,
-- a change stamp on prices that a concurrent label run cannot miss, and a per-host request clock
-- shared by every crawler process.

-- A history rewrite (the adjusted feed changed stored sessions: a split, a rights issue) is a
-- status of its own, so an operator sees it in `crawl_runs`.
ALTER TABLE crawl_runs DROP CONSTRAINT crawl_runs_status_check;
ALTER TABLE crawl_runs ADD CONSTRAINT crawl_runs_status_check
    CHECK (status IN ('running', 'ok', 'rewritten', 'failed', 'locked', 'interrupted'));

-- Prices that cannot be: a close of 0 would divide labels by zero, a low above the open or close
-- is a broken bar. Halt rows (volume 0) never reach this table. NOT VALID: rows stored before this
-- migration are not re-checked (an upgrade never fails on old data); every new or changed row is.
ALTER TABLE prices ADD CONSTRAINT prices_bar_is_sane
    CHECK (close > 0 AND low > 0 AND low <= open AND low <= close AND open <= high AND close <= high) NOT VALID;

-- fetched_at is the change stamp the label run compares against. It is taken when the row is
-- written (clock_timestamp), not when the writer's transaction began (now()): a writer that holds
-- its transaction open must not stamp its rows earlier than a label run that could not see them.
-- Label runs also take a SHARE lock on prices, so no write is in flight while they read.
CREATE FUNCTION prices_stamp() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.fetched_at := clock_timestamp();
    RETURN NEW;
END $$;
CREATE TRIGGER prices_stamp BEFORE INSERT OR UPDATE ON prices FOR EACH ROW EXECUTE FUNCTION prices_stamp();
CREATE INDEX prices_fetched_at_idx ON prices (fetched_at);

-- Sessions that open or close at other times than 09:00-15:30 KST. The KRX opens an hour late on
-- the first trading day of the year and on the CSAT (college entrance exam) day, which also
-- closes an hour late. Labels read `opens`, the price sync reads `closes`.
CREATE TABLE session_hours (
    trade_date date PRIMARY KEY,
    opens      time NOT NULL,
    closes     time NOT NULL,
    reason     text NOT NULL,
    CHECK (opens < closes)
);
COMMENT ON TABLE session_hours IS
    'KRX days with other hours than 09:00-15:30 KST (CSAT day, first trading day of the year).';
INSERT INTO session_hours (trade_date, opens, closes, reason) VALUES
    ('2017-11-23', '10:00', '16:30', 'CSAT'),
    ('2018-01-02', '10:00', '15:30', 'first trading day'),
    ('2018-11-15', '10:00', '16:30', 'CSAT'),
    ('2019-01-02', '10:00', '15:30', 'first trading day'),
    ('2019-11-14', '10:00', '16:30', 'CSAT'),
    ('2020-01-02', '10:00', '15:30', 'first trading day'),
    ('2020-12-03', '10:00', '16:30', 'CSAT'),
    ('2021-01-04', '10:00', '15:30', 'first trading day'),
    ('2021-11-18', '10:00', '16:30', 'CSAT'),
    ('2022-01-03', '10:00', '15:30', 'first trading day'),
    ('2022-11-17', '10:00', '16:30', 'CSAT'),
    ('2023-01-02', '10:00', '15:30', 'first trading day'),
    ('2023-11-16', '10:00', '16:30', 'CSAT'),
    ('2024-01-02', '10:00', '15:30', 'first trading day'),
    ('2024-11-14', '10:00', '16:30', 'CSAT'),
    ('2025-01-02', '10:00', '15:30', 'first trading day'),
    ('2025-11-13', '10:00', '16:30', 'CSAT'),
    ('2026-01-02', '10:00', '15:30', 'first trading day'),
    ('2026-11-19', '10:00', '16:30', 'CSAT');

-- One row per host: when the next request to it may go out. Every crawler process (Airflow runs
-- each mapped crawl as its own) reserves its slot here, so FINSENT_CRAWL_DELAY_S holds for the
-- whole deployment.
CREATE TABLE host_clock (
    host      text PRIMARY KEY,
    next_slot timestamptz NOT NULL
);
