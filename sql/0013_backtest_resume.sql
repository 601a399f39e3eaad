-- A resumed walk scores every post exactly as one uninterrupted run (issue 16): each step commits
-- the state the next step starts from (the windowed baseline's warm-start coefficients), and the
-- final MLflow run's id is stored before anything is logged to it, so a kill during the logging
-- resumes into that run instead of leaving an orphan RUNNING one.
ALTER TABLE backtest_steps ADD COLUMN warm_state bytea;
COMMENT ON COLUMN backtest_steps.warm_state IS
    'The state the next step starts from (numpy .npz of the baseline''s coefficients); only the newest step keeps it.';
COMMENT ON COLUMN backtests.mlflow_run_id IS
    'The report''s MLflow run: stored before logging starts, so an interrupted logging resumes into it.';
