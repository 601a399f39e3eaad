"""The comments a model that reads them (``--text title+body+comments``) sees under a board post.

A post is traded at the open of its session (the first that opens after it: the ``session_date``
of its labels); a comment written under it before that open could have been read by whoever
traded it, one written after could not. So a post's comments are those written before the open
of its session (09:00 KST, or the later opening of ``session_hours``), in the order they were
written, one per line; comments the comment rules flagged (empty, deleted, spam, copies) are left
out. A snapshot and a walk read them for labelled posts; ``finsent score`` reads the same for a
post whose session has a label, and every comment stored so far for one that has none yet (its
session has not opened, or its price is not in: what a reader sees before the open), and scores
a post again when that set has changed (``post_scores.comments_read``).
"""

from __future__ import annotations

from finsent.data.sources import BOARD, selected
from finsent.errors import ConfigError

# The label definition whose session_date ``finsent score`` takes as a post's session: every rule
# but the study's same_day puts a post in the same session, and this one is always labelled.
SESSION_DEFINITION = "next_open_close"

_OPEN = ("(({session}) + coalesce((SELECT h.opens FROM session_hours h WHERE h.trade_date = ({session})), "
         "time '09:00')) AT TIME ZONE 'Asia/Seoul'")
_KEPT = ("c.ticker = {ticker} AND c.post_id = {post_id} AND c.written_at < {before} AND NOT EXISTS ("
         "SELECT 1 FROM comment_flags f WHERE f.ticker = c.ticker AND f.post_id = c.post_id "
         "AND f.comment_no = c.comment_no)")


def open_of_sql(session: str) -> str:
    """The timestamptz at which the session of date ``session`` (an SQL expression) opens."""
    return _OPEN.format(session=session)


def _kept(ticker: str, post_id: str, session: str) -> str:
    before = f"coalesce({open_of_sql(session)}, 'infinity'::timestamptz)"
    return _KEPT.format(ticker=ticker, post_id=post_id, before=before)


def comments_before_sql(ticker: str, post_id: str, session: str) -> str:
    """A scalar subquery: the kept comments of post (``ticker``, ``post_id``) written before the open
    of its session ``session`` (NULL: no session yet, every stored one), one per line; NULL if none."""
    return (f"(SELECT string_agg(c.text, E'\\n' ORDER BY c.written_at, c.comment_no) FROM comments c "
            f"WHERE {_kept(ticker, post_id, session)})")


def thread_sql(ticker: str, post_id: str, session: str) -> str:
    """A subquery of one row for a LATERAL join: ``comments`` (as ``comments_before_sql``) and
    ``comments_read``, how many they are (0 when none)."""
    return (f"(SELECT string_agg(c.text, E'\\n' ORDER BY c.written_at, c.comment_no) AS comments, "
            f"count(*)::int AS comments_read FROM comments c WHERE {_kept(ticker, post_id, session)})")


def check_comments_read(text: str, source: str) -> None:
    """Comments are read under board posts: a text mode that reads them needs board posts."""
    if text.endswith("+comments") and BOARD not in selected(source):
        raise ConfigError(f"--text {text} reads the comments under board posts; --source {source} has no board "
                          "posts (use --text title+body)")
