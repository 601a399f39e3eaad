"""The steps the Airflow DAGs run, as plain functions (the DAG files stay thin).

Each step reads its settings from the environment (``FINSENT_*``), does one thing through the
library, raises on failure (so Airflow retries it) and returns a small JSON-able summary for XCom.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta

from finsent.config import load_settings
from finsent.errors import FinsentError, NotRegisteredError

log = logging.getLogger(__name__)


def _engine():
    from finsent.db import create_engine

    return create_engine(load_settings())


def configured_tickers() -> list[str]:
    return load_settings().tickers


def backfill_since(logical_date: datetime | None) -> date | None:
    """A run for a past date (a backfill) re-walks from the day before it; a current or manual run
    (no logical date) is incremental."""
    if logical_date is None:
        return None
    day = logical_date.date()
    return day - timedelta(days=1) if day < date.today() - timedelta(days=1) else None


def _raise_on_failures(reports) -> list[dict]:
    summary = [{"ticker": r.ticker, "status": r.status, "inserted": r.inserted, "fetched": r.fetched,
                "retries": r.retries} for r in reports]
    failed = [r for r in reports if not r.ok]
    if failed:
        raise FinsentError("; ".join(f"{r.ticker}: {r.status} ({r.error})" for r in failed))
    return summary


def crawl_ticker(ticker: str, logical_date: datetime | None = None, max_pages: int | None = None) -> dict:
    from finsent.ingest.crawl import crawl_boards

    settings = load_settings()
    reports = crawl_boards(settings, _engine(), [ticker], since=backfill_since(logical_date), max_pages=max_pages)
    return _raise_on_failures(reports)[0]


def fetch_prices(logical_date: datetime | None = None) -> list[dict]:
    from finsent.ingest.prices import sync_prices

    settings = load_settings()
    return _raise_on_failures(sync_prices(settings, _engine(), settings.tickers, since=backfill_since(logical_date)))


def label_and_flag() -> dict:
    from finsent.data.labels import LabelDefinition, label_posts
    from finsent.data.quality import check_quality

    engine = _engine()
    quality = check_quality(engine)
    labelled = {name: label_posts(engine, LabelDefinition.build(name)).labelled
                for name in ("next_session", "same_day")}
    return {"checked": quality.checked, "flagged": quality.flagged, "labelled": labelled}


def build_snapshot(name: str, definition: str = "next_session", split: str = "time", rules: str = "all",
                   balance: bool = False) -> dict:
    from finsent.data.build import DatasetSpec, build_dataset

    spec = DatasetSpec.from_options(definition=definition, split=split, rules=rules, balance=balance)
    summary = build_dataset(_engine(), name, spec, load_settings().data_dir, replace=True)
    return {"dataset": name, "rows": summary.rows, "content_hash": summary.content_hash}


def train_and_register(dataset: str, model: str = "baseline", base_model: str | None = None,
                       prompt: str = "study-2shot", quantize: str | None = None, epochs: int = 1,
                       max_steps: int | None = None) -> dict:
    from finsent.ml.models.lora import LoraSpec
    from finsent.ml.registry import tracking_uri
    from finsent.ml.train import train_model

    settings = load_settings()
    spec = LoraSpec.from_options(base_model=base_model or None, prompt=prompt, quantize=quantize or None,
                                 epochs=epochs, max_steps=max_steps) if model == "lora" else None
    outcome = train_model(settings, _engine(), dataset, model, lora=spec)
    log.info("%s v%d %s: %s", "finsent-updown", outcome.version,
             "is the new champion" if outcome.decision.promoted else "is a challenger only", outcome.decision.reason)
    log.info("%s", outcome.report.verdict())
    return {"run_id": outcome.run_id, "experiment_id": outcome.experiment_id, "version": outcome.version,
            "promoted": outcome.decision.promoted, "decision": outcome.decision.reason,
            "test_accuracy": outcome.report.metrics["accuracy"],
            "test_balanced_accuracy": outcome.report.metrics["balanced_accuracy"],
            "test_n_sessions": int(outcome.report.counts["n_sessions"]), "tracking_uri": tracking_uri(settings),
            "run_url": f"{settings.mlflow_ui_url}/#/experiments/{outcome.experiment_id}/runs/{outcome.run_id}"}


def find_champion() -> dict:
    """The champion's version and the Celery queue its scoring belongs on: ``gpu`` for a LoRA model
    (the base model and a GPU live on the GPU worker), ``default`` for the baseline. ``version`` is
    None while there is no champion (no version has shown skill yet: the newest decision says why)."""
    from finsent.ml.registry import MODEL_NAME, configure, latest_decision, version_of

    client = configure(load_settings())
    try:
        version = version_of(client, "champion")
    except NotRegisteredError as exc:
        log.warning("%s; nothing to score. Newest decision: %s", exc, latest_decision(client) or "none yet")
        return {"version": None, "kind": None, "queue": None}
    kind = client.get_model_version(MODEL_NAME, str(version)).tags.get("model")
    return {"version": version, "kind": kind, "queue": "default" if kind == "baseline" else "gpu"}


def score_and_index(version: int | str = "champion", batch_size: int = 256) -> dict:
    """Score with a version (default: the champion) at ``batch_size`` posts per forward pass;
    ``model_version`` is None while there is no champion (the newest version's decision says why)."""
    from finsent.ml.registry import configure, latest_decision, version_of
    from finsent.ml.score import score_posts

    settings = load_settings()
    client = configure(settings)
    try:
        version_of(client, version)
    except NotRegisteredError as exc:
        log.warning("%s; nothing scored. Newest decision: %s", exc, latest_decision(client) or "none yet")
        return {"model_version": None, "scored": 0, "index_rows": 0}
    report = score_posts(settings, _engine(), alias=str(version), batch_size=int(batch_size))
    return {"model_version": report.model_version, "scored": report.scored, "index_rows": report.index_rows}


def run_backtest(name: str, model: str = "baseline", base_model: str | None = None, prompt: str = "study-2shot",
                 definition: str = "next_session", rules: str = "all", quantize: str | None = None, epochs: int = 1,
                 max_steps: int | None = None, train_sessions: int = 120, step_sessions: int = 5, embargo: int = 1,
                 cost_bps: float = 20.0, replace: bool = False) -> dict:
    """The whole walk (resuming one that stopped); its headline numbers for XCom."""
    from finsent.data.quality import parse_rules
    from finsent.ml.backtest import run_backtest as walk_and_report
    from finsent.ml.backtest.walk import BacktestSpec

    lora = {"base_model": base_model or None, "prompt": prompt, "quantize": quantize or None, "epochs": epochs,
            "max_steps": max_steps}
    spec = BacktestSpec(model=model, definition=definition, rules=parse_rules(rules),
                        train_sessions=train_sessions, step_sessions=step_sessions, embargo=embargo,
                        cost_bps=float(cost_bps), lora={k: v for k, v in lora.items() if v is not None}
                        if model == "lora" else {})
    run, report = walk_and_report(load_settings(), _engine(), name, spec, replace=replace)
    log.info("%s", report.to_markdown())
    return {"backtest": name, "steps": len(run.steps), **{k: v for k, v in report.metrics.items() if v == v}}
