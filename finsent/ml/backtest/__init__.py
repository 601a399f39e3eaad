"""Walk-forward backtests: retrain as time goes on, score only what each model could not have seen.

``walk`` plans the steps and runs them (resumable per step), ``windowed`` is the fast baseline
refit (features computed once, warm-started per window), ``report`` turns the out-of-sample scores
into clustered accuracy, the information coefficient and a long-short, with plots, in MLflow.
"""

from __future__ import annotations


def run_backtest(settings, engine, name: str, spec, *, replace: bool = False, steps_per_run: int | None = None):
    """Walk (or resume) the backtest; once every step is done, report it to MLflow.
    Returns (the run, its report or None while steps remain)."""
    from finsent.ml.backtest.report import build_report, log_report
    from finsent.ml.backtest.walk import walk_forward

    run = walk_forward(settings, engine, name, spec, replace=replace, steps_per_run=steps_per_run)
    if not run.finished:
        return run, None
    report = build_report(engine, run)
    log_report(settings, engine, report)
    return run, report
