"""``finsent crawl``: walk each ticker's discussion board newest to oldest into ``posts``.

A walk stops at the ticker's watermark (the newest post a completed walk stored), at a date
(``--since``, or ``FINSENT_BACKFILL_DAYS`` back on a ticker's first run) or at the end of the
board. Each page is committed together with the watermark and the run's counters, so a run killed
at any moment loses nothing: the next run first finishes the open walk from its saved cursor,
then walks down from the top again.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Protocol

from sqlalchemy.engine import Engine

from finsent.config import Settings
from finsent.errors import FinsentError, PageParseError
from finsent.ingest.bodies import BodyFetcher, queue_bodies
from finsent.ingest.feeds import board_html, board_json
from finsent.ingest.http import PoliteClient, RequestStats
from finsent.ingest.quarantine import save_raw
from finsent.ingest.records import KST, PostRow
from finsent.ingest.runs import RunRecord, TickerReport, TickerWork, ingest_tickers
from finsent.ingest.store import insert_posts
from finsent.ingest.transfer import Answer
from finsent.ingest.validation import post_problem, split_valid
from finsent.ingest.walks import PagingLoop, quarantine_records
from finsent.logs.progress import WalkProgress

log = logging.getLogger(__name__)

BOARD_SOURCES = ("naver-mobile", "naver-html")


@dataclass(frozen=True)
class Watermark:
    """Where a ticker's board stands: its newest and oldest stored post, and, for an unfinished walk
    (killed, or stopped by --max-pages), the cursor it resumes at and the floor it walks down to."""

    newest_post_id: int | None
    newest_posted_at: datetime | None
    oldest_posted_at: datetime | None
    resume_cursor: str | None
    resume_floor_post_id: int | None
    resume_floor_at: datetime | None


NO_WATERMARK = Watermark(None, None, None, None, None, None)  # a ticker never crawled


def load_watermark(cursor, ticker: str, source: str) -> Watermark:
    cursor.execute(
        "SELECT newest_post_id, newest_posted_at, oldest_posted_at, resume_cursor, resume_floor_post_id, "
        "resume_floor_at FROM crawl_watermarks WHERE ticker = %s AND source = %s",
        (ticker, source),
    )
    row = cursor.fetchone()
    return Watermark(*row) if row else NO_WATERMARK


def save_watermark(cursor, ticker: str, source: str, mark: Watermark) -> None:
    cursor.execute(
        "INSERT INTO crawl_watermarks (ticker, source, newest_post_id, newest_posted_at, oldest_posted_at, "
        "resume_cursor, resume_floor_post_id, resume_floor_at, updated_at) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, now()) "
        "ON CONFLICT (ticker, source) DO UPDATE SET newest_post_id = EXCLUDED.newest_post_id, "
        "newest_posted_at = EXCLUDED.newest_posted_at, oldest_posted_at = EXCLUDED.oldest_posted_at, "
        "resume_cursor = EXCLUDED.resume_cursor, resume_floor_post_id = EXCLUDED.resume_floor_post_id, "
        "resume_floor_at = EXCLUDED.resume_floor_at, updated_at = now()",
        (ticker, source, mark.newest_post_id, mark.newest_posted_at, mark.oldest_posted_at,
         mark.resume_cursor, mark.resume_floor_post_id, mark.resume_floor_at),
    )


# --- pagers: one page of a board, in each source's own paging scheme -----------------------------------


@dataclass
class Page:
    posts: list[PostRow]
    next_cursor: str | None  # None: the board ends here
    skipped: int  # rows seen but not stored (clean-bot rows without an id, other stocks' posts)
    refused: list[PostRow] = field(default_factory=list)  # parsed, refused by validation: quarantined
    notes: list[str] = field(default_factory=list)  # for the run's report (where the refused went)
    body_needs: dict[int, str] = field(default_factory=dict)  # posts whose body the detail endpoint completes

    @property
    def ids(self) -> list[int]:
        """Every post id the page showed, refused ones included (they are handled: never fetched again)."""
        return [p.post_id for p in (*self.posts, *self.refused)]


class Pager(Protocol):
    source: str
    # True when pages are strictly newest first (JSON); the legacy HTML puts replies under their
    # parents, so a walk may only stop once a whole page is older than the floor.
    strictly_newest_first: bool
    # True when a cut or absent body has a detail endpoint to complete it (JSON)
    fetches_bodies: bool
    settings: Settings
    client: PoliteClient

    def fetch(self, ticker: str, cursor: str | None, stats: RequestStats) -> Page: ...


class _PagerBase:
    fetches_bodies = False
    source: str

    def __init__(self, settings: Settings, client: PoliteClient) -> None:
        self.settings = settings
        self.client = client

    def _quarantined(self, error: PageParseError, ticker: str, body: bytes, content_type: str | None):
        path = save_raw(self.settings.quarantine_dir, source=self.source, ticker=ticker, url=error.url,
                        body=body, reason=error.reason, content_type=content_type)
        return PageParseError(error.url, error.reason, quarantined=str(path))

    def _page(self, posts: list[PostRow], next_cursor: str | None, skipped: int, ticker: str,
              answer: Answer) -> Page:
        """The page with the posts validation refuses (an empty title, a lone surrogate, a date of 1900 or
        more than a day ahead, ...) set apart: quarantined with the page's raw body, never stored."""
        good, bad = split_valid(posts, post_problem, datetime.now(KST), lambda p: f"post {p.post_id}")
        notes = [quarantine_records(self.settings.quarantine_dir, self.source, ticker, answer,
                                    [r for _, r in bad])] if bad else []
        return Page(good, next_cursor, skipped, [row for row, _ in bad], notes)


