"""Factor studies: where a backtest's signals show, and what a Korean account could earn from them.

``panel`` reads the signals known before each session's open and the targets from that open on,
``grid`` measures every (signal, target, horizon) cell honestly for overlapping horizons and few
dates (``finsent.ml.overlap``: blocks of h dates), ``books`` holds rebalanced books through Korean
costs (``finsent.ml.costs``), ``report`` renders it, ``store`` keeps it in Postgres, ``tracking``
logs it to MLflow with plots.
"""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd
from sqlalchemy.engine import Engine

from finsent.config import Settings
from finsent.db import advisory_lock
from finsent.errors import ConfigError
from finsent.ml.study.spec import COUNT_KINDS, KINDS_OF, TEXT_SOURCES, StudySpec, signal_source
from finsent.names import check_name

log = logging.getLogger(__name__)

__all__ = ["StudyOutcome", "StudySpec", "run_study"]


class StudyOutcome:
    def __init__(self, report: dict[str, Any], reused: bool, run_id: str | None) -> None:
        self.report, self.reused, self.run_id = report, reused, run_id


def _signals(spec: StudySpec, walked: list[str], commented: bool) -> tuple[str, ...]:
    """The signals asked for (default: every one the walked sources give, engagement where comments were
    crawled); one the backtest or the database cannot give is a ConfigError."""
    if not spec.signals:
        return tuple(TEXT_SOURCES[s] + kind for s in walked for kind in KINDS_OF[s]
                     if kind != "engagement" or commented)
    missing = [n for n in spec.signals if signal_source(n)[1] not in COUNT_KINDS and signal_source(n)[0] not in walked]
    if missing:
        raise ConfigError(f"signal(s) {', '.join(missing)} need a backtest that walked their source; this one walked "
                          f"{', '.join(walked) or 'nothing'}")
    if not commented and any(signal_source(n)[1] == "engagement" for n in spec.signals):
        raise ConfigError("signal engagement needs the board's comments, and none is stored over the backtest's "
                          "sessions; crawl them first (finsent crawl, the comments of the board's posts)")
    return spec.signals


def compute(engine: Engine, name: str, backtest: str, spec: StudySpec, rules: list[str],
            stored_spec: dict) -> dict[str, Any]:
    """The study's report (the JSON object), computed from the database."""
    from finsent.ml.study.books import build_books
    from finsent.ml.study.grid import build_grid, quantile_returns, rank_autocorrelation
    from finsent.ml.study.panel import has_comments, load_panel, walked_sources
    from finsent.ml.study.report import to_json

    signals = _signals(spec, walked_sources(engine, backtest), has_comments(engine, backtest))
    panel = load_panel(engine, backtest, signals, rules)
    if not panel.dates:
        raise ConfigError(f"backtest {backtest!r} scored no session with prices; nothing to study")
    log.info("study %s: %d signals x %d targets x %d horizons over %d sessions", name, len(signals),
             len(spec.targets), len(spec.horizons), len(panel.dates))
    cells = build_grid(panel, signals, spec.targets, spec.horizons)
    books = build_books(panel, signals, spec.book_holds, spec.quantiles, spec.band, spec.cost_bps)
    quantiles = pd.concat([quantile_returns(panel, s, h, spec.quantiles) for s in signals for h in spec.horizons],
                          ignore_index=True)
    autocorrelation = []
    for signal in signals:
        for lag in sorted({1, *spec.book_holds}):
            mean, low, high, n = rank_autocorrelation(panel, signal, lag)
            autocorrelation.append({"signal": signal, "lag": lag, "mean": mean, "low": low, "high": high,
                                    "sessions": n})
    counts = {"stocks": int(panel.signals["ticker"].nunique()), "dates": len(panel.dates),
              "first": panel.dates[0].isoformat(), "last": panel.dates[-1].isoformat()}
    report = to_json(name, backtest, stored_spec, cells, books, quantiles, autocorrelation, counts)
    report["book_days"] = {f"{b.signal}/{b.hold}/{b.kind}": {"net": b.days["net"].round(8).tolist(),
                                                            "gross": b.days["gross"].round(8).tolist(),
                                                            "units": b.days["units"].round(8).tolist()}
                           for b in books}
    report["dates"] = [d.isoformat() for d in panel.dates]
    return report


def run_study(settings: Settings, engine: Engine, name: str, backtest: str, spec: StudySpec, *,
              replace: bool = False, log_to_mlflow: bool = True) -> StudyOutcome:
    """Compute, store and log the study; the same spec again returns the saved one; another spec under a
    used name is a ConfigError unless ``replace``."""
    from finsent.ml.study import store

    check_name(name, "study name")
    spec.validate()
    with advisory_lock(engine, f"study:{name}", wait=True):
        inputs = store.backtest_inputs(engine, backtest)
        wanted = {**spec.to_json(), "backtest": backtest, **inputs}
        found = store.saved(engine, name)
        if found is not None and not replace:
            if found[0] != wanted:
                raise ConfigError(f"study {name!r} exists with other settings or inputs "
                                  f"({', '.join(store.changed_keys(found[0], wanted))}); pass --replace to "
                                  "compute it again, or pick another name")
            run_id = found[2] or (_log(settings, engine, name, found[1]) if log_to_mlflow else None)
            return StudyOutcome(found[1], True, run_id)
        rules = list(inputs["backtest_spec"].get("rules", []))
        report = compute(engine, name, backtest, spec, rules, wanted)
        store.save(engine, name, backtest, wanted, report)
        run_id = _log(settings, engine, name, report) if log_to_mlflow else None
        return StudyOutcome(report, False, run_id)


def _log(settings: Settings, engine: Engine, name: str, report: dict[str, Any]) -> str:
    from finsent.ml.study import store
    from finsent.ml.study.tracking import log_study

    run_id = log_study(settings, report)
    store.set_run_id(engine, name, run_id)
    return run_id
