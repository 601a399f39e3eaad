-- Backtests of news headlines, or of the board and news side by side (issue 20, `finsent backtest
-- --source board|news|both`). A `both` backtest walks each source with its own model and its own
-- steps under one name, so steps and the daily index are per source; existing rows are the board's.
-- A news article's scores use the snapshots' id: post_id = -(office_id * 10^10 + article_id) < 0.

ALTER TABLE backtest_steps
    ADD COLUMN source text NOT NULL DEFAULT 'board' CHECK (source IN ('board', 'news')),
    DROP CONSTRAINT backtest_steps_pkey,
    ADD PRIMARY KEY (backtest, source, step);
COMMENT ON COLUMN backtest_steps.source IS
    'Which texts the step''s model trained on and scored: board posts or news headlines (each source walks its own steps).';

ALTER TABLE backtest_scores
    ADD COLUMN source text NOT NULL DEFAULT 'board' CHECK (source IN ('board', 'news')),
    ADD CONSTRAINT backtest_scores_news_ids CHECK ((source = 'news') = (post_id < 0));
COMMENT ON COLUMN backtest_scores.source IS
    'board: post_id is posts.post_id; news: post_id = -(office_id * 10^10 + article_id) of news.';

ALTER TABLE backtest_daily
    ADD COLUMN source text NOT NULL DEFAULT 'board' CHECK (source IN ('board', 'news')),
    DROP CONSTRAINT backtest_daily_pkey,
    ADD PRIMARY KEY (backtest, source, ticker, session_date);
COMMENT ON COLUMN backtest_daily.source IS
    'Whose index: board posts, or news headlines (one story counted once: n_posts counts stories, '
    'mean_p_up is the mean over stories of the mean P(up) of each story''s articles).';
