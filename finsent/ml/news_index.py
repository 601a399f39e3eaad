"""The daily news index: ``daily_sentiment`` rows of source ``news``, by the news champion.

The board's incremental machinery (:mod:`finsent.ml.daily_index`) with news as its items: an
article counts for the first session that opens after ``published_at`` (the labels' day map), and
a **story counts once**. Flagged articles are left out (``news_story_repeat`` flags every copy of a
story but its earliest, ``news_market_summary`` market summaries), and the articles of one
``story_key`` that still count in a session are one vote, the mean of their P(up), so a story from
several offices is one vote also where the quality check has not run yet. ``n_posts`` of a news row
counts stories.

What rewrites a (stock, session): articles scored since the last build, articles whose flags were
added or removed or whose story changed (``news_index_changes``, kept by triggers), and changed
prices, as for the board. The build's stamp is taken under SHARE locks on ``prices``,
``news_flags`` and ``news`` (a story merge is an update of ``news``).
"""

from __future__ import annotations

from finsent.data.sources import NEWS
from finsent.ml.daily_index import POST_SESSION, SESSION, IndexSource

# news as ``p`` with the posts' column names the day map reads
_ARTICLES = "(SELECT ticker, office_id, article_id, story_key, published_at AS posted_at FROM news)"

_KEYS = f"""
SELECT DISTINCT p.ticker, {SESSION} AS session_date
FROM (SELECT ticker, office_id, article_id FROM news_scores WHERE model_version = %(version)s AND scored_at > %(since)s
      UNION SELECT ticker, office_id, article_id FROM news_index_changes
      WHERE changed_at > %(since)s AND ticker IS NOT NULL) c
JOIN {_ARTICLES} p ON p.ticker = c.ticker AND p.office_id = c.office_id AND p.article_id = c.article_id
{POST_SESSION}"""

# one vote per (stock, session, story): the mean P(up) of the story's articles that count there
_VOTES = f"""
SELECT ticker, session_date, count(*)::int AS n_posts, avg(p_up)::float8 AS mean_p_up,
       avg((p_up > 0.5)::int)::float8 AS bull_share
FROM (SELECT p.ticker, {SESSION} AS session_date, p.story_key, avg(s.p_up) AS p_up
      FROM idx_bounds b
      JOIN {_ARTICLES} p ON p.ticker = b.ticker AND p.posted_at >= b.lower
      JOIN news_scores s ON s.model_version = %(version)s AND s.ticker = p.ticker AND s.office_id = p.office_id
                        AND s.article_id = p.article_id
      {POST_SESSION}
      WHERE NOT EXISTS (SELECT 1 FROM news_flags f WHERE f.ticker = p.ticker AND f.office_id = p.office_id
                        AND f.article_id = p.article_id)
      GROUP BY 1, 2, 3) stories
GROUP BY 1, 2"""

NEWS_INDEX = IndexSource(NEWS.index, f"prices, {NEWS.flags}, {NEWS.table}", "news_index_changes", NEWS.scores, _KEYS,
                         _VOTES)
