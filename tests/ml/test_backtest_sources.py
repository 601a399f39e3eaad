"""`finsent backtest --source board|news|both`: news walked like the board, and the two compared on
the sessions both cover (IC of each and of their combination, the paired test, their correlation)."""

from __future__ import annotations

import dataclasses

import pytest
from mlflow import MlflowClient

from finsent.cli import main
from finsent.config import load_settings
from finsent.errors import ConfigError
from finsent.ml.backtest import run_backtest
from finsent.ml.backtest.compare import compare_sources
from finsent.ml.backtest.report import SourcesReport
from finsent.ml.backtest.spec import BacktestSpec
from finsent.ml.registry import tracking_uri
from finsent.ml.stats import MIN_SESSIONS_FOR_VERDICT
from finsent.specs import from_values
from tests.data.board import query
from tests.ml.board import make_board
from tests.ml.news import make_news

TICKERS = ("005930", "000660", "035420", "051910")
SPEC = BacktestSpec(train_sessions=20, step_sessions=4)
SCORES = ("SELECT ticker, post_id, trained_through, p_up FROM backtest_scores WHERE backtest = :b AND source = :s "
          "ORDER BY 1, 2")
# the dates both daily indexes cover with 3+ stocks whose returns differ: where every IC is defined
COMMON_DATES = """
SELECT count(*) FROM (SELECT b.session_date FROM backtest_daily b JOIN backtest_daily n
    ON n.backtest = b.backtest AND n.source = 'news' AND n.ticker = b.ticker AND n.session_date = b.session_date
    WHERE b.backtest = :b AND b.source = 'board' GROUP BY 1 HAVING count(*) >= 3 AND count(DISTINCT b.ret) > 1) d"""

STORY_INDEX_MISMATCHES = """
WITH story AS (
    SELECT s.ticker, s.session_date, n.story_key, avg(s.p_up) AS p_up FROM backtest_scores s
    JOIN news n ON n.ticker = s.ticker AND -n.item_id = s.post_id
    WHERE s.backtest = :b GROUP BY 1, 2, 3)
SELECT count(*) FROM backtest_daily d
JOIN (SELECT ticker, session_date, avg(p_up) AS p_up FROM story GROUP BY 1, 2) e USING (ticker, session_date)
WHERE d.backtest = :b AND abs(d.mean_p_up - e.p_up) > 1e-5"""


def test_a_news_walk_runs_on_news_alone_and_its_index_counts_a_story_once(engine, capsys):
    make_board(engine, planted=False, sessions=60, per_session=0, tickers=TICKERS)  # prices, no posts
    make_news(engine, planted=True)
    assert main(["backtest", "news", "--source", "news", "--train-sessions", "20", "--step-sessions", "4"]) == 0
    out = capsys.readouterr().out
    assert "# Walk-forward backtest `news`: news headlines" in out and "scored up/down headlines" in out
    assert "evidence of skill" in out and "no evidence" not in out
    assert query(engine, "SELECT DISTINCT source FROM backtest_daily") == [("news",)]
    assert query(engine, "SELECT count(*) FROM backtest_scores WHERE source <> 'news' OR post_id >= 0") == [(0,)]
    # by default the second office's copy is left out (news_story_repeat): 4 stories, 4 articles a session
    assert query(engine, "SELECT DISTINCT n_posts FROM backtest_daily") == [(4,)]
    # with --rules none both copies are scored, and the index still counts the story once
    _, report = run_backtest(load_settings(), engine, "all", dataclasses.replace(SPEC, source="news", rules=()))
    per_pair = query(engine, "SELECT count(*) FROM backtest_scores WHERE backtest = 'all' GROUP BY ticker, "
                             "session_date")
    assert {n for (n,) in per_pair} == {5}
    assert query(engine, "SELECT DISTINCT n_posts FROM backtest_daily WHERE backtest = 'all'") == [(4,)]
    assert report.counts["n_stories"] == 4 * len(per_pair) and report.counts["n_posts"] == 5 * len(per_pair)
    # the index: the mean over stories of each story's mean P(up), not the mean over articles
    assert query(engine, STORY_INDEX_MISMATCHES, b="all") == [(0,)]
    assert query(engine, "SELECT spec->>'source' FROM backtests WHERE name = 'all'") == [("news",)]
    # the board has nothing to walk here: a clear error, nothing written
    assert main(["backtest", "b", "--train-sessions", "20"]) == 2
    assert query(engine, "SELECT count(*) FROM backtests WHERE name = 'b'") == [(0,)]


