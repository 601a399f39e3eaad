"""``finsent score``: P(up) for every post from the champion, and the daily sentiment index.

Posts without a score from the champion's version are scored in batches (each batch committed,
so an interrupted run resumes); then ``daily_sentiment`` is rebuilt for that version: per stock
and session, the posts written before that session opened (the day map of the labels' forward
rules, with the later openings of ``session_hours``, e.g. 10:00 on the CSAT day; sessions not
traded yet are the next weekday), quality-flagged posts left out.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass

from sqlalchemy.engine import Engine

from finsent.config import Settings
from finsent.data.labels import CALENDAR_SQL, late_openings, post_day_sql
from finsent.db import advisory_lock, raw_connection
from finsent.ml.registry import MODEL_NAME, configure, load_pyfunc, version_of

log = logging.getLogger(__name__)

FETCH_ROWS = 2048  # posts read and committed together (an interrupted run resumes after the last commit)


@dataclass
class ScoreReport:
    model_version: int
    scored: int
    index_rows: int


_DAILY = """
INSERT INTO daily_sentiment (model_version, ticker, session_date, n_posts, mean_p_up, bull_share)
SELECT s.model_version, s.ticker,
       coalesce(e.trade_date,
                d.day + CASE extract(isodow FROM d.day) WHEN 6 THEN 2 WHEN 7 THEN 1 ELSE 0 END)::date,
       count(*), avg(s.p_up), avg((s.p_up > 0.5)::int)
FROM post_scores s
JOIN posts p ON p.ticker = s.ticker AND p.post_id = s.post_id
CROSS JOIN LATERAL (SELECT ({post_day})::date AS day) d
LEFT JOIN label_days m ON m.ticker = p.ticker AND m.day = d.day
LEFT JOIN label_sessions e ON e.ticker = p.ticker AND e.session_no = m.session_no
WHERE s.model_version = %(version)s
  AND NOT EXISTS (SELECT 1 FROM post_flags f WHERE f.ticker = s.ticker AND f.post_id = s.post_id)
GROUP BY 1, 2, 3
"""


def score_posts(settings: Settings, engine: Engine, *, alias: str = "champion", batch_size: int = 256) -> ScoreReport:
    """``alias`` is an alias or a version number; ``batch_size`` is the model's forward batch (posts
    are read and committed in chunks of at least ``FETCH_ROWS``)."""
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
            with reader.cursor(name="unscored") as pending:  # server-side: never all posts in memory
                pending.itersize = fetch_rows
                pending.execute("SELECT p.ticker, p.post_id, p.title FROM posts p WHERE NOT EXISTS "
                                "(SELECT 1 FROM post_scores s WHERE s.model_version = %s AND s.ticker = p.ticker "
                                "AND s.post_id = p.post_id) ORDER BY p.ticker, p.post_id", (version,))
                while batch := pending.fetchmany(fetch_rows):
                    p_up = model.predict_titles([title for _, _, title in batch], batch_size)
                    lines = "".join(f"{version}\t{t}\t{pid}\t{p:.6f}\n" for (t, pid, _), p in zip(batch, p_up))
                    with writer.cursor() as cur:
                        cur.copy_expert("COPY post_scores (model_version, ticker, post_id, p_up) FROM STDIN",
                                        io.StringIO(lines))
                    writer.commit()
                    scored += len(batch)
                    log.info("scored %d posts", scored)
            reader.rollback()
            with writer.cursor() as cur:
                cur.execute(CALENDAR_SQL)
                cur.execute("DELETE FROM daily_sentiment WHERE model_version = %s", (version,))
                cur.execute(_DAILY.format(post_day=post_day_sql("next_open_close", late_openings(cur))),
                            {"version": version})
                index_rows = cur.rowcount
            writer.commit()
        except BaseException:
            writer.rollback()
            raise
    log.info("v%d: %d posts scored, daily_sentiment has %d (ticker, session) rows", version, scored, index_rows)
    return ScoreReport(version, scored, index_rows)
