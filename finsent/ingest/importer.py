"""``finsent import posts|news|prices FILE.csv`` (``-``: standard input): bring in archives people already have.

All or nothing: the whole input is validated first; one bad row rejects it, naming the file, line
and reason, and nothing is written. The input is read once (:mod:`finsent.ingest.csv_input`): what
is written is the copy that was validated. A valid file is written in one transaction.
Reading is strict: a quote that never closes, a field too long, a row with too few or too many
fields, a header column twice, a byte that is not UTF-8, a NUL byte, a number that is not plain
digits (``1_000``), a number the table cannot hold, a post or article the crawlers would refuse too
(:mod:`finsent.ingest.validation`: an empty or overlong title, a date before Naver existed or more
than a day ahead of now), a date before the market existed (prices), a bar dated after today or
today's bar before its session closed (KST), or an impossible bar (close <= 0, low above high) is
an error, never a guess.

Rounding: a bar whose open or close lies outside [low, high] by at most one KRX tick (floats
rounded to won in an adjusted file) has high/low widened to include them, and the report counts it;
anything beyond one tick is refused. History rewrites: a prices file that changes a ticker's stored
bars is that ticker's history over the file's date range; a stored session in that range the file
lacks is of the old basis and is deleted, with the labels whose returns ran through it.

posts:  ``ticker,post_id,posted_at,title[,body,author,views,likes,dislikes]``
        (posted_at KST ``YYYY-MM-DD HH:MM[:SS]``)
news:   ``ticker,office_id,article_id,published_at,title[,summary,office_name,story_key]``
        (published_at KST ``YYYY-MM-DD HH:MM[:SS]``; story_key ``OFFICE/ARTICLE``, default the article's own)
prices: ``ticker,date,open,high,low,close,volume`` (date ``YYYY-MM-DD``; volume 0 = halt, dropped)
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import date, datetime
from datetime import time as clock_time
from decimal import Decimal
from pathlib import Path

from sqlalchemy.engine import Engine

from finsent.db import analyze_written, raw_transaction
from finsent.ingest.csv_input import MAX_REPORTED, CsvInput, refuse_rejected
from finsent.ingest.records import (
    KST,
    MAX_COUNT,
    MAX_POST_ID,
    NewsRow,
    PostRow,
    PriceRow,
    article_key,
    bar_problem,
    kst,
    repair_rounding,
)
from finsent.ingest.runs import WRITTEN_TABLE, RunRecord, TickerReport
from finsent.ingest.session_clock import closing_times, is_closed
from finsent.ingest.store import drop_vanished_sessions, insert_news, insert_posts, upsert_prices
from finsent.ingest.validation import news_problem, post_problem
from finsent.tickers import known_tickers

log = logging.getLogger(__name__)

POST_REQUIRED = ("ticker", "post_id", "posted_at", "title")
POST_OPTIONAL = ("body", "author", "views", "likes", "dislikes")
NEWS_REQUIRED = ("ticker", "office_id", "article_id", "published_at", "title")
NEWS_OPTIONAL = ("summary", "office_name", "story_key")
_OFFICE_ID = re.compile(r"[0-9]{1,10}")
_ARTICLE_ID = re.compile(r"[0-9]{1,20}")
_STORY_KEY = re.compile(r"[0-9]{1,10}/[0-9]{1,20}")
PRICE_REQUIRED = ("ticker", "date", "open", "high", "low", "close", "volume")
PRICES_FROM = date(1956, 3, 3)  # the Korea Stock Exchange's first session
# Digits, optional decimals and exponent: no sign, space or underscore (Decimal takes "1_000").
_PLAIN_NUMBER = re.compile(r"[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?")
_BATCH = 50_000


def _count(value: str, column: str, maximum: int = MAX_COUNT) -> int | None:
    if value == "":
        return None
    if not (value.isascii() and value.isdigit()):
        raise ValueError(f"{column} {value!r} is not a non-negative integer")
    number = int(value)
    if number > maximum:
        raise ValueError(f"{column} {value} is out of range (at most {maximum})")
    return number


def _posted_at(value: str, column: str = "posted_at") -> datetime:
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"):
        try:
            return kst(datetime.strptime(value, fmt))
        except ValueError:
            continue
    raise ValueError(f"{column} {value!r} is not KST 'YYYY-MM-DD HH:MM[:SS]'")


def _checked(row, problem: Callable[[object, datetime], str | None], now: datetime):
    """``row`` if the one validation the crawlers use too (:mod:`finsent.ingest.validation`) passes it."""
    reason = problem(row, now)
    if reason is not None:
        raise ValueError(reason)
    return row


def _price(value: str, column: str) -> Decimal:
    if not (value.isascii() and _PLAIN_NUMBER.fullmatch(value)):
        raise ValueError(f"{column} {value!r} is not a plain non-negative number (digits, optional decimals)")
    number = Decimal(value)
    if not number.is_finite():
        raise ValueError(f"{column} {value!r} must be a finite number")
    return number


def parse_post_record(record: dict[str, str], now: datetime | None = None) -> PostRow:
    post_id = _count(record["post_id"].strip(), "post_id", MAX_POST_ID)
    if post_id is None:
        raise ValueError("post_id is empty")
    title = record["title"].strip()
    if not title:
        raise ValueError("title is empty")
    row = PostRow(
        ticker=record["ticker"].strip(), post_id=post_id, posted_at=_posted_at(record["posted_at"].strip()),
        title=title, body=record.get("body") or None, author=(record.get("author") or "").strip() or None,
        views=_count((record.get("views") or "").strip(), "views"),
        likes=_count((record.get("likes") or "").strip(), "likes"),
        dislikes=_count((record.get("dislikes") or "").strip(), "dislikes"), source="csv",
    )
    return _checked(row, post_problem, now or datetime.now(KST))


def _digits(value: str, column: str, pattern: re.Pattern[str], what: str) -> str:
    if not (value.isascii() and pattern.fullmatch(value)):
        raise ValueError(f"{column} {value!r} is not {what}")
    return value


def parse_news_record(record: dict[str, str], now: datetime | None = None) -> NewsRow:
    office_id = _digits(record["office_id"].strip(), "office_id", _OFFICE_ID, "1 to 10 digits (e.g. 015)")
    article_id = _digits(record["article_id"].strip(), "article_id", _ARTICLE_ID, "1 to 20 digits")
    title = record["title"].strip()
    if not title:
        raise ValueError("title is empty")
    story_key = (record.get("story_key") or "").strip() or article_key(office_id, article_id)
    _digits(story_key, "story_key", _STORY_KEY, "OFFICE/ARTICLE (digits/digits) of one article of the story")
    row = NewsRow(
        ticker=record["ticker"].strip(), office_id=office_id, article_id=article_id,
        published_at=_posted_at(record["published_at"].strip(), "published_at"),
        title=title, summary=(record.get("summary") or "").strip() or None,
        office_name=(record.get("office_name") or "").strip() or None, story_key=story_key, source="csv",
    )
    return _checked(row, news_problem, now or datetime.now(KST))


def _session_day(value: str, now: datetime, today_closes: clock_time) -> date:
    try:
        day = datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise ValueError(f"date {value!r} is not YYYY-MM-DD") from None
    if day < PRICES_FROM:
        raise ValueError(f"date {value!r} is before {PRICES_FROM} (the Korea Stock Exchange's first session)")
    today = now.date()
    if day > today:
        raise ValueError(f"date {value!r} is after today ({today}, KST)")
    if day == today and not is_closed(day, today_closes, now):
        raise ValueError(f"date {value!r} is today and its session has not closed yet (closes "
                         f"{today_closes:%H:%M} KST): an unfinished bar")
    return day


def parse_price_record(record: dict[str, str], adjusted: bool, now: datetime,
                       today_closes: clock_time) -> tuple[PriceRow, bool]:
    """The bar and whether it was repaired for rounding (see the module doc); ``now`` in KST."""
    day = _session_day(record["date"].strip(), now.astimezone(KST), today_closes)
    volume = _count(record["volume"].strip(), "volume", 2**63 - 1)
    if volume is None:
        raise ValueError("volume is empty")
    open_, high, low, close = (_price(record[c].strip(), c) for c in ("open", "high", "low", "close"))
    row = PriceRow(record["ticker"].strip(), day, open_, high, low, close, volume, adjusted, "csv")
    problem = bar_problem(row)
    if problem is None:
        return row, False
    repaired = repair_rounding(row)
    if repaired is None:
        raise ValueError(problem + " (more than one KRX tick out)" if "expected low" in problem else problem)
    return repaired, True


def _validate(source: CsvInput, parse: Callable[[dict[str, str]], object], known: set[str],
              key: Callable[[object], tuple]) -> int:
    """Check every row; raise InputError listing the first bad rows. Returns the row count."""
    errors: list[str] = []
    first_seen: dict[tuple, int] = {}
    rows = 0
    for line, record in source.records():
        rows += 1
        try:
            if "__error__" in record:
                raise ValueError(record["__error__"])
            row = parse(record)
            if row.ticker not in known:  # type: ignore[attr-defined]
                raise ValueError(f"unknown ticker {row.ticker!r} (add it with `finsent tickers add`)")  # type: ignore[attr-defined]
            row_key = key(row)
            if row_key in first_seen:
                raise ValueError(f"duplicate of line {first_seen[row_key]} {row_key}")
            first_seen[row_key] = line
        except (ValueError, KeyError) as exc:
            errors.append(f"{source.name}:{line}: {exc}")
            if len(errors) >= MAX_REPORTED:
                break
    refuse_rejected(source.name, errors, rows)
    return rows


def _batches(source: CsvInput, parse: Callable[[dict[str, str]], object]) -> Iterator[list]:
    batch: list = []
    for _, record in source.records():
        batch.append(parse(record))
        if len(batch) >= _BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def import_posts(engine: Engine, path: Path) -> TickerReport:
    now = datetime.now(KST)
    parse = lambda record: parse_post_record(record, now)
    with CsvInput(path, POST_REQUIRED, POST_OPTIONAL) as source:
        rows = _validate(source, parse, set(known_tickers(engine)), lambda r: (r.ticker, r.post_id))
        return _write(engine, "import-posts", source, rows,
                      lambda cur, batch: (insert_posts(cur, batch), 0), _batches(source, parse))


def import_news(engine: Engine, path: Path) -> TickerReport:
    now = datetime.now(KST)
    parse = lambda record: parse_news_record(record, now)
    with CsvInput(path, NEWS_REQUIRED, NEWS_OPTIONAL) as source:
        rows = _validate(source, parse, set(known_tickers(engine)), lambda r: (r.ticker, r.office_id, r.article_id))
        return _write(engine, "import-news", source, rows,
                      lambda cur, batch: (insert_news(cur, batch), 0), _batches(source, parse))


class _PriceHistory:
    """What a prices file says per ticker (its date range and sessions) and which stored bars it
    changed: a ticker whose history it rewrote keeps no session of the old basis in that range."""

    def __init__(self) -> None:
        self.spans: dict[str, tuple[date, date]] = {}
        self.sessions: dict[str, set[date]] = {}
        self.rewritten: set[str] = set()

    def write(self, cur, batch: list[PriceRow]) -> tuple[int, int]:
        for r in batch:
            first, last = self.spans.get(r.ticker, (r.trade_date, r.trade_date))
            self.spans[r.ticker] = (min(first, r.trade_date), max(last, r.trade_date))
        sessions = [r for r in batch if r.volume > 0]  # volume 0: a trading halt, not a session
        for r in sessions:
            self.sessions.setdefault(r.ticker, set()).add(r.trade_date)
        written = upsert_prices(cur, sessions, replace=True)
        self.rewritten |= written.rewritten
        return written.inserted, written.updated

    def drop_old_basis(self, cur) -> tuple[int, list[str]]:
        deleted, notes = 0, []
        for ticker in sorted(self.rewritten):
            gone = drop_vanished_sessions(cur, ticker, *self.spans[ticker], sorted(self.sessions.get(ticker, ())))
            if gone:
                deleted += len(gone)
                notes.append(f"{ticker}: the file rewrites its history but lacks {len(gone)} stored session(s) "
                             f"inside its range ({', '.join(map(str, gone[:5]))}{', ...' if len(gone) > 5 else ''})"
                             ": deleted, with the labels whose returns ran through them")
        return deleted, notes


def import_prices(engine: Engine, path: Path, *, adjusted: bool = True) -> TickerReport:
    now = datetime.now(KST)
    with raw_transaction(engine) as raw, raw.cursor() as cur:
        today_closes = closing_times(cur, [now.date()])[now.date()]
    repaired: set[tuple[str, date]] = set()

    def parse(record: dict[str, str]) -> PriceRow:
        row, was_repaired = parse_price_record(record, adjusted, now, today_closes)
        if was_repaired:
            repaired.add((row.ticker, row.trade_date))
        return row

    with CsvInput(path, PRICE_REQUIRED) as source:
        rows = _validate(source, parse, set(known_tickers(engine)), lambda r: (r.ticker, r.trade_date))
        notes = []
        if repaired:
            example = ", ".join(f"{t} {d}" for t, d in sorted(repaired)[:3])
            notes.append(f"{len(repaired)} bars repaired for rounding (open or close at most one KRX tick "
                         f"outside low..high: high/low widened; e.g. {example})")
            log.warning("%s: %s", source.name, notes[-1])
        history = _PriceHistory()
        return _write(engine, "import-prices", source, rows, history.write, _batches(source, parse),
                      finish=history.drop_old_basis, notes=notes)


def _write(engine: Engine, command: str, source: CsvInput, rows: int, write, batches: Iterator[list], *,
           finish: Callable[[object], tuple[int, list[str]]] | None = None,
           notes: list[str] | None = None) -> TickerReport:
    started = time.monotonic()
    notes = list(notes or [])
    # rows and the run record land together, or not at all
    with raw_transaction(engine) as raw, raw.cursor() as cur:
        run = RunRecord(cur, uuid.uuid4(), command, f"csv:{source.label}", None)
        counters = run.counters
        for batch in batches:
            inserted, updated = write(cur, batch)
            counters.fetched += len(batch)
            counters.inserted += inserted
            counters.updated += updated
            log.info("%s: %d/%d rows written", source.name, counters.fetched, rows)
        counters.pages = 1
        counters.duplicates = counters.fetched - counters.inserted - counters.updated
        if finish is not None:
            deleted, more = finish(cur)
            counters.updated += deleted
            notes += more
            for note in more:
                log.warning("%s: %s", source.name, note)
        run.finish(cur, "ok")
    analyze_written(engine, {WRITTEN_TABLE[command]: counters.inserted + counters.updated})
    return TickerReport.from_counters(source.label, "ok", counters, time.monotonic() - started, notes=notes)
