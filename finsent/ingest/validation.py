"""One validation of the posts and news articles finsent stores, whoever brings them.

``finsent import`` and the crawlers ask the same questions of every record: a title that is not
empty and not absurdly long, text that is valid Unicode (a lone surrogate such as ``\\ud83d``, which
JSON can carry and Postgres cannot store), and a time after Naver existed and not more than a day
ahead of now. The importer refuses the whole file for one bad record (exit 2, the line named); a
crawler quarantines the record (its page's raw body and the reason) and stores the page's others,
so one bad post never blocks a board.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TypeVar

from finsent.ingest.records import KST, CommentRow, NewsRow, PostRow

POSTS_FROM = date(1999, 6, 2)  # Naver's founding: an older time is a wrong date (year 0001, 1900, 1970)
RECORD_LEAD = timedelta(days=1)  # a board clock may run a little ahead; more is a wrong date
# Naver caps a post's title at a few dozen characters and a headline at a line; a thousand is
# generous, and a longer one (a 40 MB "title") is a broken or hostile answer.
MAX_TITLE_CHARS = 1_000
MAX_TEXT_CHARS = 200_000  # a post's body, a news summary


def text_problem(value: str | None, what: str, limit: int) -> str | None:
    """Why ``value`` cannot be stored as text (None when it can)."""
    if value is None:
        return None
    if len(value) > limit:
        return f"{what} is {len(value):,} characters long; at most {limit:,}"
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            return (f"{what} holds a lone surrogate (U+{ord(value[exc.start]):04X} at character {exc.start}): "
                    "not valid Unicode")
    return None


def time_problem(moment: datetime, what: str, now: datetime) -> str | None:
    """Why ``moment`` cannot be a post's or an article's time at ``now`` (None when it can)."""
    if moment.astimezone(KST).date() < POSTS_FROM:
        return f"{what} {moment:%Y-%m-%d %H:%M} is before {POSTS_FROM} (Naver's founding): a wrong date"
    if moment > now + RECORD_LEAD:
        return (f"{what} {moment.astimezone(KST):%Y-%m-%d %H:%M} is more than a day ahead of now "
                f"({now.astimezone(KST):%Y-%m-%d %H:%M} KST)")
    return None


def _first(*problems: str | None) -> str | None:
    return next((p for p in problems if p is not None), None)


def post_problem(row: PostRow, now: datetime) -> str | None:
    """Why ``row`` must not be stored (None when it may)."""
    return _first(
        "title is empty" if not row.title.strip() else None,
        text_problem(row.title, "title", MAX_TITLE_CHARS),
        time_problem(row.posted_at, "posted_at", now),
        text_problem(row.body, "body", MAX_TEXT_CHARS),
        *(text_problem(value, name, MAX_TITLE_CHARS) for name, value in
          (("author", row.author), ("author_id", row.author_id), ("post_type", row.post_type))),
    )


def news_problem(row: NewsRow, now: datetime) -> str | None:
    """Why ``row`` must not be stored (None when it may)."""
    return _first(
        "title is empty" if not row.title.strip() else None,
        text_problem(row.title, "title", MAX_TITLE_CHARS),
        time_problem(row.published_at, "published_at", now),
        text_problem(row.summary, "summary", MAX_TEXT_CHARS),
        text_problem(row.office_name, "office_name", MAX_TITLE_CHARS),
    )


def comment_problem(row: CommentRow, now: datetime) -> str | None:
    """Why ``row`` must not be stored (None when it may); a deleted comment's text is empty."""
    return _first(
        text_problem(row.text, "text", MAX_TEXT_CHARS),
        time_problem(row.written_at, "regTime", now),
        text_problem(row.author, "userName", MAX_TITLE_CHARS),
    )


@dataclass(frozen=True)
class Rejected:
    """A record a crawler refused: its key (a post id, ``OFFICE/ARTICLE``) and why."""

    key: str
    reason: str


_Row = TypeVar("_Row")


def split_valid(rows: Sequence[_Row], problem: Callable[[_Row, datetime], str | None], now: datetime,
                key: Callable[[_Row], str]) -> tuple[list[_Row], list[tuple[_Row, Rejected]]]:
    """(the rows that may be stored, the others with why not)."""
    good: list[_Row] = []
    bad: list[tuple[_Row, Rejected]] = []
    for row in rows:
        reason = problem(row, now)
        if reason is None:
            good.append(row)
        else:
            bad.append((row, Rejected(key(row), reason)))
    return good, bad
