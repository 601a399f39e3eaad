"""The steps the Airflow DAGs run, as plain functions (the DAG files stay thin).

Each step reads its settings from the environment (``FINSENT_*``), does one thing through the
library, raises on failure (so Airflow retries it) and returns a small JSON-able summary for XCom.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine

from finsent.config import load_settings
from finsent.data.sources import COMMENTS, DEFAULT_SOURCE, text_source
from finsent.data.spec import DatasetSpec
from finsent.errors import ConfigError, FinsentError
from finsent.ml.backtest.spec import BacktestSpec
from finsent.ml.models.kinds import KINDS
from finsent.ml.spec import ScoreSpec, TrainSpec
from finsent.specs import flags, from_values

log = logging.getLogger(__name__)


def _engine() -> Engine:
    from finsent.db import create_engine

    return create_engine(load_settings())


def configured_tickers() -> list[str]:
    """FINSENT_TICKERS; ``all`` (or unset once a universe is imported): today's members."""
    from finsent.tickers import selected_tickers

    return selected_tickers(load_settings(), _engine())


def backfill_since(logical_date: datetime | None) -> date | None:
    """A run for a past date (a backfill) re-walks from the day before it; a current or manual run
    (no logical date) is incremental."""
    if logical_date is None:
        return None
    day = logical_date.date()
    return day - timedelta(days=1) if day < date.today() - timedelta(days=1) else None


def fail_without_retry(message: str) -> Exception:
    """An error Airflow does not retry (a retry would get the same answer); a plain FinsentError
    where Airflow is not installed."""
    try:
        from airflow.sdk.exceptions import AirflowFailException
    except ImportError:
        return FinsentError(message)
    return AirflowFailException(message)


def spec_from_params(spec_class: type, params: dict, *, skip: tuple[str, ...] = ()) -> Any:
    """A DAG run's params (those of ``spec_class`` but ``skip``) as the spec, once, at the task's
    start; a wrong param fails the run, without retries, with the option's message."""
    offered = {flag.name for flag in flags(spec_class, skip=skip)}
    try:
        return from_values(spec_class, {k: v for k, v in params.items() if k in offered})
    except ConfigError as exc:
        raise fail_without_retry(f"bad DAG param: {exc}") from None


def _summary(reports: Sequence[Any]) -> list[dict]:
    return [{"ticker": r.ticker, "status": r.status, "inserted": r.inserted, "updated": r.updated,
             "fetched": r.fetched, "retries": r.retries, "error": r.error} for r in reports]


def _raise_on_failures(reports: Sequence[Any]) -> list[dict]:
    failed = [r for r in reports if not r.ok]
    if failed:
        message = "; ".join(f"{r.ticker}: {r.status} ({r.error})" for r in failed)
        # robots.txt answers the same on every try: fail once, no retry storm against the site
        if all((r.error or "").startswith("robots.txt") for r in failed):
            raise fail_without_retry(message)
        raise FinsentError(message)
    return _summary(reports)


def crawl_ticker(ticker: str, logical_date: datetime | None = None, max_pages: int | None = None) -> dict:
    """One ticker's crawl (robots.txt per FINSENT_ROBOTS); raises when it failed, so Airflow retries it."""
    from finsent.ingest.crawl import crawl_boards

    settings = load_settings()
    reports = crawl_boards(settings, _engine(), [ticker], since=backfill_since(logical_date), max_pages=max_pages,
                           ignore_robots=settings.ignore_robots)
    return _raise_on_failures(reports)[0]


def crawl_news_ticker(ticker: str, logical_date: datetime | None = None, max_pages: int | None = None) -> dict:
    """One ticker's news crawl (SOURCES.md 3b), beside its board crawl; raises when it failed."""
    from finsent.ingest.news_crawl import crawl_news

    settings = load_settings()
    reports = crawl_news(settings, _engine(), [ticker], since=backfill_since(logical_date), max_pages=max_pages,
                         ignore_robots=settings.ignore_robots)
    return _raise_on_failures(reports)[0]


def crawl_comments_ticker(ticker: str, logical_date: datetime | None = None) -> dict:
    """One ticker's comment threads (the posts of the last days whose comment count grew), after its
    board crawl; raises when it failed. A backfill run (a past logical date) reads the threads of the
    posts from the day before it to now."""
    from finsent.ingest.comments_crawl import crawl_comments

    settings = load_settings()
    since = backfill_since(logical_date)
    days = (date.today() - since).days + 1 if since is not None else None
    reports = crawl_comments(settings, _engine(), [ticker], days=days, ignore_robots=settings.ignore_robots)
    return _raise_on_failures(reports)[0]


