"""``finsent prices``: keep ``prices`` complete per ticker.

A ticker's first run fetches its whole history. Later runs re-read an overlap of the last
``OVERLAP_SESSIONS`` stored sessions: if the feed now says something else for any of them (a split
or a rights issue rewrote the adjusted history), the ticker's whole history is fetched again and
rewritten (status ``rewritten``); otherwise only the new sessions are stored. ``--since DATE``
re-fetches from a date and overwrites what changed. Only closed sessions are stored (see
:mod:`finsent.ingest.session_clock`); trading-halt rows (volume 0) are not sessions and are dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy.engine import Engine

from finsent.config import Settings
from finsent.errors import FinsentError, PageParseError
from finsent.ingest.feeds import price_feeds
from finsent.ingest.http import PoliteClient, RequestStats
from finsent.ingest.quarantine import save_raw
from finsent.ingest.records import KST, PriceRow
from finsent.ingest.runs import RunRecord, TickerReport, TickerWork, ingest_tickers
from finsent.ingest.session_clock import closing_times, is_closed, latest_allowed_date
from finsent.ingest.store import drop_vanished_sessions, upsert_prices

log = logging.getLogger(__name__)

PRICE_SOURCES = ("fchart", "sisejson", "sise-day")
_EPOCH = date(1990, 1, 1)  # before any KRX history Naver serves
# Stored sessions an incremental run reads again to notice a rewritten adjusted history.
OVERLAP_SESSIONS = 5


class PriceFetcher:
    def __init__(self, settings: Settings, client: PoliteClient, source: str) -> None:
        if source not in PRICE_SOURCES:
            raise FinsentError(f"unknown price source {source!r}; choose one of {', '.join(PRICE_SOURCES)}")
        self.settings = settings
        self.client = client
        self.source = source

    def _get(self, url: str, params: dict[str, str], ticker: str, stats: RequestStats, parse):
        response = self.client.get(url, params, referer=f"{self.settings.naver_legacy_url}/item/main.naver"
                                   f"?code={ticker}", stats=stats)
        try:
            return parse(response)
        except PageParseError as error:
            raise self._quarantined(error, ticker, response) from None

    def _quarantined(self, error: PageParseError, ticker: str, response) -> PageParseError:
        path = save_raw(self.settings.quarantine_dir, source=self.source, ticker=ticker, url=error.url,
                        body=response.content, reason=error.reason, content_type=response.headers.get("Content-Type"))
        return PageParseError(error.url, error.reason, quarantined=str(path))

    def fetch(self, ticker: str, start: date, stats: RequestStats) -> tuple[list[PriceRow], int, int]:
        """Sessions from ``start`` to today: (rows, halted rows dropped, pages fetched)."""
        today = datetime.now(KST).date()
        parse_fchart, parse_sise_json = _no_future(price_feeds.parse_fchart), _no_future(price_feeds.parse_sise_json)
        if self.source == "fchart":
            # fchart takes a count of sessions, not a date: ask for the calendar days since
            # ``start`` (an upper bound on sessions) and cut at ``start``.
            count = min(price_feeds.FCHART_MAX_COUNT, max(1, (today - start).days + 1))
            page = self._get(self.settings.naver_price_url + "/sise.nhn", price_feeds.fchart_params(ticker, count),
                             ticker, stats, lambda r: parse_fchart(r.content, r.url, ticker))
            return [r for r in page.rows if r.trade_date >= start], page.halted, 1
        if self.source == "sisejson":
            page = self._get(self.settings.naver_api_url + "/siseJson.naver",
                             price_feeds.sise_json_params(ticker, start, today), ticker, stats,
                             lambda r: parse_sise_json(r.content, r.url, ticker))
            return [r for r in page.rows if r.trade_date >= start], page.halted, 1
        return self._walk_sise_day(ticker, start, stats)

    def _walk_sise_day(self, ticker: str, start: date, stats: RequestStats) -> tuple[list[PriceRow], int, int]:
        rows: list[PriceRow] = []
        halted = 0
        number = 1
        parse = _no_future(lambda body, url, ticker, content_type: price_feeds.parse_sise_day(
            body, content_type, url, ticker))
        while True:
            page = self._get(self.settings.naver_legacy_url + "/item/sise_day.naver",
                             price_feeds.sise_day_params(ticker, number), ticker, stats,
                             lambda r: parse(r.content, r.url, ticker, r.headers.get("Content-Type")))
            rows += [r for r in page.rows if r.trade_date >= start]
            halted += page.halted
            oldest = min((r.trade_date for r in page.rows), default=None)
            if oldest is None or oldest < start or page.last_page is None or number >= page.last_page:
                return rows, halted, number
            log.info("%s sise-day page %d/%d down to %s", ticker, number, page.last_page, oldest)
            number += 1


def _no_future(parse):
    """Wrap a feed parser: a session dated after tomorrow (KST) makes the page unparseable (quarantined)."""

    def checked(body: bytes, url: str, ticker: str, *args) -> price_feeds.PricePage:
        page = parse(body, url, ticker, *args)
        limit = latest_allowed_date(datetime.now(KST))
        future = [r.trade_date for r in page.rows if r.trade_date > limit]
        if future:
            raise PageParseError(url, f"session dated {max(future)} is after tomorrow ({limit}, KST)")
        return page

    return checked


def _drop_open_sessions(cur, rows: list[PriceRow], now: datetime) -> tuple[list[PriceRow], int]:
    """Keep only bars whose session has closed by ``now``; return them and how many were still open."""
    recent = sorted({r.trade_date for r in rows if r.trade_date >= now.date() - timedelta(days=1)})
    if not recent:
        return rows, 0
    closes = closing_times(cur, recent)
    still_open = {day for day in recent if not is_closed(day, closes[day], now)}
    return [r for r in rows if r.trade_date not in still_open], len([r for r in rows if r.trade_date in still_open])


def _drop_vanished_sessions(cur, ticker: str, rows: list[PriceRow]) -> int:
    """After a re-fetch the store equals the feed over the range it covers: sessions the feed no
    longer lists (now a halt, or never a session) go, with the labels whose returns ran through them."""
    if not rows:
        return 0
    days = [r.trade_date for r in rows]
    gone = drop_vanished_sessions(cur, ticker, min(days), max(days), days)
    if gone:
        log.warning("%s: the feed no longer lists %d stored session(s) (%s): deleted, with the labels "
                    "whose returns used them", ticker, len(gone), ", ".join(map(str, gone[:5])))
    return len(gone)


def _bar(row) -> tuple:
    return (Decimal(row[0]), Decimal(row[1]), Decimal(row[2]), Decimal(row[3]), int(row[4]), bool(row[5]))


def _overlap_differs(cur, ticker: str, start: date, rows: list[PriceRow], last: date) -> list[date]:
    """Stored sessions from ``start`` to ``last`` that the feed now reports otherwise (or not at all)."""
    cur.execute("SELECT trade_date, open, high, low, close, volume, adjusted FROM prices "
                "WHERE ticker = %s AND trade_date BETWEEN %s AND %s", (ticker, start, last))
    stored = {day: _bar(values) for day, *values in cur.fetchall()}
    fetched = {r.trade_date: _bar((r.open, r.high, r.low, r.close, r.volume, r.adjusted)) for r in rows
               if r.trade_date <= last}
    return sorted(day for day, bar in stored.items() if fetched.get(day) != bar)


def sync_prices(settings: Settings, engine: Engine, tickers: Sequence[str], *, source: str = "fchart",
                since: date | None = None, ignore_robots: bool = False, workers: int = 1,
                clock: Callable[[], datetime] = lambda: datetime.now(KST)) -> list[TickerReport]:
    """Sync each ticker's prices (see the module doc). ``clock`` says what time it is in KST (for
    which sessions have closed); tests pass the trading day's hours, the CLI and DAGs the real time."""
    def make_work(client: PoliteClient, ticker: str) -> TickerWork:
        fetcher = PriceFetcher(settings, client, source)

        def work(conn, run: RunRecord) -> str:
            stats = RequestStats()
            with conn.cursor() as cur:
                cur.execute("SELECT trade_date FROM prices WHERE ticker = %s ORDER BY trade_date DESC LIMIT %s",
                            (ticker, OVERLAP_SESSIONS))
                recent = [r[0] for r in cur.fetchall()]
            conn.commit()  # no transaction stays open across the HTTP fetch
            incremental = since is None and bool(recent)
            start = since or (recent[-1] if recent else _EPOCH)
            status = "ok"
            try:
                rows, halted, pages = fetcher.fetch(ticker, start, stats)
                with conn.cursor() as cur:
                    changed = _overlap_differs(cur, ticker, start, rows, recent[0]) if incremental else []
                if changed:
                    # The adjusted history moved under us (a split, a rights issue): the overlap
                    # cannot tell how far back, so fetch and rewrite all of it.
                    log.warning("%s: the feed changed %d stored session(s) (first %s): re-fetching and "
                                "rewriting the whole history", ticker, len(changed), changed[0])
                    rows, halted, more = fetcher.fetch(ticker, _EPOCH, stats)
                    pages += more
                    status = "rewritten"
            finally:
                run.counters.retries = stats.retries
            counters = run.counters
            with conn.cursor() as cur:
                rows, still_open = _drop_open_sessions(cur, rows, clock())
                replace = since is not None or bool(changed)
                written = upsert_prices(cur, rows, replace=replace)
                vanished = _drop_vanished_sessions(cur, ticker, rows) if replace else 0
                counters.pages, counters.fetched = pages, len(rows) + halted + still_open
                counters.inserted, counters.updated = written.inserted, written.updated + vanished
                counters.duplicates, counters.skipped = written.unchanged, halted + still_open
                run.save(cur)
            run.commit(conn)
            log.info("%s prices (%s) from %s: %d sessions, %d new, %d updated, %d halt rows dropped, "
                     "%d unfinished bar(s) left for a later run", ticker, source, start, len(rows), written.inserted,
                     written.updated, halted, still_open)
            return status

        return work

    return ingest_tickers(settings, engine, tickers, command="prices", source=source, ignore_robots=ignore_robots,
                          workers=workers, make_work=make_work)
