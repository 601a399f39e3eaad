"""Whole bodies of posts whose list body was cut or absent: the detail endpoint (SOURCES.md 1b).

The board crawl queues such posts in ``post_body_fetches`` with the page that stored them, and
fetches their details right after committing the page, through the crawl's own client: the same
per-host clock, robots.txt rule and retries. A body is written once: ``posts.body`` is replaced by
the detail's text and the queue row turns ``fetched`` in one transaction, and a re-crawl's list
body never overwrites a stored post (the keyed insert). A detail that does not parse is quarantined
and counted against the post (``MAX_DETAIL_ATTEMPTS``, then ``failed``); a request that fails for
good stops the ticker's details for this run (the next crawl goes on). A body completed after the
post was quality-checked or scored loses its flags and scores, so both are redone with the body.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from finsent.config import Settings
from finsent.errors import FetchError, PageParseError
from finsent.ingest.feeds import board_json
from finsent.ingest.http import PoliteClient, RequestStats
from finsent.ingest.quarantine import save_raw
from finsent.ingest.runs import RunRecord
from finsent.ingest.validation import MAX_TEXT_CHARS, text_problem

log = logging.getLogger(__name__)

MAX_DETAIL_ATTEMPTS = 3
SOURCE = "naver-detail"  # the quarantine's name for detail answers


def queue_bodies(cursor, ticker: str, needs: Mapping[int, str]) -> None:
    """Queue the stored posts of ``needs`` (post id -> 'cut' | 'missing') for their detail; a post
    queued (or fetched) before keeps its row. No commit."""
    if not needs:
        return
    cursor.execute(
        "INSERT INTO post_body_fetches (ticker, post_id, reason) SELECT %s, n.post_id, n.reason "
        "FROM unnest(%s::bigint[], %s::text[]) AS n (post_id, reason) "
        "WHERE EXISTS (SELECT 1 FROM posts p WHERE p.ticker = %s AND p.post_id = n.post_id) "
        "ON CONFLICT (ticker, post_id) DO NOTHING",
        (ticker, list(needs), list(needs.values()), ticker))


# A completed body changes what the quality rules and a body-reading model see: the post's check,
# flags and scores go, and its new change stamp brings it back to `finsent quality check` and the
# incremental scoring.
_WRITE_BODY = (
    "UPDATE posts SET body = %(body)s, changed_seq = nextval('change_seq') "
    "WHERE ticker = %(ticker)s AND post_id = %(post_id)s",
    "DELETE FROM post_flags WHERE ticker = %(ticker)s AND post_id = %(post_id)s",
    "DELETE FROM post_quality WHERE ticker = %(ticker)s AND post_id = %(post_id)s",
    "DELETE FROM post_scores WHERE ticker = %(ticker)s AND post_id = %(post_id)s",
    "UPDATE post_body_fetches SET state = 'fetched', attempts = attempts + 1, fetched_at = now(), "
    "last_error = NULL WHERE ticker = %(ticker)s AND post_id = %(post_id)s",
)


class BodyFetcher:
    """Fetches the pending details of one ticker on the crawl's connection (which holds its lock)."""

    def __init__(self, settings: Settings, client: PoliteClient, conn, run: RunRecord, ticker: str,
                 stats: RequestStats) -> None:
        self.settings, self.client, self.conn, self.run, self.ticker = settings, client, conn, run, ticker
        self.stats = stats
        self.stopped = False  # a request failed for good: no more details this run
        self.tried: set[int] = set()  # a detail that failed in this run waits for the next one

    def _pending(self) -> list[int]:
        with self.conn.cursor() as cur:
            cur.execute("SELECT post_id FROM post_body_fetches WHERE ticker = %s AND state = 'pending' "
                        "ORDER BY post_id DESC", (self.ticker,))
            pending = [row[0] for row in cur.fetchall()]
        self.conn.commit()
        return pending

    def fetch_pending(self) -> int:
        """Fetch every pending detail of the ticker; return how many bodies were written."""
        written = 0
        for post_id in [] if self.stopped else self._pending():
            if post_id in self.tried:
                continue
            self.tried.add(post_id)
            try:
                body = self._fetch(post_id)
            except PageParseError as error:
                self._failed(post_id, str(error))
                continue
            except FetchError as error:
                self._failed(post_id, str(error))
                self.stopped = True
                log.warning("%s: detail of post %d failed (%s); the next crawl fetches the rest", self.ticker,
                            post_id, error)
                break
            with self.conn.cursor() as cur:
                for statement in _WRITE_BODY:
                    cur.execute(statement, {"body": body, "ticker": self.ticker, "post_id": post_id})
                self.run.save(cur)
            self.conn.commit()
            written += 1
        return written

    def _fetch(self, post_id: int) -> str:
        base = self.settings.naver_board_url
        self.run.counters.details += 1
        try:
            response = self.client.get(base + board_json.DETAIL_PATH, board_json.detail_params(post_id),
                                       referer=board_json.referer(base, self.ticker), stats=self.stats)
        finally:
            self.run.counters.retries = self.stats.retries
        try:
            body = board_json.parse_detail(response.content, response.url)
            problem = text_problem(body, "body", MAX_TEXT_CHARS)  # the one validation of what is stored
            if problem is not None:
                raise PageParseError(response.url, problem)
            return body
        except PageParseError as error:
            path = save_raw(self.settings.quarantine_dir, source=SOURCE, ticker=self.ticker, url=error.url,
                            body=response.content, reason=error.reason,
                            content_type=response.headers.get("Content-Type"))
            raise PageParseError(error.url, error.reason, quarantined=str(path)) from None

    def _failed(self, post_id: int, error: str) -> None:
        with self.conn.cursor() as cur:
            cur.execute("UPDATE post_body_fetches SET attempts = attempts + 1, last_error = %s, "
                        "state = CASE WHEN attempts + 1 >= %s THEN 'failed' ELSE 'pending' END "
                        "WHERE ticker = %s AND post_id = %s", (error[:1000], MAX_DETAIL_ATTEMPTS, self.ticker, post_id))
            self.run.save(cur)
        self.conn.commit()
        log.warning("%s: detail of post %d: %s", self.ticker, post_id, error)
