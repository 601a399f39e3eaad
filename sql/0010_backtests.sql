-- Walk-forward backtests: each step trains on past sessions only and scores the next ones.

CREATE TABLE backtests (
    name          text PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9_.-]{1,100}$' AND name NOT IN ('.', '..')),
    spec          jsonb   NOT NULL,   -- model, options, windows, and the hash of the labelled input
    steps_total   integer NOT NULL,
    status        text    NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'done')),
    mlflow_run_id text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz
);
COMMENT ON TABLE backtests IS 'Walk-forward backtests (finsent backtest): one row each, resumable per step.';

CREATE TABLE backtest_steps (
    backtest        text    NOT NULL REFERENCES backtests (name) ON DELETE CASCADE,
    step            integer NOT NULL,
    trained_from    date    NOT NULL,  -- first session whose labels the step's model saw
    trained_through date    NOT NULL,  -- last session whose labels the step's model saw
    scored_from     date    NOT NULL,  -- the sessions whose posts it scored
    scored_to       date    NOT NULL,
    n_train         integer NOT NULL,
    n_scored        integer NOT NULL,
    done_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (backtest, step),
    CHECK (trained_through < scored_from)
);

CREATE TABLE backtest_scores (
    backtest        text    NOT NULL REFERENCES backtests (name) ON DELETE CASCADE,
    ticker          text    NOT NULL,
    post_id         bigint  NOT NULL,
    p_up            real    NOT NULL CHECK (p_up BETWEEN 0 AND 1),
    trained_through date    NOT NULL,  -- the last session whose labels the scoring model saw
    session_date    date    NOT NULL,  -- the post's label session: always after trained_through
    PRIMARY KEY (backtest, ticker, post_id),
    CHECK (trained_through < session_date)
);

CREATE TABLE backtest_daily (
    backtest     text    NOT NULL REFERENCES backtests (name) ON DELETE CASCADE,
    ticker       text    NOT NULL,
    session_date date    NOT NULL,
    n_posts      integer NOT NULL,
    mean_p_up    double precision NOT NULL,  -- out of sample: every post scored by a model trained before
    ret          double precision NOT NULL,  -- the session's close-to-close return (the label's)
    PRIMARY KEY (backtest, ticker, session_date)
);
COMMENT ON TABLE backtest_daily IS
    'Per stock and session: the out-of-sample sentiment index of a backtest and the session''s return.';
