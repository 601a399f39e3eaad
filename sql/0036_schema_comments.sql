-- Every table and column says what it is (issue 33): the docs' schema page is generated from these
-- comments (docs/hooks/reference.py), and tests/test_docs.py checks that no table or column of a
-- migrated database is left without one. Later migrations comment what they add.

COMMENT ON TABLE schema_migrations IS 'The sql/ migrations applied to this database (finsent db upgrade), with their checksums.';
COMMENT ON COLUMN schema_migrations.version IS 'the migration''s number (NNNN of sql/NNNN_name.sql)';
COMMENT ON COLUMN schema_migrations.name IS 'the migration''s file name';
COMMENT ON COLUMN schema_migrations.checksum IS 'sha256 of the file as applied: a changed file is refused';
COMMENT ON COLUMN schema_migrations.applied_at IS 'when it was applied';

COMMENT ON COLUMN tickers.code IS 'six-character KRX code, e.g. 005930';
COMMENT ON COLUMN tickers.name IS 'display name, e.g. 삼성전자';
COMMENT ON COLUMN tickers.market IS 'KOSPI (default) or another market name';
COMMENT ON COLUMN tickers.added_at IS 'when finsent first knew it';

COMMENT ON COLUMN ticker_memberships.ticker IS 'the ticker (tickers.code)';
COMMENT ON COLUMN ticker_memberships.member_from IS 'first day in the universe, inclusive (NULL: since before any data)';
COMMENT ON COLUMN ticker_memberships.member_to IS 'last day in the universe, inclusive (NULL: still a member)';

COMMENT ON COLUMN posts.ticker IS 'the stock whose board the post is on';
COMMENT ON COLUMN posts.post_id IS 'Naver''s nid: global, increasing with time';
COMMENT ON COLUMN posts.posted_at IS 'when it was posted (Naver shows KST)';
COMMENT ON COLUMN posts.title IS 'the title as written';
COMMENT ON COLUMN posts.body IS 'plain text, line breaks kept; NULL when the source has none';
COMMENT ON COLUMN posts.author IS 'nickname as shown (masked on the legacy board)';
COMMENT ON COLUMN posts.author_id IS 'profileId (JSON source only)';
COMMENT ON COLUMN posts.is_reply IS 'a reply to another post';
COMMENT ON COLUMN posts.parent_id IS 'the post it replies to';
COMMENT ON COLUMN posts.cleanbot_passed IS 'false: hidden by Naver''s clean-bot; NULL: unknown';
COMMENT ON COLUMN posts.holder_verified IS 'the writer is verified as a holder of the stock';
COMMENT ON COLUMN posts.post_type IS 'normal or itemNewsResearch (JSON source)';
COMMENT ON COLUMN posts.views IS 'views when crawled';
COMMENT ON COLUMN posts.likes IS 'likes when crawled';
COMMENT ON COLUMN posts.dislikes IS 'dislikes when crawled';
COMMENT ON COLUMN posts.comment_count IS 'comments when crawled';
COMMENT ON COLUMN posts.source IS 'naver-mobile, naver-html or csv (finsent import posts)';
COMMENT ON COLUMN posts.crawled_at IS 'when it was stored';

COMMENT ON COLUMN prices.ticker IS 'the stock';
COMMENT ON COLUMN prices.trade_date IS 'the session (KST date)';
COMMENT ON COLUMN prices.open IS 'opening price, won';
COMMENT ON COLUMN prices.high IS 'high, won';
COMMENT ON COLUMN prices.low IS 'low, won';
COMMENT ON COLUMN prices.close IS 'closing price, won';
COMMENT ON COLUMN prices.volume IS 'shares traded (0: a halt, never stored)';
COMMENT ON COLUMN prices.adjusted IS 'split-adjusted (fchart, siseJson) or raw (legacy sise_day)';
COMMENT ON COLUMN prices.source IS 'fchart, sisejson, sise-day or csv';
COMMENT ON COLUMN prices.fetched_at IS 'when the row was last written (the label runs'' change stamp before change_seq)';

