"""``finsent score`` of comments (issue 30): the comments champion (``finsent-comments-updown``) scores
comments by their text into ``comment_scores``, then the ``comments`` rows of ``daily_sentiment`` are
brought up to date, by the board's incremental machinery (:mod:`finsent.ml.daily_index`).

As for news: comments without a score of the version are scored in committed batches (an interrupted
run resumes), after the version's first run only those stamped since its watermark (step
``score-comments``). A comment counts for the first session that opens after it was written (the
labels' day map); flagged comments (empty, spam, copies) are left out; one comment is one vote.
"""

from __future__ import annotations

from sqlalchemy.engine import Engine

from finsent.config import Settings
from finsent.data.changes import STAMPED
from finsent.data.sources import COMMENTS
from finsent.ml.daily_index import POST_SESSION, SESSION, IndexSource
from finsent.ml.keyed_score import KeyedScoring, score_keyed
from finsent.ml.score import ScoreReport
from finsent.ml.spec import ScoreSpec

WATERMARK_STEP = "score-comments"  # step_watermarks: its versions are numbered apart from the others'

# comments as ``p`` with the posts' column names the day map reads
_COMMENTS = "(SELECT ticker, post_id, comment_no, written_at AS posted_at FROM comments)"
_SAME = "s.ticker = p.ticker AND s.post_id = p.post_id AND s.comment_no = p.comment_no"

_KEYS = f"""
SELECT DISTINCT p.ticker, {SESSION} AS session_date
FROM (SELECT ticker, post_id, comment_no FROM comment_scores WHERE model_version = %(version)s
      AND scored_at > %(since)s
      UNION SELECT ticker, post_id, comment_no FROM comment_index_changes
      WHERE changed_at > %(since)s AND ticker IS NOT NULL) c
JOIN {_COMMENTS} p ON p.ticker = c.ticker AND p.post_id = c.post_id AND p.comment_no = c.comment_no
{POST_SESSION}"""

_VOTES = f"""
SELECT p.ticker, {SESSION} AS session_date, count(*)::int AS n_posts, avg(s.p_up)::float8 AS mean_p_up,
       avg((s.p_up > 0.5)::int)::float8 AS bull_share
FROM idx_bounds b
JOIN {_COMMENTS} p ON p.ticker = b.ticker AND p.posted_at >= b.lower
JOIN comment_scores s ON s.model_version = %(version)s AND {_SAME}
{POST_SESSION}
WHERE NOT EXISTS (SELECT 1 FROM comment_flags f WHERE f.ticker = p.ticker AND f.post_id = p.post_id
                  AND f.comment_no = p.comment_no)
GROUP BY 1, 2"""

COMMENTS_INDEX = IndexSource(COMMENTS.index, f"prices, {COMMENTS.flags}", "comment_index_changes", COMMENTS.scores,
                             _KEYS, _VOTES)

# The comments without a score of the version (after its first run: those stamped since its watermark).
_UNSCORED = ("SELECT p.ticker, p.post_id, p.comment_no, p.text FROM {comments} p WHERE NOT EXISTS "
             f"(SELECT 1 FROM comment_scores s WHERE s.model_version = %(version)s AND {_SAME}) "
             "ORDER BY p.ticker, p.post_id, p.comment_no")
_STAMPED_COMMENTS = ("(WITH stamped AS MATERIALIZED (SELECT ticker, post_id, comment_no, text FROM comments "
                     f"WHERE {STAMPED}) SELECT * FROM stamped)")


def unscored_comments_sql(mark: int | None) -> str:
    return _UNSCORED.format(comments="comments" if mark is None else _STAMPED_COMMENTS)


COMMENTS_SCORING = KeyedScoring(COMMENTS, WATERMARK_STEP, unscored_comments_sql, COMMENTS_INDEX, with_body=False)


def score_comments(settings: Settings, engine: Engine, spec: ScoreSpec | None = None) -> ScoreReport:
    """Score comments with ``spec.comments_alias`` of finsent-comments-updown (default its champion;
    NotRegisteredError when it points nowhere) and bring the comments index up to date; a comment is
    read as a title (it has no body)."""
    return score_keyed(settings, engine, spec, COMMENTS_SCORING)
