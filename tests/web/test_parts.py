"""The Sentiment page's three parts, each on its own: the queries on a real Postgres, the MLflow
summaries on a real MLflow store (read without touching MLflow's process-wide state), and the
rendering as pure functions of dataclasses."""

from __future__ import annotations

import os
from datetime import date, datetime, timedelta

import pytest
import sqlalchemy as sa

from finsent.ingest.records import KST
from finsent.web.overview import stock_row
from finsent.web.page import (
    backtest_metrics_html,
    champion_metrics_html,
    head_html,
    page_html,
    stock_section,
    verdict_html,
)
from finsent.web.queries import (
    FinishedBacktest,
    IndexPoint,
    ScoredPost,
    Stock,
    index_history,
    indexed_stocks,
    latest_backtest,
    latest_day_posts,
)
from finsent.web.summaries import Backtest, Champion, Summaries, read_summaries
from tests.data.board import add_posts, add_prices, post

# -- queries ------------------------------------------------------------------------------------------

D0 = date(2024, 3, 4)
DAYS = [D0 + timedelta(days=i) for i in range(10)]


def _execute(engine: sa.Engine, sql: str, rows: list[dict]) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text(sql), rows)


def flag(engine: sa.Engine, ticker: str, post_id: int, rule: str = "spam_ad") -> None:
    _execute(engine, "INSERT INTO quality_rules (name, description) VALUES (:r, 'test') ON CONFLICT DO NOTHING",
             [{"r": rule}])
    _execute(engine, "INSERT INTO post_flags (ticker, post_id, rule) VALUES (:t, :i, :r)",
             [{"t": ticker, "i": post_id, "r": rule}])


@pytest.fixture
def indexed(engine):
    """005930: a backtest over DAYS[0..4], the champion (v3) over DAYS[2..9], closes for all but DAYS[7]."""
    _execute(engine, "INSERT INTO backtests (name, spec, steps_total, status, mlflow_run_id, finished_at) "
                     "VALUES (:n, '{}', 1, :s, :r, :f)",
             [{"n": "old", "s": "done", "r": "run-old", "f": datetime(2024, 1, 1, tzinfo=KST)},
              {"n": "new", "s": "done", "r": "run-new", "f": datetime(2024, 2, 1, tzinfo=KST)},
              {"n": "running", "s": "running", "r": None, "f": None}])
    _execute(engine, "INSERT INTO backtest_daily VALUES ('new', '005930', :d, 3, :m, 0.01)",
             [{"d": d, "m": 0.4 + i / 100} for i, d in enumerate(DAYS[:5])])
    _execute(engine, "INSERT INTO daily_sentiment (model_version, ticker, session_date, n_posts, mean_p_up, "
                     "bull_share) VALUES (:v, '005930', :d, 3, :m, 0.5)",
             [{"v": v, "d": d, "m": 0.6 + i / 100} for v in (2, 3) for i, d in enumerate(DAYS[2:], start=2)])
    add_prices(engine, "005930", {d: 1000.0 + i for i, d in enumerate(DAYS) if i != 7})
    return engine


def test_queries_return_the_finished_backtest_and_the_indexed_stocks(indexed):
    with indexed.connect() as conn:
        assert latest_backtest(conn) == FinishedBacktest("new", "run-new")
        assert [s.code for s in indexed_stocks(conn)] == ["005930"]
        assert isinstance(indexed_stocks(conn)[0], Stock)


