"""``finsent prices``: keep ``prices`` complete per ticker.

A ticker's first run fetches its whole history; later runs fetch only sessions after the last
stored one; ``--since DATE`` re-fetches from a date and overwrites what changed (split-adjusted
prices move when a split happens). Trading-halt rows (volume 0) are not sessions and are dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date, datetime, timedelta

from sqlalchemy.engine import Engine

from finsent.config import Settings
from finsent.errors import FinsentError, PageParseError
from finsent.ingest.http import PoliteClient, RequestStats
from finsent.ingest.quarantine import save_raw
from finsent.ingest.records import KST, PriceRow
from finsent.ingest.runs import RunRecord, TickerReport, TickerWork, ingest_tickers
from finsent.ingest.sources import price_feeds
from finsent.ingest.store import upsert_prices

log = logging.getLogger(__name__)

PRICE_SOURCES = ("fchart", "sisejson", "sise-day")
_EPOCH = date(1990, 1, 1)  # before any KRX history Naver serves


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
            path = save_raw(self.settings.quarantine_dir, source=self.source, ticker=ticker, url=error.url,
                            body=response.content, reason=error.reason,
                            content_type=response.headers.get("Content-Type"))
            raise PageParseError(error.url, error.reason, quarantined=str(path)) from None

    def fetch(self, ticker: str, start: date, stats: RequestStats) -> tuple[list[PriceRow], int, int]:
        """Sessions from ``start`` to today: (rows, halted rows dropped, pages fetched)."""
        today = datetime.now(KST).date()
        if self.source == "fchart":
            # fchart takes a count of sessions, not a date: ask for the calendar days since
            # ``start`` (an upper bound on sessions) and cut at ``start``.
            count = min(price_feeds.FCHART_MAX_COUNT, max(1, (today - start).days + 1))
            page = self._get(self.settings.naver_price_url + "/sise.nhn", price_feeds.fchart_params(ticker, count),
                             ticker, stats, lambda r: price_feeds.parse_fchart(r.content, r.url, ticker))
            return [r for r in page.rows if r.trade_date >= start], page.halted, 1
        if self.source == "sisejson":
            page = self._get(self.settings.naver_api_url + "/siseJson.naver",
                             price_feeds.sise_json_params(ticker, start, today), ticker, stats,
                             lambda r: price_feeds.parse_sise_json(r.content, r.url, ticker))
            return [r for r in page.rows if r.trade_date >= start], page.halted, 1
        return self._walk_sise_day(ticker, start, stats)

    def _walk_sise_day(self, ticker: str, start: date, stats: RequestStats) -> tuple[list[PriceRow], int, int]:
        rows: list[PriceRow] = []
        halted = 0
        number = 1
        while True:
            page = self._get(self.settings.naver_legacy_url + "/item/sise_day.naver",
                             price_feeds.sise_day_params(ticker, number), ticker, stats,
                             lambda r: price_feeds.parse_sise_day(r.content, r.headers.get("Content-Type"),
                                                                  r.url, ticker))
            rows += [r for r in page.rows if r.trade_date >= start]
            halted += page.halted
            oldest = min((r.trade_date for r in page.rows), default=None)
            if oldest is None or oldest < start or page.last_page is None or number >= page.last_page:
                return rows, halted, number
            log.info("%s sise-day page %d/%d down to %s", ticker, number, page.last_page, oldest)
            number += 1


def sync_prices(settings: Settings, engine: Engine, tickers: Sequence[str], *, source: str = "fchart",
                since: date | None = None, ignore_robots: bool = False, workers: int = 1) -> list[TickerReport]:
    def make_work(client: PoliteClient, ticker: str) -> TickerWork:
        fetcher = PriceFetcher(settings, client, source)

        def work(conn, run: RunRecord) -> None:
            stats = RequestStats()
            with conn.cursor() as cur:
                cur.execute("SELECT max(trade_date) FROM prices WHERE ticker = %s", (ticker,))
                last = cur.fetchone()[0]
            start = since or (last + timedelta(days=1) if last else _EPOCH)
            try:
                rows, halted, pages = fetcher.fetch(ticker, start, stats)
            finally:
                run.counters.retries = stats.retries
            counters = run.counters
            with conn.cursor() as cur:
                written = upsert_prices(cur, rows, replace=since is not None)
                counters.pages, counters.fetched = pages, len(rows) + halted
                counters.inserted, counters.updated = written.inserted, written.updated
                counters.duplicates, counters.skipped = written.unchanged, halted
                run.save(cur)
            conn.commit()
            log.info("%s prices (%s) from %s: %d sessions, %d new, %d updated, %d halt rows dropped",
                     ticker, source, start, len(rows), written.inserted, written.updated, halted)

        return work

    return ingest_tickers(settings, engine, tickers, command="prices", source=source, ignore_robots=ignore_robots,
                          workers=workers, make_work=make_work)
