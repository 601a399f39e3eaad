"""
### finsent_backtest: does the board predict the next session, out of sample? Where does it show?

**What**: weekly (Sunday 06:00 KST, after Saturday's training) and on demand, a walk-forward
backtest: at each step a model is trained on the labelled posts
of the last `train_sessions` sessions, skips `embargo` sessions (plus h-1 for a horizon-h label),
and scores the posts of the next `step_sessions` sessions, so no post is scored by a model that saw
its session. Labels default to `next_open_close`, the tradable open-to-close return. Writes
`backtest_scores` and `backtest_daily` (the out-of-sample index the Sentiment page shows) and
logs one MLflow run tagged `backtest=<name>`: out-of-sample accuracy with its session-clustered
interval, the IC with its Newey-West t, and a long-short before and after costs,
with plots. `source`: `board` (default), `news` (headlines, a story counted once) or `both` (each
walked by its own model, then compared on their common sessions: IC of each and of their
combination, the paired test, the correlation of the two indexes).
Then the standing study `study` (default `champion`) of the walk is refreshed (`finsent study
<study> --backtest <name> --replace`): every signal x target x horizon with honest intervals and
p adjusted over the grid, and books a Korean account can hold after costs and the sell tax.
A scheduled run walks the week's data afresh (a new week is new input: `replace`).

**Reads / writes**: Postgres `labels`, `posts`, `post_flags`, `news_labels`, `news`, `news_flags`,
`prices` → `backtests`, `backtest_steps`,
`backtest_scores`, `backtest_daily`, `studies`, `study_cells`, `study_books`; MLflow runs (tags
`backtest=<name>`, `study=<study>`).

**Owner**: finsent. **Triage**: each step commits on its own, so a retry or a new run with the same
`name` and parameters resumes at the next step; different parameters under a used name fail with a
clear message (set `replace` or pick a new name). "one class only" in a window: widen
`train_sessions`. Runs on the `gpu` queue (a LoRA walk trains one adapter per step).
"""

from __future__ import annotations

from airflow.sdk import CronTriggerTimetable, Param, dag, task

from finsent.ml.backtest.spec import BacktestSpec
from finsent.orchestration.airflow_support import DEFAULT_ARGS, FAILURE_ALERT, START, TIMEZONE, params_of

PARAMS = {
    "name": Param("weekly", type="string", pattern=r"^[A-Za-z0-9_.-]{1,100}$"),
    **params_of(BacktestSpec),  # the options of `finsent backtest`, declared once
    "replace": Param(False, type="boolean"),
    "study": Param("champion", type="string", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$",
                   description="the standing study refreshed from the walk (finsent study)"),
}


@dag(dag_id="finsent_backtest", schedule=CronTriggerTimetable("0 6 * * 0", timezone=TIMEZONE), start_date=START,
     catchup=False, max_active_runs=1,
     default_args={**DEFAULT_ARGS, "retries": 1}, on_failure_callback=FAILURE_ALERT, params=PARAMS,
     tags=["finsent", "backtest", "mlflow"],
     doc_md=__doc__)
def finsent_backtest():
    @task(queue="gpu", execution_timeout=DEFAULT_ARGS["execution_timeout"] * 6)
    def backtest(params=None, dag_run=None) -> dict:
        from finsent.orchestration.tasks import spec_from_params, walk_backtest

        spec = spec_from_params(BacktestSpec, params)  # once, at the start: a wrong param fails here
        scheduled = dag_run is not None and str(dag_run.run_type).lower().endswith("scheduled")
        return walk_backtest(params["name"], spec, replace=bool(params["replace"]) or scheduled)

    @task
    def study(walk: dict, params=None) -> dict:
        from finsent.orchestration.tasks import refresh_study

        return refresh_study(params["study"], walk["backtest"])

    study(backtest())


finsent_backtest()
