"""The frame around every per-ticker ingest job: lock, ``crawl_runs`` row, failure handling, report."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from uuid import UUID

from sqlalchemy.engine import Engine

from finsent.db import advisory_lock
from finsent.errors import FetchError, LockedError, PageParseError
from finsent.report import TickerReport
from finsent.store import RunRecord

log = logging.getLogger(__name__)

# work(conn, run): does the ticker's job on ``conn`` (a psycopg2 connection holding the ticker's
# lock), committing as it goes and keeping ``run.counters`` current.
TickerWork = Callable[[object, RunRecord], None]


def run_for_ticker(engine: Engine, *, lock: str, batch_id: UUID, command: str, source: str, ticker: str,
                   work: TickerWork) -> TickerReport:
    """Run ``work`` for one ticker; its failure is recorded and reported, never raised."""
    started = time.monotonic()
    try:
        with advisory_lock(engine, lock) as lock_conn:
            conn = lock_conn.connection.dbapi_connection
            with conn.cursor() as cur:
                # Rows and their watermark commit together, so a server crash can only lose the last
                # few pages *with* their watermark, and the next run fetches them again: no need
                # to wait for each page's WAL flush.
                cur.execute("SET synchronous_commit = off")
                run = RunRecord(cur, batch_id, command, source, ticker)
            conn.commit()
            status, error = "ok", None
            try:
                work(conn, run)
            except (FetchError, PageParseError) as exc:
                conn.rollback()
                status, error = "failed", str(exc)
                log.error("%s: %s", ticker, exc)
            except Exception as exc:  # a bug or a database fault: record it, let the other tickers go on
                conn.rollback()
                status, error = "failed", f"{type(exc).__name__}: {exc}"
                log.exception("%s: unexpected error", ticker)
            if status == "failed":
                run.counters.failures += 1
            with conn.cursor() as cur:
                run.finish(cur, status, error)
                cur.execute("RESET synchronous_commit")  # the connection goes back to the pool
            conn.commit()
            return TickerReport.from_counters(ticker, status, run.counters, time.monotonic() - started, error)
    except LockedError as exc:
        log.error("%s: %s", ticker, exc)
        return TickerReport(ticker=ticker, status="locked", error=str(exc), failures=1,
                            seconds=time.monotonic() - started)


def run_for_tickers(tickers: Sequence[str], one: Callable[[str], TickerReport], workers: int) -> list[TickerReport]:
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="ingest") as pool:
        return list(pool.map(one, tickers))