def fetch_prices(logical_date: datetime | None = None, retries_left: bool = False) -> list[dict]:
    """Prices of every configured ticker. Runs even when some crawls failed (the DAG's all_done). A
    failed ticker raises only while Airflow has ``retries_left`` (every ticker's prices are stored
    first; a retry syncs again): on the last try the others' prices still reach the labels and
    ``ingest_outcome`` fails the run afterwards, naming every ticker that failed."""
    from finsent.ingest.prices import sync_prices

    settings = load_settings()
    reports = sync_prices(settings, _engine(), configured_tickers(), since=backfill_since(logical_date),
                          ignore_robots=settings.ignore_robots)
    for report in reports:
        if not report.ok:
            log.error("prices %s: %s (%s)", report.ticker, report.status, report.error)
    # robots.txt answers the same on every try: no retry for it
    passing = [r for r in reports if not r.ok and not (r.error or "").startswith("robots.txt")]
    if retries_left and passing:
        raise FinsentError("; ".join(f"{r.ticker}: {r.status} ({r.error})" for r in passing))
    return _summary(reports)


# the steps of finsent_ingest, by crawl_runs.command
_INGEST_COMMANDS = ("crawl", "crawl-news", "crawl-comments", "prices")


def ingest_outcome(started_at: datetime | None) -> dict:
    """Fail (without retry) naming each configured ticker whose board crawl, news crawl, comment crawl or
    price sync did not succeed in this DAG run (its last attempt since ``started_at``); else summarise the run."""
    from finsent.db import raw_connection
    from finsent.ingest.runs import OK_STATUSES

    tickers = configured_tickers()
    if started_at is None:  # no start recorded: the last day holds this run's attempts
        started_at = datetime.now(UTC) - timedelta(days=1)
    with raw_connection(_engine()) as raw, raw.cursor() as cur:
        cur.execute("SELECT DISTINCT ON (command, ticker) command, ticker, status, error FROM crawl_runs "
                    "WHERE command = ANY(%s) AND ticker = ANY(%s) AND started_at >= %s "
                    "ORDER BY command, ticker, started_at DESC", (list(_INGEST_COMMANDS), tickers, started_at))
        last = {(command, ticker): (status, error) for command, ticker, status, error in cur.fetchall()}
    problems = []
    for command in _INGEST_COMMANDS:
        for ticker in tickers:
            status, error = last.get((command, ticker), ("did not run", None))
            if status not in OK_STATUSES:
                problems.append(f"{command} {ticker}: {status}" + (f" ({error})" if error else ""))
    if problems:
        raise fail_without_retry(f"{len(problems)} step(s) failed; the others' data is stored: " + "; ".join(problems))
    rewritten = sorted(ticker for (_, ticker), (status, _) in last.items() if status == "rewritten")
    return {"tickers": len(tickers), "rewritten": rewritten}


def label_and_flag() -> dict:
    """Quality flags, then every standard label definition, the study's same_day and every other
    definition labelled so far."""
    from finsent.data.labels import STANDARD_DEFINITIONS, LabelDefinition, label_posts, registered_definitions
    from finsent.data.quality import check_quality
    from finsent.db import raw_connection

    engine = _engine()
    quality = check_quality(engine)
    # The standard definitions and every other one labelled so far (--horizon 3, ...): a price
    # change (a split) must not leave any definition's labels stale.
    standard = (*STANDARD_DEFINITIONS, "same_day")
    with raw_connection(engine) as raw, raw.cursor() as cur:
        others = [d for d in registered_definitions(cur) if d.name not in standard]
    definitions = [*(LabelDefinition.build(name) for name in standard), *others]
    reports = [label_posts(engine, d) for d in definitions]
    return {"checked": quality.checked, "flagged": quality.flagged,
            "labelled": {r.definition: r.labelled for r in reports},
            "news_labelled": {r.definition: r.news_labelled for r in reports},
            "comments_labelled": {r.definition: r.per_source.get(COMMENTS.name, (0,))[0] for r in reports}}


def build_snapshot(name: str, spec: DatasetSpec) -> dict:
    from finsent.data.build import build_dataset

    summary = build_dataset(_engine(), name, spec, load_settings().data_dir, replace=True)
    return {"dataset": name, "rows": summary.rows, "content_hash": summary.content_hash}


