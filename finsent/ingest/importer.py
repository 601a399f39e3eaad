"""``finsent import posts|prices FILE.csv``: bring in archives people already have.

All or nothing: the whole file is validated first; one bad row rejects the file, naming the
file, line and reason, and nothing is written. A valid file is written in one transaction.
Reading is strict: a quote that never closes, a row with too few or too many fields, a NUL byte,
a number the table cannot hold, a date after tomorrow (KST) or an impossible bar (close <= 0,
low above open or close, high below them) is an error, never a guess.

posts:  ``ticker,post_id,posted_at,title[,body,author,views,likes,dislikes]``
        (posted_at KST ``YYYY-MM-DD HH:MM[:SS]``)
prices: ``ticker,date,open,high,low,close,volume`` (date ``YYYY-MM-DD``; volume 0 = halt, dropped)
"""

from __future__ import annotations

import csv
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

from sqlalchemy.engine import Engine

from finsent.db import raw_transaction
from finsent.errors import InputError
from finsent.ingest.records import KST, MAX_COUNT, MAX_POST_ID, PostRow, PriceRow, bar_problem, kst
from finsent.ingest.runs import RunRecord, TickerReport
from finsent.ingest.session_clock import latest_allowed_date
from finsent.ingest.store import insert_posts, upsert_prices
from finsent.tickers import known_tickers

log = logging.getLogger(__name__)

POST_REQUIRED = ("ticker", "post_id", "posted_at", "title")
POST_OPTIONAL = ("body", "author", "views", "likes", "dislikes")
PRICE_REQUIRED = ("ticker", "date", "open", "high", "low", "close", "volume")
_BATCH = 50_000
_MAX_REPORTED = 10


def _count(value: str, column: str, maximum: int = MAX_COUNT) -> int | None:
    if value == "":
        return None
    if not (value.isascii() and value.isdigit()):
        raise ValueError(f"{column} {value!r} is not a non-negative integer")
    number = int(value)
    if number > maximum:
        raise ValueError(f"{column} {value} is out of range (at most {maximum})")
    return number


def _not_future(day, column: str, value: str) -> None:
    limit = latest_allowed_date(datetime.now(KST))
    if day > limit:
        raise ValueError(f"{column} {value!r} is after tomorrow ({limit}, KST)")


def _posted_at(value: str) -> datetime:
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"):
        try:
            return kst(datetime.strptime(value, fmt))
        except ValueError:
            continue
    raise ValueError(f"posted_at {value!r} is not KST 'YYYY-MM-DD HH:MM[:SS]'")


def _price(value: str, column: str) -> Decimal:
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise ValueError(f"{column} {value!r} is not a number") from None
    if not number.is_finite() or number < 0:
        raise ValueError(f"{column} {value!r} must be a non-negative number")
    return number


def parse_post_record(record: dict[str, str]) -> PostRow:
    post_id = _count(record["post_id"].strip(), "post_id", MAX_POST_ID)
    if post_id is None:
        raise ValueError("post_id is empty")
    title = record["title"].strip()
    if not title:
        raise ValueError("title is empty")
    posted_at = _posted_at(record["posted_at"].strip())
    _not_future(posted_at.date(), "posted_at", record["posted_at"].strip())
    return PostRow(
        ticker=record["ticker"].strip(), post_id=post_id, posted_at=posted_at,
        title=title, body=record.get("body") or None, author=(record.get("author") or "").strip() or None,
        views=_count((record.get("views") or "").strip(), "views"),
        likes=_count((record.get("likes") or "").strip(), "likes"),
        dislikes=_count((record.get("dislikes") or "").strip(), "dislikes"), source="csv",
    )


def parse_price_record(record: dict[str, str], adjusted: bool) -> PriceRow:
    try:
        day = datetime.strptime(record["date"].strip(), "%Y-%m-%d").date()
    except ValueError:
        raise ValueError(f"date {record['date']!r} is not YYYY-MM-DD") from None
    _not_future(day, "date", record["date"].strip())
    volume = _count(record["volume"].strip(), "volume", 2**63 - 1)
    if volume is None:
        raise ValueError("volume is empty")
    open_, high, low, close = (_price(record[c].strip(), c) for c in ("open", "high", "low", "close"))
    row = PriceRow(record["ticker"].strip(), day, open_, high, low, close, volume, adjusted, "csv")
    problem = bar_problem(row)
    if problem:
        raise ValueError(problem)
    return row