def test_the_history_is_the_walk_then_the_champion_after_what_it_saw(indexed):
    with indexed.connect() as conn:
        points = index_history(conn, "005930", backtest="new", champion=3, seen_through=DAYS[5])
        assert [p.session_date for p in points] == [*DAYS[:5], *DAYS[6:]]
        assert [p.source for p in points] == ["backtest"] * 5 + ["champion"] * 4
        assert points[0] == IndexPoint(DAYS[0], 0.4, 1000.0, "backtest", 0.01)  # with its return
        assert points[-1].ret is None  # the champion's sessions carry none
        assert points[6].close is None and points[6].session_date == DAYS[7]  # no price that day
        # a champion that does not say what it saw adds nothing; without a backtest the champion starts after seen
        assert all(p.source == "backtest" for p in index_history(conn, "005930", backtest="new", champion=3,
                                                                 seen_through=None))
        alone = index_history(conn, "005930", backtest=None, champion=3, seen_through=DAYS[3])
        assert [p.session_date for p in alone] == DAYS[4:]
        assert [p.session_date for p in index_history(conn, "005930", backtest=None, champion=3,
                                                      seen_through=DAYS[0], days=2)] == DAYS[7:]


def test_the_latest_day_posts_come_most_bullish_first_and_only_those_the_index_uses(engine):
    late = datetime(2024, 3, 10, 20, 0)
    rows = [post("005930", late - timedelta(hours=h), f"t{h}", post_id=500 + h) for h in (0, 1, 5, 30)]
    add_posts(engine, rows)
    _execute(engine, "INSERT INTO post_scores (model_version, ticker, post_id, p_up) VALUES (3, '005930', :i, :p)",
             [{"i": 500, "p": 0.2}, {"i": 501, "p": 0.95}, {"i": 505, "p": 0.9}, {"i": 530, "p": 0.99}])
    flag(engine, "005930", 501)
    with engine.connect() as conn:
        posts = latest_day_posts(conn, "005930", 3)
        assert [p.title for p in posts] == ["t5", "t0"]  # t1 is flagged, t30 older than a day before the newest
        assert posts[0].p_up == pytest.approx(0.9) and (posts[0].ticker, posts[0].post_id) == ("005930", 505)
        assert posts[0].posted_at == late.replace(tzinfo=KST) - timedelta(hours=5)
        assert latest_day_posts(conn, "005930", None) == []


# -- summaries ----------------------------------------------------------------------------------------


def _store(settings):
    from mlflow import MlflowClient

    from finsent.ml.registry import MODEL_NAME, tracking_uri

    uri = tracking_uri(settings)
    (settings.data_dir / "mlflow").mkdir(parents=True, exist_ok=True)
    client = MlflowClient(uri, uri)
    experiment = client.create_experiment("elsewhere",
                                          artifact_location=(settings.data_dir / "art").resolve().as_uri())
    run = client.create_run(experiment)
    metrics = {"test_balanced_accuracy": 0.61, "test_balanced_accuracy_ci_low": 0.55, "train_loss": 1.0}
    for key, value in metrics.items():
        client.log_metric(run.info.run_id, key, value)
    client.set_terminated(run.info.run_id)
    client.create_registered_model(MODEL_NAME)
    version = client.create_model_version(MODEL_NAME, f"{run.info.artifact_uri}/model", run.info.run_id,
                                          tags={"seen_through": "2024-03-08"})
    return client, run, version


def test_summaries_read_the_champion_and_backtest_without_touching_mlflows_globals(settings):
    import mlflow

    from finsent.ml.registry import MODEL_NAME

    client, run, version = _store(settings)
    before = mlflow.get_tracking_uri(), mlflow.get_registry_uri(), os.environ.get("MLFLOW_TRACKING_URI")
    nothing = read_summaries(settings, None)
    assert nothing.champion is None and nothing.backtest is None and nothing.registry_error is None
    client.set_registered_model_alias(MODEL_NAME, "champion", version.version)
    summaries = read_summaries(settings, FinishedBacktest("walk", run.info.run_id))
    assert (mlflow.get_tracking_uri(), mlflow.get_registry_uri(), os.environ.get("MLFLOW_TRACKING_URI")) == before
    assert client.get_experiment_by_name("finsent") is None  # reading makes no experiment
    assert summaries.champion == Champion(1, {"test_balanced_accuracy": 0.61, "test_balanced_accuracy_ci_low": 0.55},
                                          f"{settings.mlflow_ui_url}/#/models/{MODEL_NAME}/versions/1",
                                          date(2024, 3, 8))
    assert summaries.backtest.name == "walk" and summaries.backtest.metrics["train_loss"] == 1.0
    assert summaries.backtest.link.endswith(f"/runs/{run.info.run_id}")


