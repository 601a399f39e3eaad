"""A study in MLflow: one run tagged ``study=NAME`` with its numbers as metrics, the report and the
JSON as artifacts, and the plots a reviewer would rather look at (``finsent.ml.study.plots``)."""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path
from typing import Any

from finsent.config import Settings
from finsent.ml.study.report import to_text

_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-/ ]")


def metrics_of(report: dict[str, Any]) -> dict[str, float]:
    """Every cell's IC, interval and adjusted p, and every book's headline numbers, by name."""
    out: dict[str, float] = {}
    for c in report["grid"]:
        key = f"{c['signal']}.{c['target']}.h{c['horizon']}"
        for field in ("ic", "ic_low", "ic_high", "p_adjusted", "sessions"):
            if c[field] is not None:
                out[f"{key}.{field}"] = float(c[field])
        out[f"{key}.signal"] = float(c["verdict"] == "signal")
    for b in report["books"]:
        key = f"book.{b['signal']}.k{b['hold']}.{b['kind']}"
        for field in ("net_sharpe", "sharpe", "net_mean", "turnover", "break_even_bps", "max_drawdown"):
            if b[field] is not None:
                out[f"{key}.{field}"] = float(b[field])
    return {_UNSAFE.sub("_", k): v for k, v in out.items()}


def log_study(settings: Settings, report: dict[str, Any]) -> str:
    """Log the study to a new MLflow run; its id."""
    import mlflow

    from finsent.ml.registry import EXPERIMENT, configure
    from finsent.ml.study.plots import study_plots

    client = configure(settings)
    experiment = client.get_experiment_by_name(EXPERIMENT).experiment_id
    run_id = client.create_run(experiment, run_name=f"study-{report['study']}",
                               tags={"finsent.step": "study", "study": report["study"],
                                     "backtest": report["backtest"]}).info.run_id
    public = {k: v for k, v in report.items() if k not in ("book_days", "dates")}
    with tempfile.TemporaryDirectory(prefix="finsent-study-") as scratch, mlflow.start_run(run_id=run_id):
        mlflow.log_params({k: str(v)[:500] for k, v in report["spec"].items()
                           if k not in ("backtest_spec",)})
        mlflow.log_metrics(metrics_of(report))
        for path in study_plots(report, Path(scratch)):
            mlflow.log_artifact(str(path), "plots")
        mlflow.log_text(to_text(public), "study/report.md")
        mlflow.log_text(json.dumps(public, indent=1), "study/study.json")
    return run_id
