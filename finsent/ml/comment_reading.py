"""``finsent score`` of a model that reads the comments under a post (``--text title+body+comments``).

Such a model reads a post's comments written before its session opened that are stored when it
scores (:mod:`finsent.data.post_comments`): the session of its ``next_open_close`` label, and
before the label exists (the session has not opened, or its price is not in) every comment stored
so far. That set grows with each comment crawl until the session opens and can shrink when a
comment is flagged or the label arrives, so each score keeps how many comments it read
(``post_scores.comments_read``), and a post is scored again, its old score replaced, whenever the
count it would read now differs. After the version's first run only the posts that can have
changed are compared: posts and comments stamped since its watermark, and posts whose comment
flags or label were written since its last score.
"""

from __future__ import annotations

from typing import Any

from psycopg2.extras import execute_values

from finsent.data.changes import STAMPED
from finsent.data.post_comments import SESSION_DEFINITION, thread_sql

_SESSION = (f"(SELECT l.session_date FROM labels l WHERE l.definition = '{SESSION_DEFINITION}' "
            "AND l.ticker = p.ticker AND l.post_id = p.post_id)")

# the post's comments read once (the LATERAL): both the text scored and the count compared
_TO_SCORE = f"""
SELECT p.ticker, p.post_id, p.title, p.body, t.comments, t.comments_read
FROM {{posts}} p
CROSS JOIN LATERAL {thread_sql("p.ticker", "p.post_id", _SESSION)} t
LEFT JOIN post_scores s ON s.model_version = %(version)s AND s.ticker = p.ticker AND s.post_id = p.post_id
WHERE s.post_id IS NULL OR s.comments_read IS DISTINCT FROM t.comments_read
ORDER BY p.ticker, p.post_id"""

# The posts whose comment set can have changed since the version's last run (its last score: the
# flags and labels carry times, not stamps; a NULL ticker in the flag log: every flag changed).
_LAST_SCORE = "(SELECT coalesce(max(scored_at), '-infinity') FROM post_scores WHERE model_version = %(version)s)"
_CANDIDATES = f"""(WITH keys AS MATERIALIZED (
    SELECT ticker, post_id FROM posts WHERE {STAMPED}
    UNION SELECT ticker, post_id FROM comments WHERE {STAMPED}
    UNION SELECT ticker, post_id FROM comment_index_changes WHERE changed_at > {_LAST_SCORE} AND ticker IS NOT NULL
    UNION SELECT ticker, post_id FROM labels WHERE definition = '{SESSION_DEFINITION}' AND labelled_at > {_LAST_SCORE}
    UNION SELECT ticker, post_id FROM posts WHERE EXISTS (
        SELECT 1 FROM comment_index_changes WHERE ticker IS NULL AND changed_at > {_LAST_SCORE}))
SELECT p.ticker, p.post_id, p.title, p.body FROM keys k
JOIN posts p ON p.ticker = k.ticker AND p.post_id = k.post_id)"""


def unscored_with_comments_sql(mark: int | None) -> str:
    """Rows (ticker, post_id, title, body, comments, comments_read) of the posts to score: every post
    without a score of the version or whose comment count changed (after the first run: of the candidates)."""
    return _TO_SCORE.format(posts="posts" if mark is None else _CANDIDATES)


def model_reads_comments(model: Any) -> bool:
    """Whether an unwrapped finsent pyfunc's model reads the comments under a post."""
    text = getattr(getattr(model, "classifier", None), "text", None)
    return bool(getattr(text, "reads_comments", False))


def forget_scores(cur: Any, version: int, keys: list[tuple[str, int]]) -> None:
    """Drop the version's scores of these posts (they are scored again in the same transaction)."""
    execute_values(cur, "DELETE FROM post_scores s USING (VALUES %s) AS k (ticker, post_id) "
                        f"WHERE s.model_version = {int(version)} AND s.ticker = k.ticker AND s.post_id = k.post_id",
                   keys, page_size=1000)