def test_a_registry_that_does_not_answer_is_said_so(settings, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")  # nothing listens on the discard port
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "3")
    summaries = read_summaries(settings, FinishedBacktest("walk", "r"))
    assert summaries.champion is None and summaries.backtest is None
    error = summaries.registry_error
    assert "the MLflow registry failed to answer" in error and "127.0.0.1:9" in error


# -- rendering ----------------------------------------------------------------------------------------

SKILLED = Champion(4, {"test_balanced_accuracy": 0.6, "test_balanced_accuracy_ci_low": 0.55,
                       "test_balanced_accuracy_ci_high": 0.65, "test_accuracy": 0.58, "test_n_sessions": 17,
                       "test_n_clusters": 40, "test_n_posts": 9000, "test_ic": 0.05, "test_ic_t": 2.1,
                       "test_ic_sessions": 14, "test_p_value_balanced_accuracy": 0.001},
                   "http://mlflow/#/models/x/versions/4")


def test_the_verdict_follows_the_skill_test():
    assert verdict_html(SKILLED) == "<b>evidence of skill</b>"
    unskilled = Champion(4, {**SKILLED.metrics, "test_p_value_balanced_accuracy": 0.2}, "")
    assert "no evidence of skill" in verdict_html(unskilled)
    few = Champion(4, {**SKILLED.metrics, "test_n_sessions": 4}, "")
    assert "too few sessions for a verdict (n = 4)" in verdict_html(few)
    line = champion_metrics_html(SKILLED)
    assert line.startswith("balanced accuracy 0.600 [0.550, 0.650] · accuracy 0.580 on 17 test sessions (40 (stock, "
                           "session) clusters, 9000 posts")
    # the IC stands on its own sessions (dates with 3 stocks), as MLflow's test_ic_sessions says, not on all 17
    assert "IC 0.050 (t 2.10, 14 sessions with at least 3 stocks)" in line and "IC 0.050 (t 2.10) on 17" not in line
    assert line.endswith(verdict_html(SKILLED))
    with_interval = Champion(4, {**SKILLED.metrics, "test_ic_ci_low": 0.01, "test_ic_ci_high": 0.09}, "")
    interval_line = champion_metrics_html(with_interval)
    assert "IC 0.050 [0.010, 0.090] (t 2.10, 14 sessions with at least 3 stocks)" in interval_line
    backtest = Backtest("b", {"ic_mean": 0.02, "ic_ci_low": -0.01, "ic_ci_high": 0.05, "ic_per_date": 1.0, "ic_t": 1.3,
                              "ic_sessions": 40, "n_sessions": 40, "n_blocks": 8, "oos_balanced_accuracy": 0.5}, "")
    assert "IC 0.020 [-0.010, 0.050] (t 1.30, 40 sessions)" in backtest_metrics_html(backtest)
    # horizon-5 labels: 40 dates are 8 blocks, no verdict (no interval was logged), not "[nan, nan]"
    assert "too few sessions for a verdict (n = 40)" in backtest_metrics_html(backtest)


def test_the_head_says_champion_error_or_why_there_is_none():
    backtest = Backtest("<b>x</b>", {"ic_mean": 0.02, "ic_per_date": 1.0, "n_sessions": 50}, "http://mlflow/run")
    head = head_html(Summaries(SKILLED, backtest))
    assert "champion: <b>finsent-updown v4</b>" in head and 'href="http://mlflow/#/models/x/versions/4"' in head
    assert "backtest <b>&lt;b&gt;x&lt;/b&gt;</b>: IC 0.020" in head and "report in MLflow" in head
    assert backtest_metrics_html(backtest) in head
    assert head_html(Summaries(None, None, registry_error="<down>")) == \
        "<p>the MLflow registry did not answer: &lt;down&gt;</p>"
    assert "no champion yet: v2: no evidence" in head_html(Summaries(None, None, no_champion_reason="v2: no evidence"))
    assert "run the <code>finsent_train</code> DAG" in head_html(Summaries(None, None))


