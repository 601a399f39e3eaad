"""``finsent crawl --source naver-news``: walk each ticker's news list newest to oldest into ``news``.

The list pages by number and shifts while new stories arrive, so an article can show up on two
pages (or in two clusters): rows are keyed by (ticker, office_id, article_id), never by position,
and a repeat is counted as a duplicate. A story cluster may hold an article re-carried later than
the cluster's place in the list, so a walk only stops once a whole page is older than its floor:
the newest article of the previous complete walk (or ``--since``, or ``FINSENT_BACKFILL_DAYS`` back
on a ticker's first run). Each page is committed with the ticker's watermark and the run's
counters, so a run killed at any moment loses nothing; ``--max-pages`` leaves the walk open and
the next run resumes it. The per-host clock, robots.txt, retries and quarantine are the board's.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

from sqlalchemy.engine import Engine

from finsent.config import Settings
from finsent.errors import FinsentError, PageParseError
from finsent.ingest.feeds import news_json
from finsent.ingest.http import PoliteClient, RequestStats
from finsent.ingest.quarantine import save_raw
from finsent.ingest.records import KST, NewsRow
from finsent.ingest.runs import RunRecord, TickerReport, TickerWork, ingest_tickers
from finsent.ingest.store import insert_news
from finsent.ingest.validation import news_problem, split_valid
from finsent.ingest.walks import PagingLoop, quarantine_records
from finsent.logs.progress import WalkProgress

log = logging.getLogger(__name__)

NEWS_SOURCE = news_json.SOURCE
NEWS_COMMAND = "crawl-news"  # its own lock and run rows: a board crawl of the same ticker runs beside it


@dataclass(frozen=True)
class NewsWatermark:
    newest_published_at: datetime | None
    oldest_published_at: datetime | None
    resume_page: int | None
    resume_floor_at: datetime | None


NO_WATERMARK = NewsWatermark(None, None, None, None)


def load_watermark(cursor, ticker: str) -> NewsWatermark:
    cursor.execute("SELECT newest_published_at, oldest_published_at, resume_page, resume_floor_at "
                   "FROM news_watermarks WHERE ticker = %s", (ticker,))
    row = cursor.fetchone()
    return NewsWatermark(*row) if row else NO_WATERMARK


def save_watermark(cursor, ticker: str, mark: NewsWatermark) -> None:
    cursor.execute(
        "INSERT INTO news_watermarks (ticker, newest_published_at, oldest_published_at, resume_page, "
        "resume_floor_at, updated_at) VALUES (%s, %s, %s, %s, %s, now()) ON CONFLICT (ticker) DO UPDATE SET "
        "newest_published_at = EXCLUDED.newest_published_at, oldest_published_at = EXCLUDED.oldest_published_at, "
        "resume_page = EXCLUDED.resume_page, resume_floor_at = EXCLUDED.resume_floor_at, updated_at = now()",
        (ticker, mark.newest_published_at, mark.oldest_published_at, mark.resume_page, mark.resume_floor_at),
    )


@dataclass
class FetchedNews:
    """One news page: the articles that may be stored, those validation refused (quarantined), notes."""

    page: news_json.NewsPage
    refused: list[NewsRow] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class NewsPager:
    def __init__(self, settings: Settings, client: PoliteClient) -> None:
        self.settings = settings
        self.client = client

    def fetch(self, ticker: str, page: int, stats: RequestStats) -> FetchedNews:
        base = self.settings.naver_news_url
        response = self.client.get(base + news_json.list_path(ticker), news_json.list_params(page),
                                   referer=news_json.referer(base, ticker), stats=stats)
        content_type = response.headers.get("Content-Type")
        try:
            parsed = news_json.parse_news_page(response.content, response.url, ticker)
        except PageParseError as error:
            path = save_raw(self.settings.quarantine_dir, source=NEWS_SOURCE, ticker=ticker, url=error.url,
                            body=response.content, reason=error.reason, content_type=content_type)
            raise PageParseError(error.url, error.reason, quarantined=str(path)) from None
        # An article validation refuses (an empty title, a lone surrogate, a date of 1900 or more than a
        # day ahead) is quarantined with its page; the page's others are stored.
        good, bad = split_valid(parsed.articles, news_problem, datetime.now(KST),
                                lambda r: f"article {r.office_id}/{r.article_id}")
        notes = [quarantine_records(self.settings.quarantine_dir, NEWS_SOURCE, ticker, response,
                                    [r for _, r in bad])] if bad else []
        return FetchedNews(replace(parsed, articles=good), [row for row, _ in bad], notes)


def _advanced(mark: NewsWatermark, articles: list[NewsRow], now: datetime) -> NewsWatermark:
    """``mark`` moved up to the newest article not dated after ``now``: the next walk stops below this
    time, so an article dated tomorrow (stored: a clock may run ahead) must not hide today's."""
    newest = max((r.published_at for r in articles if r.published_at <= now), default=None)
    if newest is not None and (mark.newest_published_at is None or newest > mark.newest_published_at):
        return replace(mark, newest_published_at=newest)
    return mark


