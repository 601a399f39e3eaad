"""``finsent score``: P(up) for every post from the champion, and the daily sentiment index.
(News articles, by the news champion: :mod:`finsent.ml.news_score`, which runs both.)

Posts without a score from the champion's version are scored in batches (each batch committed,
so an interrupted run resumes); then ``daily_sentiment`` of that version is brought up to date
(:mod:`finsent.ml.daily_index`): only the (stock, session) rows that new scores, flags or prices
change are rewritten; a post counts for the first session that opens after it (the labels' day
map, with the later openings of ``session_hours``, e.g. 10:00 on the CSAT day).
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine

from finsent.config import Settings
from finsent.data.changes import current_stamp, move_watermark, read_watermark
from finsent.data.sources import DEFAULT_SOURCE
from finsent.db import advisory_lock, analyze_after_write, raw_connection
from finsent.ml.comment_reading import forget_scores, model_reads_comments, unscored_with_comments_sql
from finsent.ml.daily_index import refresh_daily_index
from finsent.ml.registry import MODEL_NAME, configure, load_pyfunc, version_of
from finsent.ml.spec import ScoreSpec

log = logging.getLogger(__name__)

FETCH_ROWS = 2048  # posts read and committed together (an interrupted run resumes after the last commit)

# The posts without a score of the version: after its first run, only those stamped since its watermark
# (an index range of posts.changed_seq, materialized: a cursor's plan prefers rows in order at once,
# and would walk the whole primary key for them); the first run of a version reads every post.
_UNSCORED = ("SELECT p.ticker, p.post_id, p.title, p.body FROM {posts} p WHERE NOT EXISTS "
             "(SELECT 1 FROM post_scores s WHERE s.model_version = %(version)s AND s.ticker = p.ticker "
             "AND s.post_id = p.post_id) ORDER BY p.ticker, p.post_id")
_STAMPED_POSTS = ("(WITH stamped AS MATERIALIZED (SELECT ticker, post_id, title, body FROM posts "
                  "WHERE changed_seq > %(mark)s AND changed_seq <= %(upto)s) SELECT * FROM stamped)")


def predict_rows(model: Any, titles: list[str], bodies: list[str | None], batch_size: int,
                 comments: list[str | None] | None = None) -> Any:
    """P(up) of the unwrapped pyfunc on titles, bodies (and comments), as the model reads them; a version
    logged before bodies (its stored pyfunc has no ``predict_rows``) reads the titles."""
    rows = getattr(model, "predict_rows", None)
    if rows is None:
        return model.predict_titles(titles, batch_size)
    return rows(titles, bodies, batch_size) if comments is None else rows(titles, bodies, batch_size, comments)


def unscored_sql(mark: int | None, reads_comments: bool = False) -> str:
    """The posts to score: rows (ticker, post_id, title, body[, comments, comments_read])."""
    if reads_comments:
        return unscored_with_comments_sql(mark)
    return _UNSCORED.format(posts="posts" if mark is None else _STAMPED_POSTS)


@dataclass
class ScoreReport:
    model_version: int
    scored: int
    index_rows: int  # the version's daily_sentiment rows
    index_rewritten: int = 0  # of them written by this run (only what changed)
    source: str = DEFAULT_SOURCE  # whose texts were scored (finsent.data.sources: board posts, news articles)


def score_posts(settings: Settings, engine: Engine, spec: ScoreSpec | None = None) -> ScoreReport:
    """Score with ``spec.alias`` (an alias or a version number; default the champion); ``spec.batch_size``
    is the model's forward batch (posts are read and committed in chunks of at least ``FETCH_ROWS``)."""
    spec = spec or ScoreSpec()
    alias, batch_size = spec.alias, spec.batch_size
    client = configure(settings)
    version = version_of(client, alias)
    model = load_pyfunc(version).unwrap_python_model()  # finsent's FinsentUpDown: takes a batch size
    log.info("scoring with %s v%d (@%s), forward batch %d", MODEL_NAME, version, alias, batch_size)
    # Two score runs (a labels-triggered one and a champion-triggered one, or a CLI run beside the DAG)
    # take turns: both would insert the same (version, post) scores and one would die on a UniqueViolation.
    with advisory_lock(engine, "score", wait=True), raw_connection(engine) as reader, \
            raw_connection(engine) as writer:
        try:
            with writer.cursor() as cur:
                mark, upto = read_watermark(cur, "score", str(version)), current_stamp(engine)
            scored = _score_unscored(reader, writer, model, version, {"mark": mark, "upto": upto}, spec)
            reader.rollback()
            with writer.cursor() as cur:
                analyze_after_write(cur, "post_scores", scored)  # the index reads them next
                refresh = refresh_daily_index(cur, version)
                move_watermark(cur, "score", str(version), upto)
            writer.commit()
        except BaseException:
            writer.rollback()
            raise
    log.info("v%d: %d posts scored, daily_sentiment has %d (ticker, session) rows (%d rewritten)", version, scored,
             refresh.rows, refresh.rewritten)
    return ScoreReport(version, scored, refresh.rows, refresh.rewritten)


def _score_unscored(reader: Any, writer: Any, model: Any, version: int, stamps: dict[str, int | None],
                    spec: ScoreSpec) -> int:
    """Score and COPY every post to score in committed batches; how many. A model that reads comments
    also scores again the posts whose comments before their session changed (old scores replaced)."""
    reads_comments = model_reads_comments(model)
    columns = "model_version, ticker, post_id, p_up" + (", comments_read" if reads_comments else "")
    fetch_rows, scored = max(FETCH_ROWS, spec.batch_size), 0
    with reader.cursor(name="unscored") as pending:  # server-side: never all posts in memory
        pending.itersize = fetch_rows
        pending.execute(unscored_sql(stamps["mark"], reads_comments), {"version": version, **stamps})
        while batch := pending.fetchmany(fetch_rows):
            # the model reads what it was tested on: its title, the head of its body (and its comments)
            comments = [row[4] for row in batch] if reads_comments else None
            p_up = predict_rows(model, [row[2] for row in batch], [row[3] for row in batch], spec.batch_size,
                                comments)
            lines = "".join(f"{version}\t{row[0]}\t{row[1]}\t{p:.6f}" + (f"\t{row[5]}" if reads_comments else "")
                            + "\n" for row, p in zip(batch, p_up))
            with writer.cursor() as cur:
                if reads_comments:
                    forget_scores(cur, version, [(row[0], row[1]) for row in batch])
                cur.copy_expert(f"COPY post_scores ({columns}) FROM STDIN", io.StringIO(lines))
            writer.commit()
            scored += len(batch)
            log.info("scored %d posts", scored)
    return scored
