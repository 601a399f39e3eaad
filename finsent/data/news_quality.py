"""Quality rules for news (issue 20): flags per article in ``news_flags``, never deletions.

- ``news_story_repeat``: one story carried by several offices (one ``story_key``) counts once:
  every article of the story but its first (the earliest; the smallest key on a tie) is flagged.
- ``news_market_summary``: market summaries and index reports (``[fn마감시황]``, ``[마감시황]``,
  코스피200 정기변경, ...) and articles Naver tags to many stocks at once: they say nothing about
  one stock.

Flags are a function of the data: each run computes the flags every article should have and
changes only the rows that differ (a story merge moves a repeat flag), in the caller's transaction.
"""

from __future__ import annotations

# Postgres regular expressions over the title (ARE).
MARKET_SUMMARY_PATTERN = "|".join([
    r"^\s*\[\s*(fn|FN|Fn)?\s*(마감|개장|장중|오전|오후)?\s*시황",  # [fn마감시황], [마감시황], [개장시황]
    r"(코스피|코스닥|KOSPI|KOSDAQ)\s*(200|150)?\s*(지수)?\s*(정기\s*변경|리밸런싱|편입|편출)",
    r"^\s*(코스피|코스닥)\s*[·,]\s*(코스닥|코스피)",
    r"\[(특징주|급등주|상한가)\s*(모음|종합|정리)\]|\[오늘의\s*(상한가|특징주)\]",
])
MANY_STOCKS = 5  # an article Naver tags to this many stocks or more is about the market, not one stock

NEWS_RULES: dict[str, str] = {
    "news_story_repeat": "a news article of a story already carried by an earlier article (another office's "
                         "copy): a story counts once",
    "news_market_summary": f"a market summary or index report ([fn마감시황], 코스피200 정기변경, ...) or an "
                           f"article tagged to {MANY_STOCKS}+ stocks: not about one stock",
}

_WANTED = f"""
CREATE TEMP TABLE news_flags_wanted ON COMMIT DROP AS
SELECT ticker, office_id, article_id, 'news_story_repeat'::text AS rule
FROM (SELECT ticker, office_id, article_id,
             row_number() OVER (PARTITION BY ticker, story_key
                                ORDER BY published_at, office_id || '/' || article_id) AS place
      FROM news) s
WHERE place > 1
UNION ALL
SELECT n.ticker, n.office_id, n.article_id, 'news_market_summary'
FROM news n
LEFT JOIN (SELECT office_id, article_id FROM news GROUP BY office_id, article_id
           HAVING count(*) >= {MANY_STOCKS}) m USING (office_id, article_id)
WHERE n.title ~ %(market)s OR m.article_id IS NOT NULL
"""


def flag_news(cursor) -> dict[str, int]:
    """Bring ``news_flags`` in step with the rules; return the net change per rule. No commit."""
    cursor.executemany("INSERT INTO quality_rules (name, description) VALUES (%s, %s) "
                       "ON CONFLICT (name) DO UPDATE SET description = EXCLUDED.description", list(NEWS_RULES.items()))
    cursor.execute("SELECT rule, count(*) FROM news_flags GROUP BY rule")
    before = dict(cursor.fetchall())
    cursor.execute(_WANTED, {"market": MARKET_SUMMARY_PATTERN})
    cursor.execute("DELETE FROM news_flags f WHERE NOT EXISTS (SELECT 1 FROM news_flags_wanted w WHERE "
                   "(w.ticker, w.office_id, w.article_id, w.rule) = (f.ticker, f.office_id, f.article_id, f.rule))")
    cursor.execute("INSERT INTO news_flags (ticker, office_id, article_id, rule) "
                   "SELECT ticker, office_id, article_id, rule FROM news_flags_wanted ON CONFLICT DO NOTHING")
    cursor.execute("SELECT rule, count(*) FROM news_flags GROUP BY rule")
    after = dict(cursor.fetchall())
    return {rule: after.get(rule, 0) - before.get(rule, 0) for rule in NEWS_RULES}


flag = flag_news  # what ``finsent.data.quality`` calls for the source whose record names this module
