-- Which data here are synthetic: the demo (`finsent stack demo`, `make compose-demo`) crawls the
-- loopback Naver, whose board and news carry a planted signal, and says so here before its first
-- crawl. The Sentiment page shows a banner while a row exists, so a planted signal's Sharpe is
-- never read as the market's.
CREATE TABLE synthetic_data (
    source      text PRIMARY KEY,
    description text        NOT NULL,
    marked_at   timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE synthetic_data IS
    'Who wrote synthetic data into this database (the demo''s loopback Naver): while a row exists, every number shown measures a planted signal, not a market; the Sentiment page says so in a banner.';
COMMENT ON COLUMN synthetic_data.source IS 'what wrote them: finsent stack demo or the compose demo';
COMMENT ON COLUMN synthetic_data.description IS 'what they are, in words (shown in the banner)';
COMMENT ON COLUMN synthetic_data.marked_at IS 'when it last marked them (each demo run marks again)';