class _BudgetSpent(Exception):
    """--max-pages reached: the walk stays open and the next run resumes it."""


class NewsCrawl:
    """Crawls one ticker's news on a connection that holds the ticker's advisory lock."""

    def __init__(self, pager: NewsPager, conn, run: RunRecord, ticker: str, max_pages: int | None) -> None:
        self.pager, self.conn, self.run, self.ticker, self.max_pages = pager, conn, run, ticker, max_pages
        self.stats = RequestStats()

    def _walk(self, mark: NewsWatermark, number: int, floor_at: datetime) -> NewsWatermark:
        counters = self.run.counters
        progress = WalkProgress(floor_at, datetime.now(KST))
        loop = PagingLoop(f"{self.ticker} news")
        while True:
            if self.max_pages is not None and counters.pages >= self.max_pages:
                raise _BudgetSpent
            fetched = self.pager.fetch(self.ticker, number, self.stats)
            page = fetched.page
            self.run.notes += fetched.notes
            keys = tuple(row.key for row in (*page.articles, *fetched.refused))
            # an empty page ends the list; so does a page read before in this walk (a server ignoring
            # `page`, or two pages served in turn), and a whole page older than the floor
            done = page.clusters == 0 or loop.looped(number, number + 1, keys, self.run.notes) or (
                bool(page.articles) and max(r.published_at for r in page.articles) < floor_at)
            mark = _advanced(mark, page.articles, datetime.now(KST))
            if done:
                oldest = min((r.published_at for r in page.articles), default=None)
                if oldest is not None and (mark.oldest_published_at is None or oldest < mark.oldest_published_at):
                    mark = replace(mark, oldest_published_at=oldest)
                mark = replace(mark, resume_page=None, resume_floor_at=None)
            else:
                mark = replace(mark, resume_page=number + 1, resume_floor_at=floor_at)
            self._commit_page(fetched, mark, progress)
            if done:
                return mark
            number += 1

    def _commit_page(self, fetched: FetchedNews, mark: NewsWatermark, progress: WalkProgress) -> None:
        counters, page = self.run.counters, fetched.page
        with self.conn.cursor() as cur:
            inserted = insert_news(cur, page.articles)
            counters.pages += 1
            counters.fetched += len(page.articles) + page.repeats + len(fetched.refused)
            counters.inserted += inserted
            counters.duplicates += len(page.articles) + page.repeats - inserted
            counters.quarantined += len(fetched.refused)
            counters.retries = self.stats.retries
            save_watermark(cur, self.ticker, mark)
            self.run.save(cur)
        self.run.commit(self.conn)
        reached = min((r.published_at for r in page.articles), default=None)
        log.info("%s news page %d: %d clusters, %d articles, %d new (run total %d new) %s", self.ticker,
                 counters.pages, page.clusters, len(page.articles), inserted, counters.inserted,
                 progress.describe(reached))

    def run_walks(self, since: datetime | None, backfill_days: int) -> None:
        with self.conn.cursor() as cur:
            mark = load_watermark(cur, self.ticker)
        self.conn.commit()
        try:
            if mark.resume_page is not None and mark.resume_floor_at is not None:
                log.info("%s: resuming an unfinished news walk at page %d", self.ticker, mark.resume_page)
                mark = self._walk(mark, mark.resume_page, mark.resume_floor_at)
            if since is not None:
                floor_at = since
            elif mark.newest_published_at is None:
                floor_at = datetime.now(KST) - timedelta(days=backfill_days)
            else:
                floor_at = mark.newest_published_at
            self._walk(mark, 1, floor_at)
        except _BudgetSpent:
            log.info("%s: --max-pages %s reached; the next run resumes this news walk", self.ticker, self.max_pages)
        finally:
            self.run.counters.retries = self.stats.retries


def crawl_news(settings: Settings, engine: Engine, tickers: Sequence[str], *, since: date | None = None,
               max_pages: int | None = None, ignore_robots: bool = False, workers: int = 1) -> list[TickerReport]:
    """Crawl each ticker's news; one ticker's failure never stops the others."""
    if max_pages is not None and max_pages < 1:
        raise FinsentError("--max-pages must be at least 1")
    since_at = datetime.combine(since, datetime.min.time(), tzinfo=KST) if since else None

    def make_work(client: PoliteClient, ticker: str) -> TickerWork:
        pager = NewsPager(settings, client)

        def work(conn, run: RunRecord) -> None:
            NewsCrawl(pager, conn, run, ticker, max_pages).run_walks(since_at, settings.backfill_days)

        return work

    return ingest_tickers(settings, engine, tickers, command=NEWS_COMMAND, source=NEWS_SOURCE,
                          ignore_robots=ignore_robots, workers=workers, make_work=make_work)
