"""Writing rows: COPY into a session-local stage, then one keyed INSERT ... ON CONFLICT.

This is the one write path for posts, news, comments and prices (crawlers, CSV import, benchmarks). Staging
keeps the keyed insert set-based and lets Postgres do the deduplication; the watermark and the
run counters are written in the same transaction as the rows they describe.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

from finsent.data.sources import TEXT_SOURCES
from finsent.ingest.records import (
    COMMENT_COLUMNS,
    NEWS_COLUMNS,
    POST_COLUMNS,
    PRICE_COLUMNS,
    CommentRow,
    NewsRow,
    PostRow,
    PriceRow,
)

# COPY text format: backslash escapes; NUL is not storable in Postgres text, so it is dropped.
_NEEDS_ESCAPE = re.compile(r"[\\\t\n\r\x00]")


def _text(value: str | None) -> str:
    if value is None:
        return "\\N"
    if _NEEDS_ESCAPE.search(value) is None:  # the common case; str.translate is slow on Hangul
        return value
    return (value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
            .replace("\r", "\\r").replace("\x00", ""))


def _number(value: object) -> str:
    return "\\N" if value is None else str(value)


def _flag(value: bool | None) -> str:
    return "\\N" if value is None else ("t" if value else "f")


def _post_line(r: PostRow) -> str:
    # One f-string per row: the insert path's Python cost is mostly here (see bench/ingest.py).
    return (f"{_text(r.ticker)}\t{r.post_id}\t{r.posted_at.isoformat()}\t{_text(r.title)}\t{_text(r.body)}\t"
            f"{_text(r.author)}\t{_text(r.author_id)}\t{_flag(r.is_reply)}\t{_number(r.parent_id)}\t"
            f"{_flag(r.cleanbot_passed)}\t{_flag(r.holder_verified)}\t{_text(r.post_type)}\t{_number(r.views)}\t"
            f"{_number(r.likes)}\t{_number(r.dislikes)}\t{_number(r.comment_count)}\t{_text(r.source)}\n")


def _price_line(r: PriceRow) -> str:
    return (f"{_text(r.ticker)}\t{r.trade_date.isoformat()}\t{r.open}\t{r.high}\t{r.low}\t{r.close}\t"
            f"{r.volume}\t{_flag(r.adjusted)}\t{_text(r.source)}\n")


def _news_line(r: NewsRow) -> str:
    return (f"{_text(r.ticker)}\t{_text(r.office_id)}\t{_text(r.article_id)}\t{r.published_at.isoformat()}\t"
            f"{_text(r.title)}\t{_text(r.summary)}\t{_text(r.office_name)}\t{_text(r.story_key)}\t{_text(r.source)}\n")


def _stamp(value) -> str:
    return "\\N" if value is None else value.isoformat()


def _comment_line(r: CommentRow) -> str:
    return (f"{_text(r.ticker)}\t{r.post_id}\t{r.comment_no}\t{_number(r.parent_comment_no)}\t"
            f"{_number(r.reply_level)}\t{r.written_at.isoformat()}\t{_stamp(r.modified_at)}\t{_text(r.text)}\t{_text(r.author)}\t"
            f"{_number(r.likes)}\t{_number(r.dislikes)}\t{_number(r.replies)}\t{_flag(r.deleted)}\t{_text(r.source)}\n")


def copy_lines(cursor, table: str, columns: Sequence[str], lines: Iterable[str]) -> None:
    """COPY pre-formatted text-format lines into ``table``."""
    cursor.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN", io.StringIO("".join(lines)))


def copy_posts(cursor, table: str, rows: Iterable[PostRow]) -> None:
    copy_lines(cursor, table, POST_COLUMNS, map(_post_line, rows))


def copy_prices(cursor, table: str, rows: Iterable[PriceRow]) -> None:
    copy_lines(cursor, table, PRICE_COLUMNS, map(_price_line, rows))


def copy_news(cursor, table: str, rows: Iterable[NewsRow]) -> None:
    copy_lines(cursor, table, NEWS_COLUMNS, map(_news_line, rows))


# Session-local stages, emptied at every commit (cheap for temp tables). Within a transaction a
# small batch is removed with DELETE (its dead rows go at commit) and a large one with TRUNCATE
# (so a multi-batch import never rescans dead rows); both measured in bench/ingest.py.
_POSTS_STAGE = "CREATE TEMP TABLE IF NOT EXISTS posts_stage (LIKE posts INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
_PRICES_STAGE = "CREATE TEMP TABLE IF NOT EXISTS prices_stage (LIKE prices INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
_NEWS_STAGE = ("CREATE TEMP TABLE IF NOT EXISTS news_stage (LIKE news INCLUDING DEFAULTS EXCLUDING GENERATED) "
               "ON COMMIT DELETE ROWS")
_COMMENTS_STAGE = ("CREATE TEMP TABLE IF NOT EXISTS comments_stage (LIKE comments INCLUDING DEFAULTS) "
                   "ON COMMIT DELETE ROWS")
_TRUNCATE_FROM = 10_000


def _empty_stage(cursor, table: str, rows: int) -> None:
    cursor.execute(f"TRUNCATE {table}" if rows >= _TRUNCATE_FROM else f"DELETE FROM {table}")
_POST_COLS = ", ".join(POST_COLUMNS)
_PRICE_COLS = ", ".join(PRICE_COLUMNS)
_NEWS_COLS = ", ".join(NEWS_COLUMNS)


def insert_posts(cursor, rows: Sequence[PostRow]) -> int:
    """Insert posts not stored yet (by ticker, post_id); return how many were new. No commit."""
    if not rows:
        return 0
    cursor.execute(_POSTS_STAGE)
    copy_posts(cursor, "posts_stage", rows)
    cursor.execute(
        f"INSERT INTO posts ({_POST_COLS}) SELECT {_POST_COLS} FROM posts_stage "
        "ON CONFLICT (ticker, post_id) DO NOTHING"
    )
    inserted = cursor.rowcount
    _empty_stage(cursor, "posts_stage", len(rows))
    return inserted


def insert_news(cursor, rows: Sequence[NewsRow]) -> int:
    """Insert articles not stored yet (by ticker, office_id, article_id); return how many were new. No commit.

    Stories merge: when a row's story already holds a stored article of another story (a cluster
    joined them), every article of both gets the smaller key, so a story's key is the smallest
    ``OFFICE/ARTICLE`` of its articles whatever order they were read in."""
    unique = {(r.ticker, *r.key): r for r in rows}
    if not unique:
        return 0
    cursor.execute(_NEWS_STAGE)
    copy_news(cursor, "news_stage", unique.values())
    # a batch's story is keyed by its smallest article (the parser does so already; a CSV may not)
    cursor.execute("UPDATE news_stage s SET story_key = m.least FROM (SELECT ticker, story_key, "
                   "min(office_id || '/' || article_id) AS least FROM news_stage GROUP BY ticker, story_key) m "
                   "WHERE (s.ticker, s.story_key) = (m.ticker, m.story_key) AND m.least < s.story_key")
    # (ticker, batch story key, stored story key) for every stored article the batch meets again
    cursor.execute("SELECT DISTINCT s.ticker, s.story_key, n.story_key FROM news_stage s JOIN news n "
                   "USING (ticker, office_id, article_id) WHERE s.story_key <> n.story_key")
    merges = _story_merges(cursor.fetchall())
    for (ticker, old), new in merges.items():
        cursor.execute("UPDATE news SET story_key = %s WHERE ticker = %s AND story_key = %s", (new, ticker, old))
        cursor.execute("UPDATE news_stage SET story_key = %s WHERE ticker = %s AND story_key = %s", (new, ticker, old))
    cursor.execute(f"INSERT INTO news ({_NEWS_COLS}) SELECT {_NEWS_COLS} FROM news_stage "
                   "ON CONFLICT (ticker, office_id, article_id) DO NOTHING")
    inserted = cursor.rowcount
    _empty_stage(cursor, "news_stage", len(unique))
    return inserted


_COMMENT_COLS = ", ".join(COMMENT_COLUMNS)
# What a re-fetch may change of a stored comment: its counters, an edit, its deletion (the text goes).
_COMMENT_CHANGES = ("parent_comment_no", "reply_level", "modified_at", "text", "likes", "dislikes", "replies",
                    "deleted")

# A re-fetch that changed a comment's text (an edit, a deletion that blanks it) drops the old text's
# scores, every version's: the upsert restamps the comment, so each version's next score run scores it
# again. The daily crawl is how comments change: this is no hand edit left to `finsent reconcile`.
_EDITED_COMMENTS = ("SELECT c.ticker, c.post_id, c.comment_no FROM comments_stage f JOIN comments c "
                    "USING (ticker, post_id, comment_no) WHERE c.text IS DISTINCT FROM f.text")
# The scores' key leads with the version: one probe of it per version and comment, the versions found
# by a walk of its first column (a join on the comment alone would read every score of every version).
_DROP_EDITED_SCORES = """
WITH RECURSIVE versions AS (
    SELECT min(model_version) AS v FROM comment_scores
    UNION ALL SELECT (SELECT min(model_version) FROM comment_scores WHERE model_version > versions.v)
    FROM versions WHERE versions.v IS NOT NULL)