def test_both_compares_the_sources_on_their_common_sessions_and_sees_the_planted_news(engine, caplog):
    make_board(engine, planted=False, sessions=90, tickers=TICKERS, per_session=8, seed=3)
    make_news(engine, planted=True, skip_sessions=25)  # news starts later: the common sessions are fewer
    settings = load_settings()
    run, report = run_backtest(settings, engine, "both", dataclasses.replace(SPEC, source="both"))
    assert isinstance(report, SourcesReport) and run.finished
    c = report.comparison
    assert c.n_sessions == query(engine, COMMON_DATES, b="both")[0][0] >= MIN_SESSIONS_FOR_VERDICT
    assert c.n_pairs == query(engine, "SELECT count(*) FROM backtest_daily b JOIN backtest_daily n USING "
                                      "(backtest, ticker, session_date) WHERE b.source = 'board' AND "
                                      "n.source = 'news'")[0][0]
    board_dates = query(engine, "SELECT count(DISTINCT session_date) FROM backtest_daily WHERE source = 'board'")[0][0]
    assert c.n_sessions < board_dates  # the intersection, not the board's sessions
    m = report.metrics
    assert m["compare_ic_news"] > m["compare_ic_board"] + 0.2 and m["compare_ic_news_ci_low"] > 0
    assert m["compare_ic_board_ci_low"] < 0 < m["compare_ic_board_ci_high"]
    assert m["compare_diff_news_minus_board_p"] < 0.01 and m["compare_diff_news_minus_board_ci_low"] > 0
    assert m["compare_ic_combined"] > m["compare_ic_board"]
    assert abs(m["compare_index_corr"]) < 0.3 and m["compare_index_corr_pairs"] == c.n_pairs
    text = report.to_markdown()
    assert "the news IC is higher than the board's" in text and f"over the same {c.n_sessions} session dates" in text
    assert "## Board posts" in text and "## News headlines" in text and "paired t over sessions" in text
    # each source's own report: the board shows nothing, news its planted signal
    assert not report.reports["board"].shows_skill and report.reports["news"].shows_skill
    client = MlflowClient(tracking_uri(settings))
    (logged,) = client.search_runs([client.get_experiment_by_name("finsent").experiment_id], "tags.backtest = 'both'")
    assert {a.path for a in client.list_artifacts(logged.info.run_id, "plots")} == {
        "plots/ic_over_time.png", "plots/long_short_cumulative.png", "plots/news_ic_over_time.png",
        "plots/news_long_short_cumulative.png", "plots/ic_by_source.png"}
    assert {"compare_ic_news", "compare_diff_news_minus_board_p", "news_ic_mean", "ic_mean"} <= set(logged.data.metrics)
    # the board's part is exactly a board walk; the walk resumes per source, across the two
    run_backtest(settings, engine, "board", SPEC)
    assert query(engine, SCORES, b="both", s="board") == query(engine, SCORES, b="board", s="board")
    chunked = None
    while chunked is None:
        _, chunked = run_backtest(settings, engine, "parts", dataclasses.replace(SPEC, source="both"), steps_per_run=7)
    for source in ("board", "news"):
        assert query(engine, SCORES, b="parts", s=source) == query(engine, SCORES, b="both", s=source)
    assert chunked.metrics == pytest.approx(report.metrics, nan_ok=True)
    # the same name with another source is another walk: refused, named
    assert main(["backtest", "both", "--source", "news", "--train-sessions", "20", "--step-sessions", "4"]) == 2
    assert "exists with other settings or inputs (input_hash, source)" in caplog.text


def test_too_few_common_sessions_give_no_verdict(engine):
    make_board(engine, planted=False, sessions=40, tickers=TICKERS, per_session=6)
    make_news(engine, planted=True, skip_sessions=22)
    _, report = run_backtest(load_settings(), engine, "short", BacktestSpec(train_sessions=10, step_sessions=3,
                                                                            source="both"))
    n = report.comparison.n_sessions
    assert 0 < n < MIN_SESSIONS_FOR_VERDICT and not report.comparison.has_verdict
    assert f"no verdict: too few sessions ({n})" in report.to_markdown()
    assert not any(k.startswith("compare_") and k.endswith(("_p", "_ci_low")) for k in report.metrics)


def test_the_comparison_of_two_identical_indexes():
    """The same index twice: correlation 1, equal ICs, a zero difference that no test calls a difference."""
    import pandas as pd

    days = pd.date_range("2024-01-02", periods=12, freq="B").date
    index = pd.DataFrame([(t, d, (i * 7 + j * 3) % 5 / 5, ((i + j) % 3 - 1) / 100)
                          for i, d in enumerate(days) for j, t in enumerate("ABCD")],
                         columns=["ticker", "session_date", "mean_p_up", "ret"])
    c = compare_sources(index, index)
    assert c.n_pairs == 48 and c.metrics["index_corr"] == pytest.approx(1.0)
    assert c.metrics["ic_board"] == pytest.approx(c.metrics["ic_news"]) == pytest.approx(c.metrics["ic_combined"])
    assert c.metrics["diff_news_minus_board"] == 0 and "no evidence that the news IC differs" in c.verdict()


def test_a_bad_source_is_a_clear_error_from_the_command_and_the_dag(engine, capsys):
    with pytest.raises(SystemExit) as refused:
        main(["backtest", "x", "--source", "tv"])
    assert refused.value.code == 2 and "invalid choice: 'tv'" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="--source must be one of board, news, comments, both, got 'tv'"):
        from_values(BacktestSpec, {"source": "tv"})
    assert query(engine, "SELECT count(*) FROM backtests") == [(0,)]


def test_a_board_walk_stores_the_spec_it_always_stored(engine):
    make_board(engine, planted=True, sessions=30)
    run_backtest(load_settings(), engine, "b", BacktestSpec(train_sessions=20, step_sessions=4))
    assert query(engine, "SELECT spec ? 'source' FROM backtests") == [(False,)]  # so an older walk resumes
    assert query(engine, "SELECT DISTINCT source FROM backtest_steps") == [("board",)]


def test_a_lora_news_walk_resumed_per_step_trains_each_step_as_one_run(engine, tiny_model):
    from finsent.ml.models.hf.spec import TransformerSpec

    make_board(engine, planted=False, sessions=24, per_session=0, tickers=TICKERS[:3])
    make_news(engine, planted=True, per_session=2)
    spec = BacktestSpec(model="lora", source="news", train_sessions=10, step_sessions=6,
                        transformer=TransformerSpec(base_model=str(tiny_model), prompt="zero-shot", max_steps=2,
                                                    batch_size=8, device="cpu", lora_r=4, seed=5))
    whole, _ = run_backtest(load_settings(), engine, "whole", spec)
    report = None
    while report is None:
        _, report = run_backtest(load_settings(), engine, "parts", spec, steps_per_run=1)
    assert len(whole.steps) >= 2 and report.source == "news"
    assert query(engine, SCORES, b="parts", s="news") == query(engine, SCORES, b="whole", s="news") != []
