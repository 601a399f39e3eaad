"""The news rules' market-summary pattern, as Postgres reads it (finsent.data.news_quality), and the
embargo's one meaning (finsent.data.embargo)."""

from __future__ import annotations

import sqlalchemy as sa

from finsent.data.embargo import sessions_skipped
from finsent.data.news_quality import MARKET_SUMMARY_PATTERN, NEWS_RULES


def test_market_summaries_match_and_news_about_one_stock_does_not(engine):
    titles = {"[fn마감시황] 코스피 2,600선 회복": True, "[마감시황] 외국인 순매수": True,
              "코스피200 정기변경, 삼성전자 비중 확대": True, "코스피·코스닥 동반 상승": True,
              "[특징주 모음] 반도체 강세": True,
              "삼성전자, 2분기 영업이익 10조 돌파": False, "SK하이닉스 HBM 공급 계약": False}
    with engine.connect() as conn:
        matched = {title: conn.execute(sa.text("SELECT CAST(:t AS text) ~ CAST(:p AS text)"),
                                       {"t": title, "p": MARKET_SUMMARY_PATTERN}).scalar() for title in titles}
    assert matched == titles
    assert set(NEWS_RULES) == {"news_story_repeat", "news_market_summary"}


def test_the_embargo_adds_the_horizon_less_one():
    assert sessions_skipped(1, 1) == 1 and sessions_skipped(1, 5) == 5 and sessions_skipped(3, 2) == 4
