"""``finsent crawl --comments``: the comment threads of each ticker's recent posts into ``comments``.

Per ticker: the posts written in the last ``--days`` days (default ``DEFAULT_COMMENT_DAYS``) ask
the discussion API for their comment counts, 20 at a time (``comment_threads.comment_count``); a
post whose count grew past the count its stored comments are complete up to (``fetched_count``)
has its thread read from CBOX, newest first, page by page, until a page is empty or the thread's
total is reached. One thread's comments and its ``comment_threads`` row commit together, so a run
killed at any moment stores a thread whole or not at all, and a comment is stored once (keyed by
``comment_no``; a re-fetch updates likes, edits and deletions). Comments that arrive while a
thread is paged shift its pages: repeats are dropped by key, and the thread is recorded complete
up to the count that started the fetch only, so the next run fetches it again for the newcomers.
An answer that is not the expected JSONP is quarantined and that thread left out (the run is
reported failed, the other threads are stored); the per-host clock, robots.txt and retries are the
board's. Command ``crawl-comments``: its own lock and runs, beside the board crawl of a ticker.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine

from finsent.config import Settings
from finsent.errors import FinsentError, PageParseError
from finsent.ingest.feeds import cbox
from finsent.ingest.http import PoliteClient, RequestStats
from finsent.ingest.quarantine import save_raw
from finsent.ingest.records import KST, CommentRow
from finsent.ingest.runs import RunRecord, TickerReport, TickerWork, ingest_tickers
from finsent.ingest.store import upsert_comments
from finsent.ingest.validation import comment_problem, split_valid
from finsent.ingest.walks import quarantine_records

log = logging.getLogger(__name__)

COMMENTS_COMMAND = "crawl-comments"
DEFAULT_COMMENT_DAYS = 3  # most comments come within a day or two of their post
MAX_EXTRA_PAGES = 2  # pages read past the thread's announced last one (counts that move while we page)


@dataclass
class Thread:
    comments: list[CommentRow]
    pages: int
    complete: bool  # ended on an empty page or at the thread's total


class CommentsCrawl:
    """Crawls one ticker's comment threads on a connection that holds the ticker's lock."""

    def __init__(self, settings: Settings, client: PoliteClient, conn, run: RunRecord, ticker: str) -> None:
        self.settings, self.client, self.conn, self.run, self.ticker = settings, client, conn, run, ticker
        self.stats = RequestStats()
        self.errors: list[PageParseError] = []

    def run_threads(self, days: int) -> None:
        since = datetime.now(KST) - timedelta(days=days)
        with self.conn.cursor() as cur:
            cur.execute("SELECT post_id FROM posts WHERE ticker = %s AND posted_at >= %s ORDER BY post_id DESC",
                        (self.ticker, since))
            post_ids = [row[0] for row in cur.fetchall()]
        self.conn.commit()
        try:
            for start in range(0, len(post_ids), cbox.MAX_COUNT_IDS):
                self._refresh_counts(post_ids[start:start + cbox.MAX_COUNT_IDS])
            due = self._due(post_ids)
            self.run.counters.skipped = len(post_ids) - len(due)
            for post_id, count in due:
                self._fetch_thread(post_id, count)
        finally:
            self.run.counters.retries = self.stats.retries
        if self.errors:
            first = self.errors[0]
            raise PageParseError(first.url, f"{len(self.errors)} thread(s) left out; the first: {first.reason}",
                                 quarantined=first.quarantined)

    def _get(self, url: str, params: dict[str, str], referer: str, *, counts: bool = False):
        """A request, counted: CBOX pages as ``pages``, counts requests (the board host) as ``details``."""
        if counts:
            self.run.counters.details += 1
        else:
            self.run.counters.pages += 1
        return self.client.get(url, params, referer=referer, stats=self.stats)

    def _refresh_counts(self, post_ids: list[int]) -> None:
        base = self.settings.naver_board_url
        response = self._get(base + cbox.COUNTS_PATH, cbox.counts_params(post_ids),
                             f"{base}/domestic/stock/{self.ticker}/discussion", counts=True)
        try:
            counts = cbox.parse_counts(response.content, response.url)
        except PageParseError as error:
            raise self._quarantined(error, response) from None
        rows = [(post_id, count) for post_id, count in counts.items() if post_id in set(post_ids)]
        with self.conn.cursor() as cur:
            # a row only for a post that has comments, or had (a thread whose comments all went)
            cur.executemany(
                "INSERT INTO comment_threads AS t (ticker, post_id, comment_count) SELECT %s, %s, %s "
                "WHERE %s > 0 OR EXISTS (SELECT 1 FROM comment_threads e WHERE e.ticker = %s AND e.post_id = %s) "
                "ON CONFLICT (ticker, post_id) DO UPDATE SET comment_count = EXCLUDED.comment_count, "
                "checked_at = now()",
                [(self.ticker, p, c, c, self.ticker, p) for p, c in rows])
            self.run.save(cur)
        self.conn.commit()

    def _due(self, post_ids: list[int]) -> list[tuple[int, int]]:
        """(post, its count) of every thread whose count grew past what is stored, newest post first."""
        with self.conn.cursor() as cur:
            cur.execute("SELECT post_id, comment_count FROM comment_threads WHERE ticker = %s AND post_id = ANY(%s) "
                        "AND comment_count > coalesce(fetched_count, 0) ORDER BY post_id DESC",
                        (self.ticker, post_ids))
            due = [(p, c) for p, c in cur.fetchall()]
        self.conn.commit()
        return due

    def _fetch_thread(self, post_id: int, count: int) -> None:
        try:
            thread = self._read_thread(post_id)
        except PageParseError as error:
            self.errors.append(error)
            self.run.counters.failures += 1
            log.error("%s post %d: %s", self.ticker, post_id, error)
            return
        distinct = len(thread.comments)
        # complete up to the count that started the fetch: newcomers while paging come next run
        fetched = count if thread.complete else min(count, distinct)
        with self.conn.cursor() as cur:
            inserted, updated = upsert_comments(cur, thread.comments)
            cur.execute("UPDATE comment_threads SET fetched_count = %s, pages = %s, fetched_at = now() "
                        "WHERE ticker = %s AND post_id = %s", (fetched, thread.pages, self.ticker, post_id))
            counters = self.run.counters
            counters.fetched += distinct
            counters.inserted += inserted
            counters.updated += updated
            counters.duplicates += distinct - inserted - updated
            counters.retries = self.stats.retries
            self.run.save(cur)
        self.conn.commit()
        log.info("%s post %d: %d comments (%d new, %d changed) in %d page(s)", self.ticker, post_id, distinct,
                 inserted, updated, thread.pages)

    def _read_thread(self, post_id: int) -> Thread:
        seen: dict[int, CommentRow] = {}
        page, limit, complete = 1, None, False
        url = self.settings.naver_comments_url + cbox.LIST_PATH
        referer = cbox.referer(self.settings.naver_legacy_url, self.ticker, post_id)
        while limit is None or page <= limit:
            response = self._get(url, cbox.list_params(post_id, page), referer)
            try:
                parsed = cbox.parse_comment_page(response.content, response.url, self.ticker, post_id)
            except PageParseError as error:
                raise self._quarantined(error, response) from None
            good, bad = split_valid(parsed.comments, comment_problem, datetime.now(KST),
                                    lambda c: f"comment {c.comment_no}")
            if bad:  # a comment that cannot be stored (a lone surrogate, a wrong date): its page quarantined
                self.run.notes.append(quarantine_records(self.settings.quarantine_dir, cbox.SOURCE, self.ticker,
                                                     response, [r for _, r in bad]))
                self.run.counters.quarantined += len(bad)
            seen.update((c.comment_no, c) for c in good if c.comment_no not in seen)
            if parsed.last_page is not None:
                limit = parsed.last_page + MAX_EXTRA_PAGES
            if not parsed.comments or (parsed.total is not None and len(seen) >= parsed.total):
                complete = True
                break
            page += 1
            limit = limit if limit is not None else page + 1000  # a thread without a page model: bounded
        return Thread(list(seen.values()), page, complete)

    def _quarantined(self, error: PageParseError, response) -> PageParseError:
        path = save_raw(self.settings.quarantine_dir, source=cbox.SOURCE, ticker=self.ticker, url=error.url,
                        body=response.content, reason=error.reason, content_type=response.headers.get("Content-Type"))
        return PageParseError(error.url, error.reason, quarantined=str(path))


def crawl_comments(settings: Settings, engine: Engine, tickers: Sequence[str], *, days: int | None = None,
                   ignore_robots: bool = False, workers: int = 1) -> list[TickerReport]:
    """Fetch the grown comment threads of each ticker's posts of the last ``days`` days (default
    ``DEFAULT_COMMENT_DAYS``); one ticker's failure never stops the others."""
    days = DEFAULT_COMMENT_DAYS if days is None else days
    if days < 1:
        raise FinsentError("--days must be at least 1")

    def make_work(client: PoliteClient, ticker: str) -> TickerWork:
        def work(conn, run: RunRecord) -> None:
            CommentsCrawl(settings, client, conn, run, ticker).run_threads(days)

        return work

    return ingest_tickers(settings, engine, tickers, command=COMMENTS_COMMAND, source=cbox.SOURCE,
                          ignore_robots=ignore_robots, workers=workers, make_work=make_work)
