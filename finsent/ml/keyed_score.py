"""Scoring a text source other than the board (news, comments): one loop for every such source.

Its texts without a score of the version are read by a server-side cursor (never all in memory),
scored in batches, each batch committed (an interrupted run resumes), after the version's first run
only those stamped since its watermark; then the source's rows of ``daily_sentiment`` are brought
up to date (:mod:`finsent.ml.daily_index`). The source's record names its tables, keys and model;
``KeyedScoring`` adds what differs: which texts are unscored, its index, whether it has a body.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine

from finsent.config import Settings
from finsent.data.changes import current_stamp, move_watermark, read_watermark
from finsent.data.sources import TextSource
from finsent.db import advisory_lock, analyze_after_write, raw_connection
from finsent.ml.daily_index import IndexRefresh, IndexSource, refresh_daily_index
from finsent.ml.registry import configure, load_pyfunc, version_of
from finsent.ml.score import FETCH_ROWS, ScoreReport, predict_rows
from finsent.ml.spec import ScoreSpec

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class KeyedScoring:
    """How one source's texts are scored: rows of ``unscored_sql(mark)`` are (ticker, *keys, title[, body])."""

    source: TextSource
    step: str  # its step_watermarks step and advisory lock: its versions are numbered apart from the others'
    unscored_sql: Callable[[int | None], str]
    index: IndexSource
    with_body: bool  # the row ends with a body (news: the summary); comments have none


def score_keyed(settings: Settings, engine: Engine, spec: ScoreSpec | None, plan: KeyedScoring) -> ScoreReport:
    """Score the source's texts with its alias of its registered model (default its champion;
    NotRegisteredError when it points nowhere) and bring its index up to date."""
    spec = spec or ScoreSpec()
    source, alias = plan.source, getattr(spec, plan.source.alias_option)
    version = version_of(configure(settings), alias, source.model_name)
    model = load_pyfunc(version, source.model_name).unwrap_python_model()
    log.info("scoring %s with %s v%d (@%s), forward batch %d", source.items, source.model_name, version, alias,
             spec.batch_size)
    with advisory_lock(engine, plan.step, wait=True), raw_connection(engine) as reader, \
            raw_connection(engine) as writer:
        try:
            with writer.cursor() as cur:
                mark, upto = read_watermark(cur, plan.step, str(version)), current_stamp(engine)
            scored = _score_unscored(reader, writer, model, version, mark, upto, spec, plan)
            reader.rollback()
            with writer.cursor() as cur:
                analyze_after_write(cur, source.scores, scored)  # the index reads them next
                refresh: IndexRefresh = refresh_daily_index(cur, version, plan.index)
                move_watermark(cur, plan.step, str(version), upto)
            writer.commit()
        except BaseException:
            writer.rollback()
            raise
    log.info("%s v%d: %d %s scored, daily_sentiment has %d %s (ticker, session) rows (%d rewritten)", source.name,
             version, scored, source.items, refresh.rows, source.index, refresh.rewritten)
    return ScoreReport(version, scored, refresh.rows, refresh.rewritten, source=source.name)


def _score_unscored(reader: Any, writer: Any, model: Any, version: int, mark: int | None, upto: int,
                    spec: ScoreSpec, plan: KeyedScoring) -> int:
    """Score and COPY every unscored text in committed batches; how many."""
    keys = ("ticker", *plan.source.keys)
    copy = f"COPY {plan.source.scores} (model_version, {', '.join(keys)}, p_up) FROM STDIN"
    fetch_rows, scored = max(FETCH_ROWS, spec.batch_size), 0
    with reader.cursor(name=f"unscored_{plan.source.name}") as pending:
        pending.itersize = fetch_rows
        pending.execute(plan.unscored_sql(mark), {"version": version, "mark": mark, "upto": upto})
        while batch := pending.fetchmany(fetch_rows):
            titles = [row[len(keys)] for row in batch]
            bodies = [row[len(keys) + 1] for row in batch] if plan.with_body else [None] * len(batch)
            p_up = predict_rows(model, titles, bodies, spec.batch_size)
            lines = "".join("\t".join(str(v) for v in (version, *row[:len(keys)])) + f"\t{p:.6f}\n"
                            for row, p in zip(batch, p_up))
            with writer.cursor() as cur:
                cur.copy_expert(copy, io.StringIO(lines))
            writer.commit()
            scored += len(batch)
            log.info("scored %d %s", scored, plan.source.items)
    return scored
