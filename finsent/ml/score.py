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


def predict_rows(model: Any, titles: list[str], bodies: list[str | None], batch_size: int) -> Any:
    """P(up) of the unwrapped pyfunc on titles and bodies, as the model reads them; a version logged
    before bodies (its stored pyfunc has no ``predict_rows``) reads the titles."""
    rows = getattr(model, "predict_rows", None)
    return rows(titles, bodies, batch_size) if rows is not None else model.predict_titles(titles, batch_size)


def unscored_sql(mark: int | None) -> str:
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
    fetch_rows = max(FETCH_ROWS, batch_size)
    scored = 0
    # Two score runs (a labels-triggered one and a champion-triggered one, or a CLI run beside the DAG)
    # take turns: both would insert the same (version, post) scores and one would die on a UniqueViolation.
    with advisory_lock(engine, "score", wait=True), raw_connection(engine) as reader, \
            raw_connection(engine) as writer:
        try:
            with writer.cursor() as cur:
                mark, upto = read_watermark(cur, "score", str(version)), current_stamp(engine)
            with reader.cursor(name="unscored") as pending:  # server-side: never all posts in memory
                pending.itersize = fetch_rows
                pending.execute(unscored_sql(mark), {"version": version, "mark": mark, "upto": upto})
                while batch := pending.fetchmany(fetch_rows):
                    # the model reads what it was tested on: its title, or its title and the head of its body
                    p_up = predict_rows(model, [row[2] for row in batch], [row[3] for row in batch], batch_size)
                    lines = "".join(f"{version}\t{t}\t{pid}\t{p:.6f}\n" for (t, pid, *_), p in zip(batch, p_up))
                    with writer.cursor() as cur:
                        cur.copy_expert("COPY post_scores (model_version, ticker, post_id, p_up) FROM STDIN",
                                        io.StringIO(lines))
                    writer.commit()
                    scored += len(batch)
                    log.info("scored %d posts", scored)
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