class JsonPager(_PagerBase):
    source = "naver-mobile"
    strictly_newest_first = True
    fetches_bodies = True
    page_size = board_json.DEFAULT_PAGE_SIZE

    def fetch(self, ticker: str, cursor: str | None, stats: RequestStats) -> Page:
        response = self.client.get(
            self.settings.naver_board_url + board_json.LIST_PATH,
            board_json.list_params(ticker, self.page_size, cursor),
            referer=board_json.referer(self.settings.naver_board_url, ticker),
            stats=stats,
        )
        try:
            page = board_json.parse_list_page(response.content, response.url, ticker, cursor)
        except PageParseError as error:
            raise self._quarantined(error, ticker, response.content,
                                    response.headers.get("Content-Type")) from None
        checked = self._page(page.posts, page.next_cursor, page.foreign, ticker, response)
        checked.body_needs = page.body_needs
        return checked


class HtmlPager(_PagerBase):
    """Page-number paging: new posts push rows down while we walk, so rows repeat (deduplicated by
    the keyed insert) but none are skipped. The cursor is the next page number."""

    source = "naver-html"
    strictly_newest_first = False

    def fetch(self, ticker: str, cursor: str | None, stats: RequestStats) -> Page:
        number = int(cursor) if cursor else 1
        response = self.client.get(
            board_html.list_path(self.settings.naver_legacy_url),
            board_html.list_params(ticker, number),
            referer=f"{self.settings.naver_legacy_url}/item/main.naver?code={ticker}",
            stats=stats,
        )
        content_type = response.headers.get("Content-Type")
        try:
            page = board_html.parse_list_page(response.content, content_type, response.url, ticker)
        except PageParseError as error:
            raise self._quarantined(error, ticker, response.content, content_type) from None
        has_more = (page.posts or page.hidden) and page.last_page is not None and number < page.last_page
        return self._page(page.posts, str(number + 1) if has_more else None, page.hidden, ticker, response)


def make_pager(source: str, settings: Settings, client: PoliteClient) -> Pager:
    if source == "naver-mobile":
        return JsonPager(settings, client)
    if source == "naver-html":
        return HtmlPager(settings, client)
    raise FinsentError(f"unknown board source {source!r}; choose one of {', '.join(BOARD_SOURCES)}")


# --- the walk ---------------------------------------------------------------------------------------------


def _reached_floor(page: Page, floor_id: int | None, floor_at: datetime | None, strictly_newest_first: bool) -> bool:
    """Whether ``page`` reaches the walk's floor: by id (every id the page showed counts), or by date
    (only the posts that passed validation: a date of 1900 must not end a backfill)."""
    ids = page.ids
    if not ids:
        return False
    pick = min if strictly_newest_first else max
    if floor_id is not None and pick(ids) <= floor_id:
        return True
    return floor_at is not None and bool(page.posts) and pick(p.posted_at for p in page.posts) < floor_at


def _advanced(mark: Watermark, page: Page, now: datetime) -> Watermark:
    """``mark`` moved up to the page's newest post id; its time is that of the newest post not dated
    after ``now`` (a post dated ahead of the clock must not become the time a later walk trusts)."""
    ids = page.ids
    if not ids or (mark.newest_post_id is not None and max(ids) <= mark.newest_post_id):
        return mark
    dated = max((p for p in page.posts if p.posted_at <= now), key=lambda p: p.post_id, default=None)
    newest_at = dated.posted_at if dated is not None else mark.newest_posted_at
    return replace(mark, newest_post_id=max(ids), newest_posted_at=newest_at)


class _BudgetSpent(Exception):
    """--max-pages reached: the walk stays open and the next run resumes it."""