COMMENT ON TABLE crawl_watermarks IS 'Where each ticker''s board walk stands: a killed crawl resumes from resume_cursor and loses nothing.';
COMMENT ON COLUMN crawl_watermarks.ticker IS 'the stock';
COMMENT ON COLUMN crawl_watermarks.source IS 'the board source walked (naver-mobile or naver-html)';
COMMENT ON COLUMN crawl_watermarks.newest_post_id IS 'complete from this post down to the previous walk''s floor';
COMMENT ON COLUMN crawl_watermarks.newest_posted_at IS 'the time of newest_post_id';
COMMENT ON COLUMN crawl_watermarks.oldest_posted_at IS 'once no walk is open: complete back to here';
COMMENT ON COLUMN crawl_watermarks.resume_cursor IS 'non-NULL while a walk is unfinished: the next (older) page';
COMMENT ON COLUMN crawl_watermarks.resume_floor_post_id IS 'the unfinished walk stops at this post';
COMMENT ON COLUMN crawl_watermarks.resume_floor_at IS '...or at this time';
COMMENT ON COLUMN crawl_watermarks.updated_at IS 'when the walk last committed a page';

COMMENT ON TABLE crawl_runs IS 'One row per (command run, ticker): what a crawl, price sync or import fetched, stored and skipped, and how it ended.';
COMMENT ON COLUMN crawl_runs.run_id IS 'the run';
COMMENT ON COLUMN crawl_runs.batch_id IS 'one CLI invocation or DAG task (its runs share it)';
COMMENT ON COLUMN crawl_runs.command IS 'crawl, crawl-news, prices, import-posts, import-prices or import-news';
COMMENT ON COLUMN crawl_runs.source IS 'the source read (naver-mobile, naver-news, fchart, csv, ...)';
COMMENT ON COLUMN crawl_runs.ticker IS 'the stock (NULL: a run over a whole file)';
COMMENT ON COLUMN crawl_runs.status IS 'running, ok, rewritten (a history rewrite), failed, locked or interrupted';
COMMENT ON COLUMN crawl_runs.started_at IS 'when it started';
COMMENT ON COLUMN crawl_runs.finished_at IS 'when it ended (NULL while running)';
COMMENT ON COLUMN crawl_runs.pages IS 'pages fetched';
COMMENT ON COLUMN crawl_runs.fetched IS 'rows read from the source';
COMMENT ON COLUMN crawl_runs.inserted IS 'rows stored new';
COMMENT ON COLUMN crawl_runs.updated IS 'rows changed';
COMMENT ON COLUMN crawl_runs.duplicates IS 'rows already stored, unchanged';
COMMENT ON COLUMN crawl_runs.skipped IS 'rows left out (halts, rows outside the range)';
COMMENT ON COLUMN crawl_runs.retries IS 'requests retried';
COMMENT ON COLUMN crawl_runs.failures IS 'requests that failed for good';
COMMENT ON COLUMN crawl_runs.error IS 'why it failed (one line)';

COMMENT ON TABLE host_clock IS 'Per host, when the next request may go out: FINSENT_CRAWL_DELAY_S holds for every crawler process that shares the database.';
COMMENT ON COLUMN host_clock.host IS 'the host name';
COMMENT ON COLUMN host_clock.next_slot IS 'the earliest time of the next request to it';

COMMENT ON COLUMN session_hours.trade_date IS 'the session';
COMMENT ON COLUMN session_hours.opens IS 'its opening time, KST';
COMMENT ON COLUMN session_hours.closes IS 'its closing time, KST';
COMMENT ON COLUMN session_hours.reason IS 'CSAT or first trading day';

COMMENT ON COLUMN sessions.ticker IS 'the stock';
COMMENT ON COLUMN sessions.trade_date IS 'the session';
COMMENT ON COLUMN sessions.close IS 'its close';
COMMENT ON COLUMN sessions.session_no IS 'the session''s number among the stock''s, in time order';
COMMENT ON COLUMN sessions.open IS 'its open';

COMMENT ON COLUMN label_definitions.name IS 'the definition''s name, e.g. next_open_close';
COMMENT ON COLUMN label_definitions.rule IS 'next_open_close, next_session or same_day';
COMMENT ON COLUMN label_definitions.horizon IS 'sessions from the post''s session to the close the return ends at (1: its own)';
COMMENT ON COLUMN label_definitions.band IS '|ret| below this is labelled flat';
COMMENT ON COLUMN label_definitions.created_at IS 'when it was first used';
COMMENT ON COLUMN label_definitions.labelled_at IS 'start of the last finsent label run under it';

