-- A universe as data (issue 22): when each ticker was in the universe (an index's members), as
-- date ranges, so datasets and backtests use the members of each session, not today's survivors.
-- Both ends inclusive; NULL member_from: since before any data, NULL member_to: still a member.
-- A ticker without any row here (seeded defaults, `finsent tickers add`) counts as always a member.
CREATE TABLE ticker_memberships (
    ticker      text NOT NULL REFERENCES tickers (code) ON DELETE CASCADE,
    member_from date,
    member_to   date,
    CHECK (member_from IS NULL OR member_to IS NULL OR member_from <= member_to),
    UNIQUE NULLS NOT DISTINCT (ticker, member_from)
);
CREATE INDEX ticker_memberships_ticker_idx ON ticker_memberships (ticker);
COMMENT ON TABLE ticker_memberships IS
    'Universe membership per ticker as inclusive date ranges (from `finsent tickers import`); no rows: always a member.';