def test_a_stock_section_escapes_links_and_splits_its_posts_at_one_half():
    at = datetime(2024, 3, 10, 11, 0, tzinfo=KST)
    p_ups = [0.9, 0.8, 0.7, 0.6, 0.56, 0.52, 0.51, 0.45, 0.3]  # most bullish first, as queried
    posts = [ScoredPost(f"<i>{i}</i>", p, at, 1000 + i, "005930") for i, p in enumerate(p_ups)]
    history = [IndexPoint(DAYS[i], 0.5 + i / 100, 1000.0, "champion") for i in range(3)]
    row = stock_row(Stock("005930", "삼성<전자>"), history, None, DAYS[2])
    section = stock_section(row, history, posts)
    assert "<h2>005930 삼성&lt;전자&gt;</h2>" in section and "<i>" not in section
    assert "latest session <b>2024-03-06</b>: mean P(up) <b>0.520</b>" in section and "<svg" in section
    bullish, bearish = section.split("most bearish")
    assert bullish.count("<li>") == 5 and "&lt;i&gt;0&lt;/i&gt;" in bullish and "&lt;i&gt;5" not in bullish
    # bearish means P(up) < 0.5: 0.52 and 0.56 are not bearish, however low they rank
    assert bearish.count("<li>") == 2 and bearish.index("&lt;i&gt;8") < bearish.index("&lt;i&gt;7")
    assert "0.52" not in bearish and "03-10 11:00 KST" in bearish
    assert 'href="https://finance.naver.com/item/board_read.naver?code=005930&amp;nid=1008"' in bearish
    only_bullish = stock_section(row, history, posts[:3])
    assert "no post with P(up) below 0.5" in only_bullish
    forecast = stock_section(stock_row(Stock("005930", "x"), history, None, DAYS[1]), history, [])
    assert "forecast for the next session (not traded yet) <b>2024-03-06</b>" in forecast
    empty_row = stock_row(Stock("000660", "SK"), [], None, None)
    empty = stock_section(empty_row, [], [])
    assert "no post with P(up) above 0.5" in empty and "not enough sessions yet" in empty
    assert "no such sessions yet" in empty
    page = page_html("<p>head</p>", [Stock("005930", "a"), Stock("000660", "b")], [section])
    assert '<a href="sentiment?ticker=000660">000660</a>' in page and section in page
    assert page.startswith("<!doctype html>") and '<a href="models">models</a>' in page
    assert "'Noto Color Emoji'" in page and "'Noto Sans CJK KR'" in page  # Korean and emoji both have a font
    assert "no sentiment index yet" in page_html("", [], [])


def test_the_synthetic_banner_and_the_download_links():
    from datetime import UTC, datetime

    from finsent.data.origin import DEMO_DESCRIPTION, SyntheticMark
    from finsent.web.notes import downloads_html, synthetic_banner

    assert synthetic_banner([]) == ""
    banner = synthetic_banner([SyntheticMark("finsent demo", DEMO_DESCRIPTION, datetime(2026, 12, 1, 3, tzinfo=UTC))])
    assert "<b>Synthetic data</b>" in banner and "planted signal" in banner and "12:00 KST" in banner
    links = downloads_html("news", "005930", 3, None)
    assert 'href="api/daily-sentiment?source=news&amp;model_version=3&amp;ticker=005930&amp;format=parquet"' in links
    assert "backtest" not in links and 'href="api/openapi.json"' in links
    board = downloads_html("board", None, None, "demo")
    assert 'href="api/backtests?source=board&amp;backtest=demo&amp;format=csv"' in board
    assert "model_version" not in board
