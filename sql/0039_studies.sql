-- Factor studies (issue 29, `finsent study NAME --backtest B`): where a backtest's signals show,
-- across targets and horizons, and what books a Korean account can hold would earn after costs.

CREATE TABLE studies (
    name          text PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9_.-]{1,100}$' AND name NOT IN ('.', '..')),
    backtest      text  NOT NULL REFERENCES backtests (name) ON DELETE CASCADE,
    spec          jsonb NOT NULL,   -- the options, and the backtest's own spec and finish time (its inputs)
    report        jsonb NOT NULL,   -- what `finsent study --json` prints: the grid, the books, and the rest
    mlflow_run_id text,
    created_at    timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE studies IS 'Factor studies (finsent study): one row each; rerunning the same spec reads it back.';

CREATE TABLE study_cells (
    study      text    NOT NULL REFERENCES studies (name) ON DELETE CASCADE,
    signal     text    NOT NULL,
    target     text    NOT NULL,
    horizon    integer NOT NULL CHECK (horizon >= 1),
    ic         double precision,  -- mean cross-sectional Spearman IC over the decision dates of its blocks
    ic_low     double precision,  -- its 95% interval (t over the blocks); NULL below the verdict minimum
    ic_high    double precision,
    sessions   integer NOT NULL,  -- the decision dates behind it
    blocks     integer NOT NULL,  -- independent blocks of them: h consecutive dates, h - 1 skipped between two
    p          double precision,  -- two-sided sign-flip p over the block means
    p_adjusted double precision,  -- Holm over every cell of the study with a verdict
    verdict    text    NOT NULL CHECK (verdict IN ('signal', 'no signal', 'too few sessions')),
    PRIMARY KEY (study, signal, target, horizon)
);
COMMENT ON TABLE study_cells IS 'Per (signal, target, horizon) of a study: the IC, its interval, n, p, adjusted p, verdict.';

CREATE TABLE study_books (
    study          text    NOT NULL REFERENCES studies (name) ON DELETE CASCADE,
    signal         text    NOT NULL,
    hold           integer NOT NULL CHECK (hold >= 1),
    kind           text    NOT NULL CHECK (kind IN ('long_short', 'long_only')),
    sessions       integer NOT NULL,
    gross_mean     double precision,  -- per session
    net_mean       double precision,  -- per session, after costs a side and the sell tax by trade date
    sharpe         double precision,  -- annualised, gross
    sharpe_low     double precision,
    sharpe_high    double precision,
    net_sharpe     double precision,
    net_sharpe_low double precision,
    net_sharpe_high double precision,
    turnover       double precision,  -- units of notional traded per session
    max_drawdown   double precision,  -- of the net book, compounded
    break_even_bps double precision,  -- the cost a side (bps) at which the net mean is 0
    long_only_sessions integer NOT NULL,  -- sessions without a short leg (the 2023-11-06..2025-03-30 ban)
    PRIMARY KEY (study, signal, hold, kind)
);
COMMENT ON TABLE study_books IS 'Per (signal, hold, kind) of a study: a book rebalanced every hold sessions, gross and net.';