COMMENT ON TABLE labels IS 'Each post''s label under each definition: the return of the session it is about, and up, down or flat.';
COMMENT ON COLUMN labels.definition IS 'the label definition (label_definitions.name)';
COMMENT ON COLUMN labels.ticker IS 'the stock';
COMMENT ON COLUMN labels.post_id IS 'the post';
COMMENT ON COLUMN labels.session_date IS 'the session the post is about: the first that opens after it';
COMMENT ON COLUMN labels.label IS 'up, down or flat (|ret| below the band)';
COMMENT ON COLUMN labels.labelled_at IS 'when it was written';

COMMENT ON TABLE quality_rules IS 'The quality rules a post or article can be flagged by (finsent quality check).';
COMMENT ON COLUMN quality_rules.name IS 'the rule, e.g. spam_ad';
COMMENT ON COLUMN quality_rules.description IS 'what it flags';

COMMENT ON TABLE post_quality IS 'Posts the quality rules have checked, with the normalised title the dataset builder compares.';
COMMENT ON COLUMN post_quality.ticker IS 'the stock';
COMMENT ON COLUMN post_quality.post_id IS 'the post';
COMMENT ON COLUMN post_quality.title_norm IS 'the title normalised (case, spaces, punctuation)';
COMMENT ON COLUMN post_quality.checked_at IS 'when it was checked';

COMMENT ON TABLE post_flags IS 'Quality flags per post and rule: flagged posts are left out of datasets and the index, never deleted.';
COMMENT ON COLUMN post_flags.ticker IS 'the stock';
COMMENT ON COLUMN post_flags.post_id IS 'the post';
COMMENT ON COLUMN post_flags.rule IS 'the rule that flagged it (quality_rules.name)';

COMMENT ON TABLE post_flag_changes IS 'Posts whose flags were added or removed, and when: the daily index rewrites their sessions.';
COMMENT ON COLUMN post_flag_changes.ticker IS 'the stock (NULL: every flag changed, a TRUNCATE)';
COMMENT ON COLUMN post_flag_changes.post_id IS 'the post';
COMMENT ON COLUMN post_flag_changes.changed_at IS 'when';

COMMENT ON TABLE datasets IS 'Frozen dataset snapshots (finsent dataset build): the spec and the content hash of their rows.';
COMMENT ON COLUMN datasets.name IS 'the snapshot''s name';
COMMENT ON COLUMN datasets.spec IS 'everything needed to rebuild it (finsent.data.spec.DatasetSpec)';
COMMENT ON COLUMN datasets.content_hash IS 'sha256 over the spec and every frozen row';
COMMENT ON COLUMN datasets.rows IS 'rows in it';
COMMENT ON COLUMN datasets.created_at IS 'when it was built';

COMMENT ON TABLE dataset_rows IS 'The rows of each snapshot, frozen: title, label, session and return as they were at build time.';
COMMENT ON COLUMN dataset_rows.dataset IS 'the snapshot (datasets.name)';
COMMENT ON COLUMN dataset_rows.ticker IS 'the stock';
COMMENT ON COLUMN dataset_rows.post_id IS 'the post; a news row: -(office_id * 10^10 + article_id)';
COMMENT ON COLUMN dataset_rows.split IS 'train, valid or test';
COMMENT ON COLUMN dataset_rows.label IS 'up or down';
COMMENT ON COLUMN dataset_rows.session_date IS 'the label''s session';
COMMENT ON COLUMN dataset_rows.title IS 'the title as frozen at build time';
COMMENT ON COLUMN dataset_rows.previous_session_up IS '1 up, 0 down, 0.5 flat: the last session that had closed when the text was written';
COMMENT ON COLUMN dataset_rows.source IS 'board or news';
COMMENT ON COLUMN dataset_rows.office_id IS 'a news row''s office';
COMMENT ON COLUMN dataset_rows.article_id IS 'a news row''s article';

COMMENT ON TABLE post_scores IS 'P(up) per board post and version of finsent-updown (finsent score).';
COMMENT ON COLUMN post_scores.model_version IS 'the version of the registered model finsent-updown';
COMMENT ON COLUMN post_scores.ticker IS 'the stock';
COMMENT ON COLUMN post_scores.post_id IS 'the post';
COMMENT ON COLUMN post_scores.p_up IS 'the probability that the post''s session goes up';
COMMENT ON COLUMN post_scores.scored_at IS 'when it was scored';