def train_and_register(dataset: str, spec: TrainSpec) -> dict:
    from finsent.ml.registry import tracking_uri
    from finsent.ml.train import train_model

    settings = load_settings()
    outcome = train_model(settings, _engine(), dataset, spec.model, transformer=spec.transformer,
                          tokenizer=spec.tokenizer)
    if outcome is None:  # only a non-zero rank of a distributed job returns nothing; a task is one process
        raise FinsentError("training ran as a non-zero rank of a distributed job: its rank 0 reports")
    log.info("%s v%d %s: %s", "finsent-updown", outcome.version,
             "is the new champion" if outcome.decision.promoted else "is a challenger only", outcome.decision.reason)
    log.info("%s", outcome.report.verdict())
    return {"run_id": outcome.run_id, "experiment_id": outcome.experiment_id, "version": outcome.version,
            "promoted": outcome.decision.promoted, "decision": outcome.decision.reason,
            "test_accuracy": outcome.report.metrics["accuracy"],
            "test_balanced_accuracy": outcome.report.metrics["balanced_accuracy"],
            "test_n_sessions": int(outcome.report.counts["n_sessions"]), "tracking_uri": tracking_uri(settings),
            "run_url": f"{settings.mlflow_ui_url}/#/experiments/{outcome.experiment_id}/runs/{outcome.run_id}"}


def find_version(spec: ScoreSpec | None = None, source: str = DEFAULT_SOURCE) -> dict:
    """The version scoring ``source`` would use (the ScoreSpec option its record names: ``spec.alias``
    for the board, ``spec.news_alias`` for news; default the champion of its registered model) and the
    Celery queue its scoring belongs on: ``gpu`` for a LoRA model (the base model and a GPU live on the
    GPU worker), ``default`` for the baseline. ``version`` is None while the alias points nowhere (no
    version has shown skill yet: the newest decision says why)."""
    from finsent.ml.registry import configure, version_or_skip

    spec, text = spec or ScoreSpec(), text_source(source)
    client = configure(load_settings())
    version = version_or_skip(client, getattr(spec, text.alias_option), text.model_name, "nothing to score")
    if version is None:
        return {"version": None, "kind": None, "queue": None}
    kind = client.get_model_version(text.model_name, str(version)).tags.get("model")
    return {"version": version, "kind": kind, "queue": KINDS[kind].queue if kind in KINDS else "gpu"}


def score_and_index(spec: ScoreSpec | None = None, source: str = DEFAULT_SOURCE) -> dict:
    """Score ``source`` (board posts or news articles) as ``spec`` says (default: the champion of its
    registered model, ``ScoreSpec``'s batch size) and bring its daily index up to date;
    ``model_version`` is None while the alias points nowhere (the newest version's decision says why)."""
    from finsent.ml.news_score import SCORERS
    from finsent.ml.registry import configure, version_or_skip

    spec, text = spec or ScoreSpec(), text_source(source)
    settings = load_settings()
    client = configure(settings)
    if version_or_skip(client, getattr(spec, text.alias_option), text.model_name, "nothing scored") is None:
        return {"source": source, "model_version": None, "scored": 0, "index_rows": 0}
    report = SCORERS[text.name](settings, _engine(), spec)
    return {"source": source, "model_version": report.model_version, "scored": report.scored,
            "index_rows": report.index_rows, "index_rewritten": report.index_rewritten}


def refresh_study(name: str, backtest: str) -> dict:
    """The standing study of a finished walk computed again (its default options); its verdicts for XCom."""
    from finsent.ml.study import StudySpec, run_study
    from finsent.ml.study.report import to_text

    outcome = run_study(load_settings(), _engine(), name, backtest, StudySpec(), replace=True)
    public = {k: v for k, v in outcome.report.items() if k not in ("book_days", "dates")}
    log.info("%s", to_text(public))
    return {"study": name, "backtest": backtest, "mlflow_run_id": outcome.run_id,
            "signals": [f"{c['signal']}/{c['target']}/h{c['horizon']}" for c in public["grid"]
                        if c["verdict"] == "signal"]}


def walk_backtest(name: str, spec: BacktestSpec, replace: bool = False) -> dict:
    """The whole walk (resuming one that stopped); its headline numbers for XCom."""
    from finsent.ml.backtest import run_backtest

    run, report = run_backtest(load_settings(), _engine(), name, spec, replace=replace)
    log.info("%s", report.to_markdown())
    return {"backtest": name, "steps": len(run.steps), **{k: v for k, v in report.metrics.items() if v == v}}
