-- Every column of the tables that came after sql/0036 says what it is (issue 33): the docs' schema
-- page is generated from these comments (docs/hooks/reference.py) and tests/test_docs.py fails on a
-- table or column of a migrated database without one. Comments only: no data or shape changes.

-- sql/0039: factor studies (finsent study NAME --backtest B)
COMMENT ON COLUMN studies.name IS 'the study''s name (finsent study NAME)';
COMMENT ON COLUMN studies.backtest IS 'the walk-forward backtest whose signals it studies (backtests.name; deleted with it)';
COMMENT ON COLUMN studies.spec IS 'its options, with the backtest''s own spec and finish time: the inputs a rerun compares';
COMMENT ON COLUMN studies.report IS 'what finsent study --json prints: the grid, the books and the rest';
COMMENT ON COLUMN studies.mlflow_run_id IS 'its MLflow run (tagged study=NAME); NULL until logged';
COMMENT ON COLUMN studies.created_at IS 'when it was computed';

COMMENT ON COLUMN study_cells.study IS 'the study (studies.name)';
COMMENT ON COLUMN study_cells.signal IS 'the signal: text, attention, disagreement or engagement (board), news_text, news_attention, news_disagreement (news)';
COMMENT ON COLUMN study_cells.target IS 'what it should predict: return (the first open after the decision to the close horizon sessions later), abs_return, or volume (log ratio to the trailing 20 sessions)';
COMMENT ON COLUMN study_cells.horizon IS 'sessions ahead (h)';
COMMENT ON COLUMN study_cells.ic IS 'mean cross-sectional Spearman rank IC over its decision dates';
COMMENT ON COLUMN study_cells.ic_low IS 'lower end of its 95% interval (t over blocks of h dates, at least 2, with the neighbouring blocks'' covariance added back); NULL below the verdict minimum';
COMMENT ON COLUMN study_cells.ic_high IS 'upper end of its 95% interval; NULL below the verdict minimum';
COMMENT ON COLUMN study_cells.sessions IS 'the decision dates behind it (n)';
COMMENT ON COLUMN study_cells.blocks IS 'blocks of those dates its inference rests on: h consecutive dates, at least 2 (finsent.ml.overlap.infer_mean)';
COMMENT ON COLUMN study_cells.p IS 'two-sided sign-flip p over the block means (exact below 0.01)';
COMMENT ON COLUMN study_cells.p_adjusted IS 'p adjusted by Holm over every cell of the study with a verdict';
COMMENT ON COLUMN study_cells.verdict IS 'signal, no signal, or too few sessions';

COMMENT ON COLUMN study_books.study IS 'the study (studies.name)';
COMMENT ON COLUMN study_books.signal IS 'the signal the book trades on (a study_cells.signal)';
COMMENT ON COLUMN study_books.hold IS 'sessions each book is held: rebalanced every hold sessions';
COMMENT ON COLUMN study_books.kind IS 'long_short (long the top quantile, short the bottom) or long_only';
COMMENT ON COLUMN study_books.sessions IS 'sessions the book was held (n)';
COMMENT ON COLUMN study_books.gross_mean IS 'mean return per session before costs';
COMMENT ON COLUMN study_books.net_mean IS 'mean return per session after costs a side and the sell tax by trade date';
COMMENT ON COLUMN study_books.sharpe IS 'annualised Sharpe ratio (252 sessions), gross';
COMMENT ON COLUMN study_books.sharpe_low IS 'lower end of the gross Sharpe''s 95% interval (circular block bootstrap by date, blocks of the holding period)';
COMMENT ON COLUMN study_books.sharpe_high IS 'upper end of the gross Sharpe''s 95% interval';
COMMENT ON COLUMN study_books.net_sharpe IS 'annualised Sharpe ratio (252 sessions), net of costs and tax';
COMMENT ON COLUMN study_books.net_sharpe_low IS 'lower end of the net Sharpe''s 95% interval';
COMMENT ON COLUMN study_books.net_sharpe_high IS 'upper end of the net Sharpe''s 95% interval';
COMMENT ON COLUMN study_books.turnover IS 'units of notional traded per session';
COMMENT ON COLUMN study_books.max_drawdown IS 'the largest drawdown of the net book, compounded';
COMMENT ON COLUMN study_books.break_even_bps IS 'the cost a side (bps) at which the net mean is 0, the sell tax still paid';
COMMENT ON COLUMN study_books.long_only_sessions IS 'sessions without a short leg (the short-sale ban of 2023-11-06..2025-03-30)';

