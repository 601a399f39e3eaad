"""``finsent score`` of comments (issue 30): the comments champion (``finsent-comments-updown``) scores
comments by their text into ``comment_scores``, then the ``comments`` rows of ``daily_sentiment`` are
brought up to date, by the board's incremental machinery (:mod:`finsent.ml.daily_index`).

As for news: comments without a score of the version are scored in committed batches (an interrupted
run resumes), after the version's first run only those stamped since its watermark (step
``score-comments``). A comment counts for the first session that opens after it was written (the
labels' day map); flagged comments (empty, spam, copies) are left out; one comment is one vote.
"""

from __future__ import annotations

import io
import logging

from sqlalchemy.engine import Engine

from finsent.config import Settings
from finsent.data.changes import STAMPED, current_stamp, move_watermark, read_watermark
from finsent.data.sources import COMMENTS
from finsent.db import advisory_lock, analyze_after_write, raw_connection
from finsent.ml.daily_index import POST_SESSION, SESSION, IndexSource, refresh_daily_index
from finsent.ml.registry import configure, load_pyfunc, version_of
from finsent.ml.score import FETCH_ROWS, ScoreReport, predict_rows
from finsent.ml.spec import ScoreSpec

log = logging.getLogger(__name__)

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


def score_comments(settings: Settings, engine: Engine, spec: ScoreSpec | None = None) -> ScoreReport:
    """Score comments with ``spec.comments_alias`` of finsent-comments-updown (default its champion;
    NotRegisteredError when it points nowhere) and bring the comments index up to date."""
    spec = spec or ScoreSpec()
    client = configure(settings)
    version = version_of(client, spec.comments_alias, COMMENTS.model_name)
    model = load_pyfunc(version, COMMENTS.model_name).unwrap_python_model()
    log.info("scoring comments with %s v%d (@%s)", COMMENTS.model_name, version, spec.comments_alias)
    fetch_rows, scored = max(FETCH_ROWS, spec.batch_size), 0
    with advisory_lock(engine, WATERMARK_STEP, wait=True), raw_connection(engine) as reader, \
            raw_connection(engine) as writer:
        try:
            with writer.cursor() as cur:
                mark, upto = read_watermark(cur, WATERMARK_STEP, str(version)), current_stamp(engine)
            with reader.cursor(name="unscored_comments") as pending:  # server-side: never all in memory
                pending.itersize = fetch_rows
                pending.execute(unscored_comments_sql(mark), {"version": version, "mark": mark, "upto": upto})
                while batch := pending.fetchmany(fetch_rows):
                    # a comment is read as a title: it has no body
                    p_up = predict_rows(model, [row[3] for row in batch], [None] * len(batch), spec.batch_size)
                    lines = "".join(f"{version}\t{t}\t{post}\t{no}\t{p:.6f}\n"
                                    for (t, post, no, _), p in zip(batch, p_up))
                    with writer.cursor() as cur:
                        cur.copy_expert("COPY comment_scores (model_version, ticker, post_id, comment_no, p_up) "
                                        "FROM STDIN", io.StringIO(lines))
                    writer.commit()
                    scored += len(batch)
            reader.rollback()
            with writer.cursor() as cur:
                analyze_after_write(cur, COMMENTS.scores, scored)  # the index reads them next
                refresh = refresh_daily_index(cur, version, COMMENTS_INDEX)
                move_watermark(cur, WATERMARK_STEP, str(version), upto)
            writer.commit()
        except BaseException:
            writer.rollback()
            raise
    log.info("comments v%d: %d scored, daily_sentiment has %d comments (ticker, session) rows (%d rewritten)",
             version, scored, refresh.rows, refresh.rewritten)
    return ScoreReport(version, scored, refresh.rows, refresh.rewritten, source=COMMENTS.name)