@dataclass
class _CsvFile:
    path: Path
    required: tuple[str, ...]
    optional: tuple[str, ...]

    def records(self) -> Iterator[tuple[int, dict[str, str]]]:
        """(line number, record) pairs; the header is checked first."""
        try:
            handle = self.path.open(encoding="utf-8-sig", newline="")
        except OSError as exc:
            raise InputError(f"{self.path}: cannot read ({exc.strerror})") from None
        with handle:
            # strict: a stray or unclosed quote is an error, not a field that swallows the next rows
            reader = csv.reader(handle, strict=True)
            try:
                header = [c.strip() for c in next(reader, [])]
            except (UnicodeDecodeError, csv.Error) as exc:
                raise InputError(f"{self.path}:1: unreadable header ({exc})") from None
            missing = [c for c in self.required if c not in header]
            unknown = [c for c in header if c not in self.required + self.optional]
            if missing or unknown:
                raise InputError(
                    f"{self.path}:1: header must have {','.join(self.required)}"
                    + (f" and may have {','.join(self.optional)}" if self.optional else "")
                    + (f"; missing: {', '.join(missing)}" if missing else "")
                    + (f"; unknown: {', '.join(unknown)}" if unknown else "")
                )
            try:
                start = reader.line_num + 1  # a quoted field may span lines: report where a row starts
                for fields in reader:
                    line, start = start, reader.line_num + 1
                    # Trailing optional fields may be left off; anything else is a malformed row.
                    if len(fields) > len(header) or len(fields) < len(self.required):
                        problem = f"expected {len(self.required)} to {len(header)} fields, got {len(fields)}"
                        yield line, {"__error__": problem}
                        continue
                    if any("\x00" in field for field in fields):
                        yield line, {"__error__": "a NUL byte (binary data in a text file?)"}
                        continue
                    yield line, dict(zip(header, fields))
            except UnicodeDecodeError as exc:
                raise InputError(f"{self.path}:{reader.line_num + 1}: not UTF-8 ({exc.reason}); "
                                 "nothing imported") from None
            except csv.Error as exc:
                # The row that starts at ``start`` is the one whose quoting broke (an unclosed quote
                # reads on to the end of the file, so the reader's own line number says little).
                raise InputError(f"{self.path}:{start}: malformed CSV row ({exc}): a quote that never "
                                 "closes or a stray quote inside a field; nothing imported") from None


def _validate(source: _CsvFile, parse: Callable[[dict[str, str]], object], known: set[str],
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
            errors.append(f"{source.path}:{line}: {exc}")
            if len(errors) >= _MAX_REPORTED:
                break
    if errors:
        raise InputError("rejected, nothing imported:\n  " + "\n  ".join(errors))
    if rows == 0:
        raise InputError(f"{source.path}: no data rows, nothing imported")
    return rows


def _batches(source: _CsvFile, parse: Callable[[dict[str, str]], object]) -> Iterator[list]:
    batch: list = []
    for _, record in source.records():
        batch.append(parse(record))
        if len(batch) >= _BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def import_posts(engine: Engine, path: Path) -> TickerReport:
    source = _CsvFile(path, POST_REQUIRED, POST_OPTIONAL)
    rows = _validate(source, parse_post_record, set(known_tickers(engine)), lambda r: (r.ticker, r.post_id))
    return _write(engine, "import-posts", path, rows,
                  lambda cur, batch: (insert_posts(cur, batch), 0), _batches(source, parse_post_record))


def import_prices(engine: Engine, path: Path, *, adjusted: bool = True) -> TickerReport:
    source = _CsvFile(path, PRICE_REQUIRED, ())
    parse = lambda record: parse_price_record(record, adjusted)
    rows = _validate(source, parse, set(known_tickers(engine)), lambda r: (r.ticker, r.trade_date))

    def write(cur, batch: list[PriceRow]) -> tuple[int, int]:
        sessions = [r for r in batch if r.volume > 0]  # volume 0: a trading halt, not a session
        written = upsert_prices(cur, sessions, replace=True)
        return written.inserted, written.updated

    return _write(engine, "import-prices", path, rows, write, _batches(source, parse))


def _write(engine: Engine, command: str, path: Path, rows: int, write, batches: Iterator[list]) -> TickerReport:
    started = time.monotonic()
    # rows and the run record land together, or not at all
    with raw_transaction(engine) as raw, raw.cursor() as cur:
        run = RunRecord(cur, uuid.uuid4(), command, f"csv:{path.name}", None)
        counters = run.counters
        for batch in batches:
            inserted, updated = write(cur, batch)
            counters.fetched += len(batch)
            counters.inserted += inserted
            counters.updated += updated
            log.info("%s: %d/%d rows written", path, counters.fetched, rows)
        counters.pages = 1
        counters.duplicates = counters.fetched - counters.inserted - counters.updated
        run.finish(cur, "ok")
    return TickerReport.from_counters(f"{path.name}", "ok", counters, time.monotonic() - started)