class BoardCrawl:
    """Crawls one ticker's board on a connection that holds the ticker's advisory lock."""

    def __init__(self, pager: Pager, conn, run: RunRecord, ticker: str, max_pages: int | None) -> None:
        self.pager = pager
        self.conn = conn
        self.run = run
        self.ticker = ticker
        self.max_pages = max_pages
        self.stats = RequestStats()
        self.progress: WalkProgress | None = None  # walks down to a date show a bar and an ETA
        # the JSON board's cut or absent bodies come from the detail endpoint, on the pager's client
        self.bodies = (BodyFetcher(pager.settings, pager.client, conn, run, ticker, self.stats)
                       if pager.fetches_bodies else None)

    def _walk(self, mark: Watermark, cursor: str | None, floor_id: int | None,
              floor_at: datetime | None) -> Watermark:
        """Walk from ``cursor`` (None: the newest page) down to the floor; return the closed watermark."""
        counters = self.run.counters
        self.progress = WalkProgress(floor_at, datetime.now(KST)) if floor_at is not None else None
        loop = PagingLoop(f"{self.ticker} {self.pager.source}")
        while True:
            if self.max_pages is not None and counters.pages >= self.max_pages:
                raise _BudgetSpent
            page = self.pager.fetch(self.ticker, cursor, self.stats)
            self.run.notes += page.notes
            looped = loop.looped(cursor, page.next_cursor, tuple(page.ids), self.run.notes)
            done = page.next_cursor is None or looped or _reached_floor(
                page, floor_id, floor_at, self.pager.strictly_newest_first)
            mark = _advanced(mark, page, datetime.now(KST))
            if done:
                oldest = min((p.posted_at for p in page.posts), default=None)
                if oldest is not None and (mark.oldest_posted_at is None or oldest < mark.oldest_posted_at):
                    mark = replace(mark, oldest_posted_at=oldest)
                mark = replace(mark, resume_cursor=None, resume_floor_post_id=None, resume_floor_at=None)
            else:
                mark = replace(mark, resume_cursor=page.next_cursor, resume_floor_post_id=floor_id,
                               resume_floor_at=floor_at)
            self._commit_page(page, mark)
            if self.bodies is not None:
                self.bodies.fetch_pending()
            if done:
                return mark
            cursor = page.next_cursor

    def _commit_page(self, page: Page, mark: Watermark) -> None:
        counters = self.run.counters
        with self.conn.cursor() as cur:
            inserted = insert_posts(cur, page.posts)
            queue_bodies(cur, self.ticker, page.body_needs)
            counters.pages += 1
            counters.fetched += len(page.posts) + len(page.refused)
            counters.inserted += inserted
            counters.duplicates += len(page.posts) - inserted
            counters.skipped += page.skipped
            counters.quarantined += len(page.refused)
            counters.retries = self.stats.retries
            save_watermark(cur, self.ticker, self.pager.source, mark)
            self.run.save(cur)
        self.run.commit(self.conn)
        reached = min((p.posted_at for p in page.posts), default=None)
        log.info("%s %s page %d: %d posts, %d new (run total %d new) %s", self.ticker, self.pager.source,
                 counters.pages, len(page.posts), inserted, counters.inserted,
                 self.progress.describe(reached) if self.progress else "")

    def run_walks(self, since: datetime | None, backfill_days: int) -> None:
        with self.conn.cursor() as cur:
            mark = load_watermark(cur, self.ticker, self.pager.source)
        self.conn.commit()
        try:
            if self.bodies is not None:  # details an earlier run could not fetch
                self.bodies.fetch_pending()
            if mark.resume_cursor is not None:
                log.info("%s: resuming an unfinished walk at cursor %r", self.ticker, mark.resume_cursor)
                mark = self._walk(mark, mark.resume_cursor, mark.resume_floor_post_id, mark.resume_floor_at)
            if since is not None:
                floor_id, floor_at = None, since
            elif mark.newest_post_id is None:
                floor_id, floor_at = None, datetime.now(KST) - timedelta(days=backfill_days)
            else:
                floor_id, floor_at = mark.newest_post_id, None
            self._walk(mark, None, floor_id, floor_at)
        except _BudgetSpent:
            log.info("%s: --max-pages %s reached; the next run resumes this walk", self.ticker, self.max_pages)
        finally:
            self.run.counters.retries = self.stats.retries


def crawl_boards(settings: Settings, engine: Engine, tickers: Sequence[str], *, source: str = "naver-mobile",
                 since: date | None = None, max_pages: int | None = None, ignore_robots: bool = False,
                 workers: int = 1) -> list[TickerReport]:
    """Crawl each ticker's board; one ticker's failure never stops the others."""
    if max_pages is not None and max_pages < 1:
        raise FinsentError("--max-pages must be at least 1")
    since_at = datetime.combine(since, datetime.min.time(), tzinfo=KST) if since else None

    def make_work(client: PoliteClient, ticker: str) -> TickerWork:
        pager = make_pager(source, settings, client)

        def work(conn, run: RunRecord) -> None:
            BoardCrawl(pager, conn, run, ticker, max_pages).run_walks(since_at, settings.backfill_days)

        return work

    return ingest_tickers(settings, engine, tickers, command="crawl", source=source, ignore_robots=ignore_robots,
                          workers=workers, make_work=make_work)
