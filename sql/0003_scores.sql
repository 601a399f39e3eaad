-- Model outputs: a probability per post and model version, and the daily sentiment index.

CREATE TABLE post_scores (
    model_version integer NOT NULL,   -- version of the registered model `finsent-updown`
    ticker        text    NOT NULL,
    post_id       bigint  NOT NULL,
    p_up          real    NOT NULL CHECK (p_up BETWEEN 0 AND 1),
    scored_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (model_version, ticker, post_id)
);

-- One row per stock, session and model version: the posts written before that session opened
-- (the same next_session rule as the labels), quality-flagged posts left out.
CREATE TABLE daily_sentiment (
    model_version integer NOT NULL,
    ticker        text    NOT NULL,
    session_date  date    NOT NULL,
    n_posts       integer NOT NULL,
    mean_p_up     double precision NOT NULL,
    bull_share    double precision NOT NULL,  -- share of posts with p_up > 0.5
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (model_version, ticker, session_date)
);
COMMENT ON TABLE daily_sentiment IS
    'Per stock and session: how bullish the board was before the open, by the champion model version.';