COMMENT ON COLUMN daily_sentiment.model_version IS 'the version of the source''s registered model that scored the votes';
COMMENT ON COLUMN daily_sentiment.ticker IS 'the stock';
COMMENT ON COLUMN daily_sentiment.session_date IS 'the session: the votes were written before it opened';
COMMENT ON COLUMN daily_sentiment.mean_p_up IS 'the index: the mean P(up) of the votes';
COMMENT ON COLUMN daily_sentiment.bull_share IS 'the share of votes with P(up) > 0.5';
COMMENT ON COLUMN daily_sentiment.updated_at IS 'when the row was last written';
COMMENT ON COLUMN daily_sentiment.source IS 'board (finsent-updown) or news (finsent-news-updown)';

COMMENT ON TABLE daily_sentiment_state IS 'When each version''s daily index was last brought up to date (finsent score).';
COMMENT ON COLUMN daily_sentiment_state.model_version IS 'the model version';
COMMENT ON COLUMN daily_sentiment_state.built_at IS 'when its index was last brought up to date';
COMMENT ON COLUMN daily_sentiment_state.source IS 'board or news';

COMMENT ON COLUMN backtests.name IS 'the backtest''s name (finsent backtest NAME)';
COMMENT ON COLUMN backtests.spec IS 'model, options, windows, and the hash of the labelled input';
COMMENT ON COLUMN backtests.steps_total IS 'steps the walk takes';
COMMENT ON COLUMN backtests.status IS 'running or done';
COMMENT ON COLUMN backtests.created_at IS 'when it started';
COMMENT ON COLUMN backtests.finished_at IS 'when it finished (NULL while running)';

COMMENT ON TABLE backtest_steps IS 'The steps of each walk: what its model trained on and which sessions it scored (trained_through < scored_from).';
COMMENT ON COLUMN backtest_steps.backtest IS 'the backtest';
COMMENT ON COLUMN backtest_steps.step IS 'the step''s number';
COMMENT ON COLUMN backtest_steps.trained_from IS 'first session whose labels the step''s model saw';
COMMENT ON COLUMN backtest_steps.trained_through IS 'last session whose labels the step''s model saw';
COMMENT ON COLUMN backtest_steps.scored_from IS 'first session whose posts it scored';
COMMENT ON COLUMN backtest_steps.scored_to IS 'last session whose posts it scored';
COMMENT ON COLUMN backtest_steps.n_train IS 'rows it trained on';
COMMENT ON COLUMN backtest_steps.n_scored IS 'posts or articles it scored';
COMMENT ON COLUMN backtest_steps.done_at IS 'when the step committed';

COMMENT ON TABLE backtest_scores IS 'P(up) of every post or article a backtest scored, by a model trained before its session.';
COMMENT ON COLUMN backtest_scores.backtest IS 'the backtest';
COMMENT ON COLUMN backtest_scores.ticker IS 'the stock';
COMMENT ON COLUMN backtest_scores.post_id IS 'the post (board) or -(office_id * 10^10 + article_id) (news)';
COMMENT ON COLUMN backtest_scores.p_up IS 'P(up) from the step''s model';
COMMENT ON COLUMN backtest_scores.trained_through IS 'the last session whose labels the scoring model saw';
COMMENT ON COLUMN backtest_scores.session_date IS 'the label''s session: always after trained_through';

COMMENT ON COLUMN backtest_daily.backtest IS 'the backtest';
COMMENT ON COLUMN backtest_daily.ticker IS 'the stock';
COMMENT ON COLUMN backtest_daily.session_date IS 'the session';
COMMENT ON COLUMN backtest_daily.n_posts IS 'the votes: posts, or stories (news)';
COMMENT ON COLUMN backtest_daily.mean_p_up IS 'the out-of-sample index: every vote scored by a model trained before the session';

COMMENT ON COLUMN news.ticker IS 'the stock the article is tagged to';
COMMENT ON COLUMN news.office_id IS 'the press office, e.g. 015';
COMMENT ON COLUMN news.article_id IS 'the article''s id within its office (leading zeros kept)';
COMMENT ON COLUMN news.published_at IS 'Naver''s datetime, read as KST';
COMMENT ON COLUMN news.title IS 'the headline, HTML entities unescaped';
COMMENT ON COLUMN news.summary IS 'the list''s summary, unescaped; NULL when absent';
COMMENT ON COLUMN news.office_name IS 'the office''s name, e.g. 한국경제';
COMMENT ON COLUMN news.story_key IS 'OFFICE/ARTICLE of one article of the story: shared by all the story''s articles of this stock';
COMMENT ON COLUMN news.article_url IS 'the article on Naver (generated)';
COMMENT ON COLUMN news.source IS 'naver-news or csv';
COMMENT ON COLUMN news.fetched_at IS 'when it was stored';

