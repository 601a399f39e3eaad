"""Ingest run bookkeeping: the ``crawl_runs`` row, its counters, the per-ticker frame every
crawl and price sync runs in (client, lock, failure handling, quarantine of unusable answers) and
the table each run ends with. Every error stored or printed here has its URLs' passwords masked
(:func:`finsent.logs.redact.mask_urls`): ``FINSENT_NAVER_*_URL`` may carry credentials."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import TextIO
from uuid import UUID

import psycopg2
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from finsent.config import Settings
from finsent.data.sources import TEXT_SOURCES
from finsent.db import advisory_lock, analyze_written
from finsent.errors import FetchError, LockedError, PageParseError, UnusableAnswerError
from finsent.ingest.host_clock import SharedHostClock
from finsent.ingest.http import PoliteClient
from finsent.ingest.quarantine import save_raw
from finsent.logs.redact import mask_urls
from finsent.tickers import require_known

log = logging.getLogger(__name__)

# The table each ingest command writes: a backfill's rows get their planner statistics when it ends.
WRITTEN_TABLE = {**{source.crawl: source.table for source in TEXT_SOURCES.values()},
                 "prices": "prices", "import-posts": "posts", "import-news": "news", "import-prices": "prices"}

# Statuses of a run that did its job: 'rewritten' is a price sync that found the feed's adjusted
# history changed (a split) and stored it again.
OK_STATUSES = ("ok", "rewritten")


@dataclass
class RunCounters:
    pages: int = 0
    fetched: int = 0
    inserted: int = 0
    updated: int = 0
    duplicates: int = 0
    skipped: int = 0
    quarantined: int = 0  # records refused by validation: saved under quarantine/, not stored
    retries: int = 0
    failures: int = 0
    # requests to the discussion API beside list pages (the board host): post details of a board crawl
    # (bodies the list cut or omitted), comment counts of a comment crawl
    details: int = 0


_COUNTER_NAMES = tuple(f.name for f in fields(RunCounters))


class RunRecord:
    """One ``crawl_runs`` row: opened at the start, counters saved with each page, closed at the end."""

    def __init__(self, cursor, batch_id: UUID, command: str, source: str, ticker: str | None) -> None:
        self.counters = RunCounters()
        self.committed = RunCounters()  # the counters as of the last commit: what the table holds
        self.notes: list[str] = []  # what the run did besides its counters (quarantined records, ...)
        # A row still 'running' for this command and ticker belongs to a run that was killed:
        # we hold the ticker's lock, so it cannot be alive.
        cursor.execute(
            "UPDATE crawl_runs SET status = 'interrupted', finished_at = clock_timestamp() "
            "WHERE status = 'running' AND command = %s AND ticker IS NOT DISTINCT FROM %s",
            (command, ticker),
        )
        cursor.execute(
            "INSERT INTO crawl_runs (batch_id, command, source, ticker) VALUES (%s, %s, %s, %s) "
            "RETURNING run_id",
            (str(batch_id), command, source, ticker),
        )
        self.run_id: int = cursor.fetchone()[0]

    def save(self, cursor) -> None:
        assignments = ", ".join(f"{name} = %s" for name in _COUNTER_NAMES)
        values = [getattr(self.counters, name) for name in _COUNTER_NAMES]
        cursor.execute(f"UPDATE crawl_runs SET {assignments} WHERE run_id = %s", (*values, self.run_id))

    def commit(self, conn) -> None:
        """Commit ``conn`` (the counters were saved in its transaction) and remember them as committed."""
        conn.commit()
        self.committed = replace(self.counters)

    def finish(self, cursor, status: str, error: str | None = None) -> None:
        self.save(cursor)
        cursor.execute(
            "UPDATE crawl_runs SET status = %s, error = %s, finished_at = clock_timestamp() WHERE run_id = %s",
            (status, None if error is None else mask_urls(error), self.run_id),
        )


@dataclass(kw_only=True)
class TickerReport(RunCounters):
    """One line of the table: a ticker's (or a file's) counters, status and time."""

    ticker: str
    status: str
    seconds: float = 0.0
    error: str | None = None
    notes: list[str] = field(default_factory=list)  # what the run did besides its counters (e.g. repairs)

    @classmethod
    def from_counters(cls, ticker: str, status: str, counters: RunCounters, seconds: float,
                      error: str | None = None, notes: list[str] | None = None) -> "TickerReport":
        return cls(ticker=ticker, status=status, seconds=seconds, error=None if error is None else mask_urls(error),
                   notes=[mask_urls(note) for note in notes or []], **asdict(counters))

    @property
    def ok(self) -> bool:
        return self.status in OK_STATUSES


# work(conn, run): does the ticker's job on ``conn`` (a psycopg2 connection holding the ticker's
# lock), committing as it goes and keeping ``run.counters`` current. It may return a status other
# than 'ok' (one of OK_STATUSES) to record what it did.
TickerWork = Callable[[object, RunRecord], str | None]


def run_for_ticker(engine: Engine, *, lock: str, batch_id: UUID, command: str, source: str, ticker: str,
                   work: TickerWork, quarantine_dir: Path | None = None) -> TickerReport:
    """Run ``work`` for one ticker; its failure is recorded and reported, never raised. An unusable
    answer (UnusableAnswerError) has its raw body saved under ``quarantine_dir``."""
    started = time.monotonic()
    run: RunRecord | None = None
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
            status, error = _run_work(conn, run, ticker, work, source, quarantine_dir)
            if status == "failed":
                run.counters.failures += 1
            with conn.cursor() as cur:
                run.finish(cur, status, error)
                cur.execute("RESET synchronous_commit")  # the connection goes back to the pool
            conn.commit()
            return TickerReport.from_counters(ticker, status, run.counters, time.monotonic() - started, error,
                                              run.notes)
    except LockedError as exc:
        log.error("%s: %s", ticker, exc)
        return TickerReport(ticker=ticker, status="locked", error=str(exc), failures=1,
                            seconds=time.monotonic() - started)
    except (DBAPIError, psycopg2.Error) as exc:
        # The database went away (restart, network, killed backend). Committed pages are safe; the
        # run row stays 'running' and the next run marks it 'interrupted'. One line, not a traceback;
        # the table shows what was committed before (the pages the database holds).
        reason = (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [type(exc).__name__])[0]
        log.error("%s: lost the database connection (%s); committed work is kept, re-run to resume", ticker, reason)
        committed = replace(run.committed, failures=run.committed.failures + 1) if run else RunCounters(failures=1)
        return TickerReport.from_counters(ticker, "failed", committed, time.monotonic() - started,
                                          f"database connection lost: {reason}")


def _run_work(conn, run: RunRecord, ticker: str, work: TickerWork, source: str,
              quarantine_dir: Path | None) -> tuple[str, str | None]:
    """(status, error) of ``work``; a failure is rolled back and described, a lost connection raised."""
    try:
        return work(conn, run) or "ok", None
    except UnusableAnswerError as exc:
        conn.rollback()
        error = str(exc)
        if quarantine_dir is not None:
            try:
                path = save_raw(quarantine_dir, source=source, ticker=ticker, url=exc.url, body=exc.body,
                                reason=exc.reason, content_type=exc.content_type,
                                details={"redirects": exc.redirects})
                error += f" (raw body saved to {path})"
            except OSError as why:  # a full disk must not turn one ticker's fault into a crash
                error += f" (raw body not saved: {why})"
        log.error("%s: %s", ticker, mask_urls(error))
        return "failed", error
    except (FetchError, PageParseError) as exc:
        conn.rollback()
        log.error("%s: %s", ticker, mask_urls(str(exc)))
        return "failed", str(exc)
    except Exception as exc:  # a bug or a database fault: record it, let the other tickers go on
        if conn.closed:
            raise  # the connection dropped: nothing more can be recorded on it (in run_for_ticker)
        conn.rollback()
        log.exception("%s: unexpected error", ticker)
        return "failed", f"{type(exc).__name__}: {exc}"


def run_for_tickers(tickers: Sequence[str], one: Callable[[str], TickerReport], workers: int) -> list[TickerReport]:
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="ingest") as pool:
        return list(pool.map(one, tickers))


def ingest_tickers(settings: Settings, engine: Engine, tickers: Sequence[str], *, command: str, source: str,
                   ignore_robots: bool, workers: int,
                   make_work: Callable[[PoliteClient, str], TickerWork]) -> list[TickerReport]:
    """Run ``make_work(client, ticker)`` for each ticker in its frame, sharing one polite client;
    one ticker's failure never stops the others."""
    require_known(engine, tickers)
    # The per-host delay lives in Postgres: it holds across every process sharing the database.
    client = PoliteClient(settings, ignore_robots=ignore_robots or settings.ignore_robots,
                          throttle=SharedHostClock(engine, settings.crawl_delay_s))
    batch_id = uuid.uuid4()

    def one(ticker: str) -> TickerReport:
        return run_for_ticker(engine, lock=f"{command}:{ticker}", batch_id=batch_id, command=command,
                              source=source, ticker=ticker, work=make_work(client, ticker),
                              quarantine_dir=settings.quarantine_dir)

    try:
        reports = run_for_tickers(tickers, one, workers)
    finally:
        client.close()
    analyze_written(engine, {WRITTEN_TABLE[command]: sum(r.inserted + r.updated for r in reports)})
    return reports


