"""The Sentiment page says what the numbers can carry: intervals, sessions, and whether there is skill."""

from __future__ import annotations

from finsent.config import load_settings
from finsent.data.build import build_dataset
from finsent.ml.score import score_posts
from finsent.ml.train import train_model
from finsent.web.page import View, render_sentiment_page
from tests.ml.board import VERDICT_SPEC, make_board


def test_champion_line_carries_its_clustered_intervals_and_verdict(engine, planted):
    settings = load_settings()
    train_model(settings, engine, planted, "baseline")
    score_posts(settings, engine)
    page = render_sentiment_page(engine, settings)
    assert "champion: <b>finsent-updown v1</b>" in page
    assert "balanced accuracy 0." in page and " [0." in page and "test sessions" in page
    assert "(stock, session) clusters" in page and "<b>evidence of skill</b>" in page


def test_without_a_champion_the_page_says_why(engine):
    settings = load_settings()
    make_board(engine, planted=False, seed=3)
    build_dataset(engine, "noise", VERDICT_SPEC, settings.data_dir)
    train_model(settings, engine, "noise", "baseline")
    page = render_sentiment_page(engine, settings)
    assert "no champion yet: v1: no champion yet: no evidence of skill" in page
    assert "balanced accuracy above 0.5, clustered by session" in page


def test_the_history_is_out_of_sample_only(engine, planted):
    from datetime import date

    from finsent.ml.backtest import run_backtest
    from finsent.ml.backtest.walk import BacktestSpec
    from tests.data.board import query

    settings = load_settings()
    assert train_model(settings, engine, planted, "baseline").decision.promoted
    score_posts(settings, engine)
    ((seen,),) = query(engine, "SELECT max(session_date) FROM dataset_rows WHERE dataset = :d AND split <> 'test'",
                       d=planted)
    one = View(ticker="005930")
    page = render_sentiment_page(engine, settings, view=one)
    (first_live, last_live, live) = query(
        engine, "SELECT min(session_date), max(session_date), (array_agg(mean_p_up ORDER BY session_date DESC))[1] "
        "FROM daily_sentiment WHERE ticker = '005930' AND session_date > :s", s=seen)[0]
    assert f"finsent-updown v1 scores {first_live} .. " in page and "backtest walk scores" not in page
    assert f"mean P(up) <b>{live:.3f}</b> (out of sample, finsent-updown v1)" in page
    # after a backtest the earlier sessions come from its walk, each scored by a model trained before it
    run_backtest(settings, engine, "walk", BacktestSpec(train_sessions=20, step_sessions=5))
    page = render_sentiment_page(engine, settings, view=one)
    (walk_from, walk_to, walked) = query(
        engine, "SELECT min(session_date), max(session_date), (array_agg(mean_p_up ORDER BY session_date DESC))[1] "
        "FROM backtest_daily WHERE ticker = '005930'")[0]
    assert f"backtest walk scores {walk_from} .. {walk_to}" in page
    # the latest session is the walk's: the page says so, and names the champion's daily_sentiment beside it
    assert walk_to == last_live and f"mean P(up) <b>{walked:.3f}</b> (out of sample, backtest walk)" in page
    assert f"<code>daily_sentiment</code> of finsent-updown v1 for that session: <b>{live:.3f}</b>" in page
    overview = render_sentiment_page(engine, settings)
    assert "<td class=muted>backtest walk</td>" in overview and "<section" not in overview
    # two stocks: no cross-section, so the page shows the timing correlation, never an "IC"
    assert "backtest <b>walk</b>: timing correlation " in overview and "report in MLflow" in overview
    assert walk_to > seen and isinstance(walk_from, date)


def test_too_few_sessions_is_said_on_the_page():
    from finsent.web.page import backtest_metrics_html, champion_metrics_html
    from finsent.web.summaries import Backtest, Champion

    champion = Champion(1, {"test_n_sessions": 4.0, "test_balanced_accuracy": 0.9, "test_accuracy": 0.9}, "")
    assert not champion.shows_skill and "too few sessions for a verdict (n = 4)" in champion_metrics_html(champion)
    enough = Champion(1, {"test_n_sessions": 14.0, "test_balanced_accuracy": 0.5,
                          "test_p_value_balanced_accuracy": 0.4}, "")
    assert "no evidence of skill" in champion_metrics_html(enough)
    backtest = Backtest("b", {"n_sessions": 6.0, "oos_balanced_accuracy": 0.8, "ic_per_date": 1.0, "ic_mean": 0.2}, "")
    assert "too few sessions for a verdict (n = 6)" in backtest_metrics_html(backtest)


def test_the_page_says_when_the_data_are_synthetic(engine):
    from finsent.data.origin import mark_synthetic

    settings = load_settings()
    assert "Synthetic data" not in render_sentiment_page(engine, settings)
    mark_synthetic(engine, "finsent demo")
    page = render_sentiment_page(engine, settings, view=View(source="news"))
    assert '<p class="banner"><b>Synthetic data</b>: the demo&#x27;s loopback Naver' in page