COMMENT ON TABLE news_watermarks IS 'Where each ticker''s news walk stands (bounded by time: the list pages shift as stories arrive).';
COMMENT ON COLUMN news_watermarks.ticker IS 'the stock';
COMMENT ON COLUMN news_watermarks.newest_published_at IS 'complete from here down to the previous walk''s floor';
COMMENT ON COLUMN news_watermarks.oldest_published_at IS 'once no walk is open: complete back to here';
COMMENT ON COLUMN news_watermarks.resume_page IS 'non-NULL while a walk is unfinished: the next page to fetch';
COMMENT ON COLUMN news_watermarks.resume_floor_at IS 'that walk stops once a whole page is older than this';
COMMENT ON COLUMN news_watermarks.updated_at IS 'when the walk last committed a page';

COMMENT ON COLUMN news_labels.definition IS 'the label definition';
COMMENT ON COLUMN news_labels.ticker IS 'the stock';
COMMENT ON COLUMN news_labels.office_id IS 'the office';
COMMENT ON COLUMN news_labels.article_id IS 'the article';
COMMENT ON COLUMN news_labels.session_date IS 'the session the article is about: the first that opens after it';
COMMENT ON COLUMN news_labels.base_date IS 'the session before it (a price written from here to target_date relabels)';
COMMENT ON COLUMN news_labels.target_date IS 'the session whose close the return ends at';
COMMENT ON COLUMN news_labels.ret IS 'as labels.ret';
COMMENT ON COLUMN news_labels.label IS 'up, down or flat';
COMMENT ON COLUMN news_labels.labelled_at IS 'when it was written';

COMMENT ON COLUMN news_flags.ticker IS 'the stock';
COMMENT ON COLUMN news_flags.office_id IS 'the office';
COMMENT ON COLUMN news_flags.article_id IS 'the article';
COMMENT ON COLUMN news_flags.rule IS 'news_story_repeat (a copy of a story) or news_market_summary';
COMMENT ON COLUMN news_flags.flagged_at IS 'when';

COMMENT ON COLUMN news_scores.model_version IS 'the version of the registered model finsent-news-updown';
COMMENT ON COLUMN news_scores.ticker IS 'the stock';
COMMENT ON COLUMN news_scores.office_id IS 'the office';
COMMENT ON COLUMN news_scores.article_id IS 'the article';
COMMENT ON COLUMN news_scores.p_up IS 'the probability that the article''s session goes up';
COMMENT ON COLUMN news_scores.scored_at IS 'when it was scored';

COMMENT ON TABLE news_index_changes IS 'News articles whose flags or story changed, and when: the news index rewrites their sessions.';
COMMENT ON COLUMN news_index_changes.ticker IS 'the stock (NULL: every flag changed, a TRUNCATE)';
COMMENT ON COLUMN news_index_changes.office_id IS 'the office';
COMMENT ON COLUMN news_index_changes.article_id IS 'the article';
COMMENT ON COLUMN news_index_changes.changed_at IS 'when';

COMMENT ON COLUMN price_deletions.ticker IS 'the stock';
COMMENT ON COLUMN price_deletions.trade_date IS 'the session deleted';
COMMENT ON COLUMN price_deletions.changed_seq IS 'its change stamp (change_seq)';
COMMENT ON COLUMN price_deletions.deleted_at IS 'when';

COMMENT ON COLUMN step_watermarks.step IS 'label, score or score-news';
COMMENT ON COLUMN step_watermarks.last_seq IS 'every row stamped up to here is processed';
COMMENT ON COLUMN step_watermarks.updated_at IS 'when it last moved';

COMMENT ON COLUMN text_edits.source IS 'board (a post) or news (an article)';
COMMENT ON COLUMN text_edits.ticker IS 'the stock';
COMMENT ON COLUMN text_edits.post_id IS 'the post (board)';
COMMENT ON COLUMN text_edits.office_id IS 'the office (news)';
COMMENT ON COLUMN text_edits.article_id IS 'the article (news)';
COMMENT ON COLUMN text_edits.title_changed IS 'the title changed: its scores and flags go';
COMMENT ON COLUMN text_edits.time_changed IS 'the time changed: its labels and index session go';
COMMENT ON COLUMN text_edits.edited_at IS 'when';
