"""The Sentiment page's source filter: the board's index by default, the news' on ?source=news,
each read from its own daily_sentiment rows; without a news index the page says so."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from finsent.config import load_settings
from finsent.data.build import build_dataset
from finsent.ml.news_score import score_sources
from finsent.ml.registry import NEWS_MODEL_NAME, configure
from finsent.ml.train import train_model
from finsent.web.page import View, render_sentiment_page
from finsent.web.queries import backtest_days, index_history, indexed_stocks, latest_backtest
from tests.data.board import query
from tests.ml.board import VERDICT_SPEC
from tests.ml.news_board import make_news

DAYS = [date(2024, 3, 4) + timedelta(days=i) for i in range(5)]


def test_the_queries_read_one_source_under_a_shared_version_number(engine):
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO daily_sentiment (source, model_version, ticker, session_date, n_posts, "
                             "mean_p_up, bull_share) VALUES (:s, 3, :t, :d, 2, :m, 0.5)"),
                     [{"s": s, "t": t, "d": d, "m": m + i / 100} for s, t, m in
                      (("board", "005930", 0.6), ("news", "005930", 0.3), ("news", "000660", 0.2))
                      for i, d in enumerate(DAYS)])
    with engine.connect() as conn:
        assert [s.code for s in indexed_stocks(conn)] == ["005930"]
        assert [s.code for s in indexed_stocks(conn, "news")] == ["000660", "005930"]
        board = index_history(conn, "005930", backtest=None, champion=3, seen_through=DAYS[0])
        news = index_history(conn, "005930", backtest=None, champion=3, seen_through=DAYS[0], source="news")
    assert [p.mean_p_up for p in board] == pytest.approx([0.61, 0.62, 0.63, 0.64])
    assert [p.mean_p_up for p in news] == pytest.approx([0.31, 0.32, 0.33, 0.34])


def test_without_a_news_index_the_news_view_says_so(engine, planted):
    settings = load_settings()
    train_model(settings, engine, planted, "baseline")
    score_sources(settings, engine)
    board = render_sentiment_page(engine, settings)
    assert "champion: <b>finsent-updown v1</b>" in board
    assert 'index of: <b>board</b> <a href="sentiment?source=news">news</a>' in board
    news = render_sentiment_page(engine, settings, view=View(source="news"))
    assert "no news index yet" in news and "finsent-news-updown" in news and "<section" not in news
    assert "index of: <a href=\"sentiment?source=board\">board</a> <b>news</b>" in news


def test_the_news_view_shows_the_news_index_and_keeps_its_source_in_links(engine, planted):
    settings = load_settings()
    train_model(settings, engine, planted, "baseline")
    make_news(engine)
    build_dataset(engine, "news-planted", replace(VERDICT_SPEC, source="news"), settings.data_dir)
    train_model(settings, engine, "news-planted", "baseline")
    configure(settings).set_registered_model_alias(NEWS_MODEL_NAME, "champion", "1")
    score_sources(settings, engine)
    page = render_sentiment_page(engine, settings, view=View(ticker="005930", source="news"))
    assert "champion: <b>finsent-news-updown v1</b>" in page
    latest = "SELECT mean_p_up FROM daily_sentiment WHERE source = :s AND ticker = '005930' ORDER BY session_date DESC"
    news_value, board_value = query(engine, latest, s="news")[0][0], query(engine, latest, s="board")[0][0]
    assert f"mean P(up) <b>{news_value:.3f}</b>" in page and f"{news_value:.3f}" != f"{board_value:.3f}"
    assert '?ticker=005930&amp;source=news"' in page and "sentiment?ticker=000660&amp;source=news" in page
    assert re.search(r'href="https://n\.news\.naver\.com/mnews/article/015/\d{10}"', page)  # the headlines
    assert "backtest" not in page.split("<section", 1)[1].split("most bullish")[0]  # no walk of the news
    board = render_sentiment_page(engine, settings, view=View(ticker="005930"))
    assert f"mean P(up) <b>{board_value:.3f}</b>" in board and "n.news.naver.com" not in board


def test_the_board_view_reads_only_the_board_part_of_a_backtest(engine):
    """A news walk, or the news half of a `both` walk, never shows as the board's backtest."""
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO backtests (name, spec, steps_total, status, finished_at) VALUES "
                             "('walk-board', '{}', 1, 'done', now() - interval '1 day'), "
                             "('walk-news', '{}', 1, 'done', now()), ('walk-both', '{}', 1, 'running', NULL)"))
        conn.execute(sa.text("INSERT INTO backtest_daily (backtest, source, ticker, session_date, n_posts, "
                             "mean_p_up, ret) VALUES (:b, :s, :t, :d, 1, :m, 0.01)"),
                     [{"b": b, "s": s, "t": t, "d": d, "m": m} for b, s, t, m in
                      (("walk-board", "board", "005930", 0.6), ("walk-news", "news", "000660", 0.2),
                       ("walk-both", "board", "005930", 0.7), ("walk-both", "news", "000660", 0.3))
                      for d in DAYS])
    with engine.connect() as conn:
        assert latest_backtest(conn).name == "walk-board"  # the newer walk-news has no board index
        assert [s.code for s in indexed_stocks(conn)] == ["005930"]
        conn.execute(sa.text("UPDATE backtests SET status = 'done', finished_at = now() WHERE name = 'walk-both'"))
        assert latest_backtest(conn).name == "walk-both"
        assert {d.ticker for d in backtest_days(conn, "walk-both")} == {"005930"}
        walked = index_history(conn, "005930", backtest="walk-both", champion=None, seen_through=None)
        assert [p.mean_p_up for p in walked] == pytest.approx([0.7] * len(DAYS))
        assert index_history(conn, "000660", backtest="walk-both", champion=None, seen_through=None) == []
