-- A news article's id in snapshots and backtests (issue 32 #7). It was -(office_id * 10^10 +
-- article_id): a 20-digit article id (the schema allows them) overflowed bigint and broke every
-- build and backtest that met it, and two articles could map to one id (office 1, article
-- 20000000005 and office 3, article 5), which then collided in dataset_rows and backtest_scores.
-- Now each news row has a surrogate id of its own, item_id, drawn from a sequence when it is stored;
-- snapshots and backtests use -item_id (negative: it never meets a post's id).
--
-- Upgrade path: a stored article whose old id fit and was unique (article_id of at most 10 digits,
-- the product below bigint's range) keeps it as item_id, so the snapshots and backtest scores written
-- before this migration still match their articles; the others (which no build or backtest could
-- have stored) get ids from the sequence, which starts above every kept one.
ALTER TABLE news ADD COLUMN item_id bigint;

UPDATE news SET item_id = office_id::numeric * 10000000000 + article_id::numeric
WHERE length(ltrim(article_id, '0')) <= 10
  AND office_id::numeric * 10000000000 + article_id::numeric BETWEEN 1 AND 9223372036854775807;

CREATE SEQUENCE news_item_seq OWNED BY news.item_id;
SELECT setval('news_item_seq', coalesce((SELECT max(item_id) FROM news), 0) + 1, false);
UPDATE news SET item_id = nextval('news_item_seq') WHERE item_id IS NULL;

ALTER TABLE news ALTER COLUMN item_id SET DEFAULT nextval('news_item_seq'),
                 ALTER COLUMN item_id SET NOT NULL;
-- one article tagged to two stocks is two rows (an old id is shared by them; a new row draws its own)
CREATE UNIQUE INDEX news_ticker_item_id_idx ON news (ticker, item_id);
COMMENT ON COLUMN news.item_id IS
    'The article''s id in dataset_rows.post_id and backtest_scores.post_id (as -item_id); unique per ticker.';
COMMENT ON COLUMN backtest_scores.source IS
    'board: post_id is posts.post_id; news: post_id = -news.item_id (sql/0032).';
COMMENT ON COLUMN dataset_rows.post_id IS
    'board: posts.post_id; news: -news.item_id (sql/0032; office_id and article_id are kept beside it).';