_COLUMNS = ("ticker", "status", "pages", "fetched", "inserted", "updated", "duplicates", "skipped",
            "quarantined", "retries", "failures", "details", "seconds")


def format_table(reports: list[TickerReport]) -> str:
    rows = [[str(getattr(r, c)) if c != "seconds" else f"{r.seconds:.1f}" for c in _COLUMNS] for r in reports]
    totals = ["TOTAL", f"{sum(r.ok for r in reports)}/{len(reports)} ok"]
    totals += [str(sum(getattr(r, c) for r in reports)) for c in _COLUMNS[2:-1]]
    totals.append(f"{sum(r.seconds for r in reports):.1f}")
    rows.append(totals)
    widths = [max(len(c), *(len(row[i]) for row in rows)) for i, c in enumerate(_COLUMNS)]
    line = lambda cells: "  ".join(
        cell.ljust(w) if i < 2 else cell.rjust(w) for i, (cell, w) in enumerate(zip(cells, widths)))
    out = [line(list(_COLUMNS)), line(["-" * w for w in widths])]
    out += [line(row) for row in rows[:-1]]
    out += [line(["-" * w for w in widths]), line(rows[-1])]
    notes = [f"  {r.ticker}: {note}" for r in reports for note in r.notes]
    if notes:
        out += ["", "notes:", *notes]
    errors = [f"  {r.ticker}: {r.error}" for r in reports if r.error]
    if errors:
        out += ["", "errors:", *errors]
    return "\n".join(out)


def print_table(reports: list[TickerReport], stream: TextIO) -> None:
    stream.write(format_table(reports) + "\n")
    stream.flush()
