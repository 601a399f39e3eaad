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

import logging

from sqlalchemy.engine import Engine

from finsent.config import Settings
from finsent.data.changes import STAMPED
from finsent.data.sources import BOARD, COMMENTS, NEWS, selected
from finsent.errors import NotRegisteredError
from finsent.ml.comments_score import score_comments
from finsent.ml.keyed_score import KeyedScoring, score_keyed
from finsent.ml.news_index import NEWS_INDEX
from finsent.ml.registry import configure, version_or_skip
from finsent.ml.score import ScoreReport, score_posts
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


NEWS_SCORING = KeyedScoring(NEWS, WATERMARK_STEP, unscored_news_sql, NEWS_INDEX, with_body=True)


def score_news(settings: Settings, engine: Engine, spec: ScoreSpec | None = None) -> ScoreReport:
    """Score news with ``spec.news_alias`` of finsent-news-updown (default its champion;
    NotRegisteredError when it points nowhere) and bring the news index up to date."""
    return score_keyed(settings, engine, spec, NEWS_SCORING)


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