DELETE FROM comment_scores s USING versions, unnest(%s::text[], %s::bigint[], %s::bigint[]) e(ticker, post_id, no)
WHERE s.model_version = versions.v AND s.ticker = e.ticker AND s.post_id = e.post_id AND s.comment_no = e.no"""

# ... and the scores of their posts by the versions that read a post's comments (comments_read set:
# --text title+body+comments), which read the old text too.
_DROP_READING_SCORES = """
WITH RECURSIVE versions AS (
    SELECT min(model_version) AS v FROM post_scores
    UNION ALL SELECT (SELECT min(model_version) FROM post_scores WHERE model_version > versions.v)
    FROM versions WHERE versions.v IS NOT NULL)
DELETE FROM post_scores s USING versions, unnest(%s::text[], %s::bigint[]) e(ticker, post_id)
WHERE s.model_version = versions.v AND s.ticker = e.ticker AND s.post_id = e.post_id
  AND s.comments_read IS NOT NULL"""


def _drop_edited_scores(cursor) -> None:
    """The scores of the staged comments whose stored text differs, and of their posts by the versions
    that read comments (none, mostly: then no delete at all)."""
    cursor.execute(_EDITED_COMMENTS)
    if edited := cursor.fetchall():
        cursor.execute(_DROP_EDITED_SCORES, [list(column) for column in zip(*edited)])
        posts = sorted({(ticker, post_id) for ticker, post_id, _ in edited})
        cursor.execute(_DROP_READING_SCORES, [list(column) for column in zip(*posts)])


def upsert_comments(cursor, rows: Sequence[CommentRow]) -> tuple[int, int]:
    """Insert comments not stored yet (by ticker, post_id, comment_no) and update the stored ones a
    re-fetch shows changed; return (inserted, updated). A comment is never stored twice; one whose text
    changed loses its scores (it is scored again). No commit."""
    unique = {(r.ticker, r.post_id, r.comment_no): r for r in rows}
    if not unique:
        return 0, 0
    cursor.execute(_COMMENTS_STAGE)
    copy_lines(cursor, "comments_stage", COMMENT_COLUMNS, map(_comment_line, unique.values()))
    _drop_edited_scores(cursor)
    assignments = ", ".join(f"{c} = EXCLUDED.{c}" for c in _COMMENT_CHANGES)
    stored = ", ".join(f"comments.{c}" for c in _COMMENT_CHANGES)
    fresh = ", ".join(f"EXCLUDED.{c}" for c in _COMMENT_CHANGES)
    cursor.execute(
        f"INSERT INTO comments ({_COMMENT_COLS}) SELECT {_COMMENT_COLS} FROM comments_stage "
        f"ON CONFLICT (ticker, post_id, comment_no) DO UPDATE SET {assignments}, updated_at = now(), "
        f"changed_seq = nextval('change_seq') WHERE ({stored}) IS DISTINCT FROM ({fresh}) RETURNING (xmax = 0)")
    returned = [row[0] for row in cursor.fetchall()]
    _empty_stage(cursor, "comments_stage", len(unique))
    inserted = sum(returned)
    return inserted, len(returned) - inserted


def _story_merges(pairs: Sequence[tuple[str, str, str]]) -> dict[tuple[str, str], str]:
    """(ticker, key) -> the key its story ends up with: the smallest of every key linked to it."""
    parent: dict[tuple[str, str], tuple[str, str]] = {}

    def find(node: tuple[str, str]) -> tuple[str, str]:
        while parent.get(node, node) != node:
            node = parent[node]
        return node

    for ticker, batch_key, stored_key in pairs:
        a, b = find((ticker, batch_key)), find((ticker, stored_key))
        if a != b:
            low, high = sorted((a, b))
            parent[high] = low
    nodes = {(t, k) for t, b, s in pairs for k in (b, s)}
    return {node: find(node)[1] for node in nodes if find(node) != node}


@dataclass
class PriceWrite:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rewritten: set[str] = field(default_factory=set)  # tickers with a stored session overwritten


def upsert_prices(cursor, rows: Sequence[PriceRow], *, replace: bool) -> PriceWrite:
    """Insert new sessions; with ``replace`` also overwrite stored ones that differ. No commit.

    ``replace`` is for re-fetches (``--since``): adjusted prices change after a split.
    """
    unique = {(r.ticker, r.trade_date): r for r in rows}  # a key may appear once per statement
    if not unique:
        return PriceWrite()
    cursor.execute(_PRICES_STAGE)
    copy_prices(cursor, "prices_stage", unique.values())
    if replace:
        conflict = (
            "DO UPDATE SET open = EXCLUDED.open, high = EXCLUDED.high, low = EXCLUDED.low, "
            "close = EXCLUDED.close, volume = EXCLUDED.volume, adjusted = EXCLUDED.adjusted, "
            "source = EXCLUDED.source, fetched_at = now() "
            "WHERE (prices.open, prices.high, prices.low, prices.close, prices.volume, prices.adjusted) "
            "IS DISTINCT FROM (EXCLUDED.open, EXCLUDED.high, EXCLUDED.low, EXCLUDED.close, "
            "EXCLUDED.volume, EXCLUDED.adjusted)"
        )
    else:
        conflict = "DO NOTHING"
    cursor.execute(
        f"INSERT INTO prices ({_PRICE_COLS}) SELECT {_PRICE_COLS} FROM prices_stage "
        f"ON CONFLICT (ticker, trade_date) {conflict} RETURNING ticker, (xmax = 0)"
    )
    returned = cursor.fetchall()
    _empty_stage(cursor, "prices_stage", len(unique))
    inserted = sum(1 for _, new in returned if new)
    written = PriceWrite(inserted=inserted, updated=len(returned) - inserted,
                         rewritten={ticker for ticker, new in returned if not new})
    written.unchanged = len(unique) - len(returned)
    return written


def drop_vanished_sessions(cursor, ticker: str, first: date, last: date, sessions: Sequence[date]) -> list[date]:
    """Delete ``ticker``'s stored sessions from ``first`` to ``last`` that are not in ``sessions``,
    and the labels (of every text source) of every definition whose return ran through one of them (the next ``finsent
    label`` writes them again); return the dates deleted. For a source that now says what the
    history is over that range: a bar it no longer lists is of an old basis, or was never a session."""
    cursor.execute("DELETE FROM prices WHERE ticker = %s AND trade_date BETWEEN %s AND %s "
                   "AND NOT trade_date = ANY(%s) RETURNING trade_date", (ticker, first, last, list(sessions)))
    gone = sorted(row[0] for row in cursor.fetchall())
    if gone:
        for table in (source.labels for source in TEXT_SOURCES.values()):  # every source's labels
            cursor.execute(f"DELETE FROM {table} WHERE ticker = %s AND EXISTS "
                           "(SELECT 1 FROM unnest(%s::date[]) g WHERE g BETWEEN base_date AND target_date)",
                           (ticker, gone))
    return gone
