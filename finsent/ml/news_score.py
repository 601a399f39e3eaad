"""``finsent score`` over every source: board posts by the board champion (``finsent-updown``,
:mod:`finsent.ml.score`), news articles by the news champion (``finsent-news-updown``, here) and
comments by theirs (``finsent-comments-updown``, :mod:`finsent.ml.comments_score`).

News articles without a score from the news version are scored by their title (and summary, for a
model that reads bodies) in batches (each
batch committed, so an interrupted run resumes) into ``news_scores``, after the version's first run
only those stamped since its watermark (step ``score-news``: the day's news, not all history); then the ``news`` rows of
``daily_sentiment`` are brought up to date (:mod:`finsent.ml.news_index`: a story counts once).
A source whose alias is ``champion`` and whose registered model has no champion yet is skipped
and logged, not an error: news models come later than board models. A run that finds nothing to
score with at all fails as before (NotRegisteredError).
"""

from __future__ import annotations

import io
import logging

from sqlalchemy.engine import Engine

from finsent.config import Settings
from finsent.data.changes import STAMPED, current_stamp, move_watermark, read_watermark
from finsent.data.sources import BOARD, COMMENTS, NEWS, selected
from finsent.db import advisory_lock, analyze_after_write, raw_connection
from finsent.errors import NotRegisteredError
from finsent.ml.comments_score import score_comments
from finsent.ml.daily_index import refresh_daily_index
from finsent.ml.news_index import NEWS_INDEX
from finsent.ml.registry import NEWS_MODEL_NAME, configure, load_pyfunc, version_of, version_or_skip
from finsent.ml.score import FETCH_ROWS, ScoreReport, predict_rows, score_posts
from finsent.ml.spec import ScoreSpec

log = logging.getLogger(__name__)

WATERMARK_STEP = "score-news"  # step_watermarks: a news version's number repeats a board version's

# The articles without a score of the version: after its first run, only those stamped since its
# watermark (an index range of news.changed_seq, materialized like the board's); the first run reads all.
_UNSCORED = ("SELECT n.ticker, n.office_id, n.article_id, n.title, n.summary FROM {news} n WHERE NOT EXISTS "
             "(SELECT 1 FROM news_scores s WHERE s.model_version = %(version)s AND s.ticker = n.ticker "
             "AND s.office_id = n.office_id AND s.article_id = n.article_id) "
             "ORDER BY n.ticker, n.office_id, n.article_id")
_STAMPED_NEWS = ("(WITH stamped AS MATERIALIZED (SELECT ticker, office_id, article_id, title, summary FROM news "
                 f"WHERE {STAMPED}) SELECT * FROM stamped)")


def unscored_news_sql(mark: int | None) -> str:
    return _UNSCORED.format(news="news" if mark is None else _STAMPED_NEWS)


def score_news(settings: Settings, engine: Engine, spec: ScoreSpec | None = None) -> ScoreReport:
    """Score news with ``spec.news_alias`` of finsent-news-updown (default its champion;
    NotRegisteredError when it points nowhere) and bring the news index up to date."""
    spec = spec or ScoreSpec()
    client = configure(settings)
    version = version_of(client, spec.news_alias, NEWS_MODEL_NAME)
    model = load_pyfunc(version, NEWS_MODEL_NAME).unwrap_python_model()
    log.info("scoring news with %s v%d (@%s), forward batch %d", NEWS_MODEL_NAME, version, spec.news_alias,
             spec.batch_size)
    fetch_rows = max(FETCH_ROWS, spec.batch_size)
    scored = 0
    # its own lock: news and board scores never meet, but two news runs would insert the same scores
    with advisory_lock(engine, "score-news", wait=True), raw_connection(engine) as reader, \
            raw_connection(engine) as writer:
        try:
            with writer.cursor() as cur:
                mark, upto = read_watermark(cur, WATERMARK_STEP, str(version)), current_stamp(engine)
            with reader.cursor(name="unscored_news") as pending:  # server-side: never all news in memory
                pending.itersize = fetch_rows
                pending.execute(unscored_news_sql(mark), {"version": version, "mark": mark, "upto": upto})
                while batch := pending.fetchmany(fetch_rows):
                    p_up = predict_rows(model, [row[3] for row in batch], [row[4] for row in batch], spec.batch_size)
                    lines = "".join(f"{version}\t{t}\t{office}\t{article}\t{p:.6f}\n"
                                    for (t, office, article, *_), p in zip(batch, p_up))
                    with writer.cursor() as cur:
                        cur.copy_expert("COPY news_scores (model_version, ticker, office_id, article_id, p_up) "
                                        "FROM STDIN", io.StringIO(lines))
                    writer.commit()
                    scored += len(batch)
                    log.info("scored %d news articles", scored)
            reader.rollback()
            with writer.cursor() as cur:
                analyze_after_write(cur, "news_scores", scored)  # the index reads them next
                refresh = refresh_daily_index(cur, version, NEWS_INDEX)
                move_watermark(cur, WATERMARK_STEP, str(version), upto)
            writer.commit()
        except BaseException:
            writer.rollback()
            raise
    log.info("news v%d: %d articles scored, daily_sentiment has %d news (ticker, session) rows (%d rewritten)",
             version, scored, refresh.rows, refresh.rewritten)
    return ScoreReport(version, scored, refresh.rows, refresh.rewritten, source=NEWS.name)


# Who scores each source's texts (comments: finsent.ml.comments_score).
SCORERS = {BOARD.name: score_posts, NEWS.name: score_news, COMMENTS.name: score_comments}


def score_sources(settings: Settings, engine: Engine, spec: ScoreSpec | None = None) -> list[ScoreReport]:
    """What ``finsent score`` does: each source ``spec.source`` selects (the board, then the news), each
    with its own registered model; a source without a champion (alias ``champion``) is skipped."""
    spec = spec or ScoreSpec()
    client = configure(settings)
    reports, missing = [], []
    for source in selected(spec.source):
        alias = getattr(spec, source.alias_option)
        if alias == "champion" and version_or_skip(client, alias, source.model_name,
                                                   f"{source.items} not scored") is None:
            missing.append(source.model_name)
            continue
        reports.append(SCORERS[source.name](settings, engine, spec))
    if not reports:
        raise NotRegisteredError(f"no version 'champion' of {' nor of '.join(missing)} in the registry: nothing to "
                                 "score; train one with `finsent train`")
    return reports