-- sql/0043: whole posts
COMMENT ON COLUMN post_body_fetches.ticker IS 'the stock';
COMMENT ON COLUMN post_body_fetches.post_id IS 'the post (posts.post_id) whose body is wanted';
COMMENT ON COLUMN post_body_fetches.reason IS 'cut (the list''s body ends in ...) or missing (the list has none)';
COMMENT ON COLUMN post_body_fetches.state IS 'pending, fetched (posts.body replaced by the detail''s text) or failed (after 3 tries)';
COMMENT ON COLUMN post_body_fetches.attempts IS 'detail requests tried so far';
COMMENT ON COLUMN post_body_fetches.last_error IS 'why the last try failed; NULL once fetched';
COMMENT ON COLUMN post_body_fetches.queued_at IS 'when the crawl found the body cut or absent';
COMMENT ON COLUMN post_body_fetches.fetched_at IS 'when the body was written; NULL until then';

COMMENT ON COLUMN crawl_runs.details IS 'post-detail requests of the run (board host; the crawl plan counts them with the pages)';

-- sql/0044: comments (CBOX)
COMMENT ON COLUMN comments.ticker IS 'the stock whose board the post is on';
COMMENT ON COLUMN comments.post_id IS 'the post (nid) the comment is under';
COMMENT ON COLUMN comments.comment_no IS 'CBOX commentNo';
COMMENT ON COLUMN comments.parent_comment_no IS 'a reply''s parent comment (parentCommentNo), where CBOX says';
COMMENT ON COLUMN comments.reply_level IS '1: a comment; 2: a reply (where CBOX says)';
COMMENT ON COLUMN comments.written_at IS 'regTime (KST when it has no offset)';
COMMENT ON COLUMN comments.modified_at IS 'modTime, when it differs from regTime';
COMMENT ON COLUMN comments.text IS 'contents as plain text; empty once deleted';
COMMENT ON COLUMN comments.author IS 'userName as shown (masked)';
COMMENT ON COLUMN comments.likes IS 'sympathyCount when fetched';
COMMENT ON COLUMN comments.dislikes IS 'antipathyCount when fetched';
COMMENT ON COLUMN comments.replies IS 'replyAllCount when fetched';
COMMENT ON COLUMN comments.deleted IS 'deleted on Naver: the row stays, its text blanked';
COMMENT ON COLUMN comments.source IS 'naver-cbox';
COMMENT ON COLUMN comments.crawled_at IS 'when it was first stored';
COMMENT ON COLUMN comments.updated_at IS 'when a re-fetch last changed it (likes, an edit, a deletion)';
COMMENT ON COLUMN comments.changed_seq IS 'its change stamp (change_seq), drawn again by every change';

COMMENT ON COLUMN comment_threads.ticker IS 'the stock';
COMMENT ON COLUMN comment_threads.post_id IS 'the post (nid) whose thread it is';
COMMENT ON COLUMN comment_threads.comment_count IS 'the last count the counts endpoint reported';
COMMENT ON COLUMN comment_threads.fetched_count IS 'the thread is stored complete up to this count (NULL: never fetched); fetched again when comment_count grows past it';
COMMENT ON COLUMN comment_threads.pages IS 'CBOX pages read by the last fetch';
COMMENT ON COLUMN comment_threads.checked_at IS 'when the count was last read';
COMMENT ON COLUMN comment_threads.fetched_at IS 'when the thread was last fetched; NULL: never';
