"""Walk-forward backtests on the planted board and on one without a signal."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from datetime import date

import pandas as pd
import pytest
from mlflow import MlflowClient

from finsent.cli import main
from finsent.config import load_settings
from finsent.data.labels import LabelDefinition, label_posts
from finsent.ml.backtest import run_backtest
from finsent.ml.backtest.report import SHORT_SALE_BAN, long_short
from finsent.ml.backtest.walk import BacktestSpec
from finsent.ml.models.hf.spec import TransformerSpec
from finsent.ml.models.lora import LoraClassifier
from finsent.ml.registry import tracking_uri
from finsent.ml.stats import MIN_SESSIONS_FOR_VERDICT
from tests.data.board import query
from tests.ml.board import make_board

SPEC = BacktestSpec(train_sessions=20, step_sessions=4)


def test_planted_signal_shows_out_of_sample_and_no_post_is_scored_by_a_model_that_saw_it(engine):
    make_board(engine, planted=True, sessions=80, tickers=("005930", "000660", "035420"))
    settings = load_settings()
    run, report = run_backtest(settings, engine, "planted", SPEC)
    assert run.finished and len(run.steps) >= 10
    m = report.metrics
    assert m["oos_accuracy_ci_low"] > 0.5 and m["oos_balanced_accuracy_ci_low"] > 0.5 and report.shows_skill
    assert m["oos_p_value_balanced_accuracy"] < 0.001 and report.has_verdict
    assert m["ic_per_date"] == 1.0 and m["ic_mean"] > 0.3 and m["ic_t"] > 4 and m["ic_p"] < 0.001
    assert 0 < m["ic_ci_low"] < m["ic_mean"] < m["ic_ci_high"] and m["ic_blocks"] == m["ic_sessions"]
    assert m["long_short_mean_ret_ci_low"] < m["long_short_mean_ret"] < m["long_short_mean_ret_ci_high"]
    assert m["long_short_mean_ret"] > 0 and m["long_short_mean_ret_net"] < m["long_short_mean_ret"]
    # the board's sessions (2024) lie inside the short-sale ban: a long-only book, 2 units a session
    assert m["long_short_long_only_sessions"] == m["long_short_sessions"] and m["long_short_turnover"] == 2
    assert m["long_short_p"] < 0.05
    ((lookahead,),) = query(engine, "SELECT count(*) FROM backtest_scores s JOIN labels l ON l.definition = "
                                    "'next_session' AND l.ticker = s.ticker AND l.post_id = s.post_id "
                                    "WHERE s.trained_through >= l.session_date")
    assert lookahead == 0
    ((scored,),) = query(engine, "SELECT count(*) FROM backtest_scores")
    assert scored == report.counts["n_posts"] + query(engine, "SELECT count(*) FROM backtest_scores s JOIN labels l "
                                                              "USING (ticker, post_id) WHERE l.label = 'flat'")[0][0]
    assert query(engine, "SELECT count(*) FROM backtest_daily")[0][0] > 0
    client = MlflowClient(tracking_uri(settings))
    (logged,) = client.search_runs([client.get_experiment_by_name("finsent").experiment_id],
                                   "tags.backtest = 'planted'")
    assert {"oos_accuracy", "oos_accuracy_ci_low", "oos_accuracy_ci_high", "ic_mean", "ic_ci_low", "ic_ci_high",
            "ic_t", "long_short_mean_ret",
            "long_short_sharpe", "long_short_sharpe_net"} <= set(logged.data.metrics)
    artifacts = {a.path for a in client.list_artifacts(logged.info.run_id, "plots")}
    assert artifacts == {"plots/ic_over_time.png", "plots/long_short_cumulative.png"}
    assert "evidence of skill" in report.to_markdown() and "long-only" in report.to_markdown()
    # the same walk on close-to-close labels earns no verdict, whatever its numbers: not tradable
    _, gap = run_backtest(settings, engine, "gap", dataclasses.replace(SPEC, definition="next_session"))
    assert gap.label_rule == "next_session" and not gap.shows_skill
    assert "not tradable" in gap.verdict() and "not tradable" in gap.to_markdown()


def test_the_book_pays_every_unit_it_trades_and_is_long_only_during_the_ban():
    normal, banned = date(2025, 6, 2), date(2024, 6, 3)
    assert (date(2023, 11, 6), date(2025, 3, 30)) == SHORT_SALE_BAN
    daily = pd.DataFrame({"ticker": ["A", "B", "C"] * 2, "session_date": [normal] * 3 + [banned] * 3,
                          "mean_p_up": [0.9, 0.5, 0.1] * 2, "ret_open_close": [0.02, 0.0, -0.01, 0.02, 0.0, -0.01]})
    book = long_short(daily, cost_bps=20, sell_tax_bps=20).set_index("session_date")
    # long A, short C: +0.02 - (-0.01); 4 units at 20 bps (0.0080) and the tax on 2 sales (0.0040)
    assert book.loc[normal, "gross"] == pytest.approx(0.03) and book.loc[normal, "turnover"] == 4
    assert book.loc[normal, "net"] == pytest.approx(0.03 - 0.0080 - 0.0040) and not book.loc[normal, "long_only"]
    # banned: long A against the universe's mean (0.02 + 0 - 0.01) / 3; 2 units and 1 sale
    assert book.loc[banned, "long_only"] and book.loc[banned, "turnover"] == 2
    assert book.loc[banned, "gross"] == pytest.approx(0.02 - 0.01 / 3)
    assert book.loc[banned, "net"] == pytest.approx(0.02 - 0.01 / 3 - 0.0040 - 0.0020)
    # the first and last days of the ban are banned, the days around them are not
    edges = [date(2023, 11, 3), SHORT_SALE_BAN[0], SHORT_SALE_BAN[1], date(2025, 3, 31)]
    frame = pd.concat([daily.head(3).assign(session_date=d) for d in edges])
    assert long_short(frame, 0.0)["long_only"].tolist() == [False, True, True, False]


def test_a_short_backtest_gives_no_verdict(engine):
    make_board(engine, planted=True, sessions=30, tickers=("005930", "000660", "035420"))
    _, report = run_backtest(load_settings(), engine, "short", BacktestSpec(train_sessions=20, step_sessions=4))
    assert report.counts["n_sessions"] < MIN_SESSIONS_FOR_VERDICT and not report.has_verdict
    assert not report.shows_skill and "oos_p_value_balanced_accuracy" not in report.metrics
    assert "oos_accuracy_ci_low" not in report.metrics and "ic_t" not in report.metrics
    assert f"too few sessions for a verdict (n = {report.counts['n_sessions']:.0f}" in report.to_markdown()


def test_no_signal_shows_neither(engine):
    make_board(engine, planted=False, sessions=80, tickers=("005930", "000660", "035420"), seed=4)
    _, report = run_backtest(load_settings(), engine, "noise", SPEC)
    m = report.metrics
    assert not (m["oos_accuracy_ci_low"] > 0.5) and not report.shows_skill
    assert abs(m["ic_t"]) < 3 and m["ic_ci_low"] < 0 < m["ic_ci_high"]
    assert "no evidence of skill" in report.to_markdown()


def test_horizon_h_labels_are_judged_over_blocks_of_h_dates(engine):
    """Labels over 3 sessions: neighbouring dates share 2, so the accuracy, its interval and test and
    the IC with its interval run over blocks of 3 dates, and the report says so; the book still
    holds one session."""
    make_board(engine, planted=True, sessions=80, tickers=("005930", "000660", "035420"))
    label_posts(engine, LabelDefinition.build("next_open_close", horizon=3))
    _, report = run_backtest(load_settings(), engine, "h3", dataclasses.replace(SPEC, definition="next_open_close_h3"))
    c, m = report.counts, report.metrics
    assert report.horizon == 3 and c["n_blocks"] == -(-c["n_sessions"] // 3) and report.has_verdict
    assert m["ic_blocks"] == -(-m["ic_sessions"] // 3) and m["ic_ci_low"] < m["ic_mean"] < m["ic_ci_high"]
    text = report.to_markdown()
    assert f"over {c['n_blocks']:.0f} blocks of 3 consecutive session dates" in text
    assert "jackknife over blocks of 3 session dates" in text and f"{m['ic_blocks']:.0f} blocks of 3 sessions" in text
    assert "long_short_p" in m  # over its sessions: the book's return is one session's


SCORES = "SELECT ticker, post_id, trained_through, p_up FROM backtest_scores WHERE backtest = :b ORDER BY 1, 2"


def test_a_backtest_walked_in_chunks_scores_every_post_exactly_as_one_run(engine):
    make_board(engine, planted=True, sessions=70)
    settings = load_settings()
    whole, _ = run_backtest(settings, engine, "whole", SPEC)
    part, report = run_backtest(settings, engine, "parts", SPEC, steps_per_run=3)
    assert report is None and part.done == 3
    assert query(engine, "SELECT max(step) FROM backtest_steps WHERE backtest = 'parts'") == [(2,)]
    while report is None:  # then one step per run: each run restores the state the last one committed
        part, report = run_backtest(settings, engine, "parts", SPEC, steps_per_run=1)
    assert part.done == len(whole.steps) > 5
    uninterrupted = query(engine, SCORES, b="whole")
    assert query(engine, SCORES, b="parts") == uninterrupted  # the stored values, exactly
    # only the newest step keeps its warm-start state
    assert query(engine, "SELECT step FROM backtest_steps WHERE backtest = 'parts' AND warm_state IS NOT NULL") \
        == [(len(whole.steps) - 1,)]
    # other settings under the same name: a clear error, nothing mixed in
    assert main(["backtest", "parts", "--train-sessions", "25", "--step-sessions", "4"]) == 2


def test_a_lora_walk_resumed_in_chunks_trains_each_step_as_one_run(engine, tiny_model):
    make_board(engine, planted=True, sessions=24, per_session=6)
    settings = load_settings()
    spec = BacktestSpec(model="lora", train_sessions=10, step_sessions=6,
                        transformer=TransformerSpec(base_model=str(tiny_model), prompt="zero-shot", max_steps=3,
                                                    batch_size=8, device="cpu", lora_r=4, seed=5))
    whole, _ = run_backtest(settings, engine, "whole", spec)
    report = None
    while report is None:
        _, report = run_backtest(settings, engine, "parts", spec, steps_per_run=1)
    assert len(whole.steps) >= 2
    assert query(engine, SCORES, b="parts") == query(engine, SCORES, b="whole")
    # step 1 trained with the seed 5 + 1: the same adapter as a plain fit of its window with that seed
    step = whole.steps[1]
    posts = whole.posts
    in_window = posts["session_date"].between(step.train_from, step.train_through) & posts["label"].isin(["up", "down"])
    scored = posts[posts["session_date"].between(step.score_from, step.score_to)]
    model = LoraClassifier(dataclasses.replace(spec.transformer, seed=6))
    model.fit(posts.loc[in_window, "title"].tolist(), (posts.loc[in_window, "label"] == "up").to_numpy().astype(int))
    expected = dict(zip(scored["post_id"], model.predict_proba(scored["title"].tolist())))
    stored = query(engine, "SELECT post_id, p_up FROM backtest_scores WHERE backtest = 'whole' AND session_date "
                           "BETWEEN :a AND :b", a=step.score_from, b=step.score_to)
    assert stored and all(abs(p - expected[pid]) < 1e-6 for pid, p in stored)


def test_a_killed_backtest_resumes(engine, database_url):
    make_board(engine, planted=True, sessions=120, per_session=30)
    command = [sys.executable, "-m", "finsent.cli", "backtest", "killed", "--train-sessions", "20",
               "--step-sessions", "2"]
    process = subprocess.Popen(command, env=os.environ.copy(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 240
        while query(engine, "SELECT count(*) FROM backtest_steps WHERE backtest = 'killed'")[0][0] < 2:
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL
    done_before = query(engine, "SELECT count(*) FROM backtest_steps WHERE backtest = 'killed'")[0][0]
    total = query(engine, "SELECT steps_total FROM backtests WHERE name = 'killed'")[0][0]
    assert 2 <= done_before < total
    # every committed step is whole: its scores are there, nothing of a half step
    assert query(engine, "SELECT count(*) FROM backtest_scores s WHERE backtest = 'killed' AND NOT EXISTS "
                         "(SELECT 1 FROM backtest_steps t WHERE t.backtest = 'killed' "
                         "AND s.session_date BETWEEN t.scored_from AND t.scored_to)") == [(0,)]
    resumed = subprocess.run(command, env=os.environ.copy(), check=False, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"resuming after {done_before} of {total} steps" in resumed.stderr
    steps = query(engine, "SELECT count(*), max(step) FROM backtest_steps WHERE backtest = 'killed'")
    assert steps == [(total, total - 1)]
    # and it scored every post exactly as one uninterrupted walk of the same settings
    whole, _ = run_backtest(load_settings(), engine, "whole", BacktestSpec(train_sessions=20, step_sessions=2))
    assert len(whole.steps) == total
    assert query(engine, SCORES, b="killed") == query(engine, SCORES, b="whole")


def test_a_kill_during_the_mlflow_logging_leaves_no_orphan_run(engine):
    make_board(engine, planted=True, sessions=40)
    args = ["orphan", "--train-sessions", "20", "--step-sessions", "5"]
    killed = subprocess.run([sys.executable, "-m", "tests.ml.backtest_kill_job", *args], env=os.environ.copy(),
                            check=False, capture_output=True, text=True, timeout=600)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    client = MlflowClient(tracking_uri(load_settings()))
    experiment = client.get_experiment_by_name("finsent").experiment_id
    (left,) = client.search_runs([experiment], "tags.backtest = 'orphan'")
    assert left.info.status == "RUNNING"  # killed half-way: metrics logged, no report yet
    assert query(engine, "SELECT status, mlflow_run_id FROM backtests") == [("running", left.info.run_id)]
    resumed = subprocess.run([sys.executable, "-m", "finsent.cli", "backtest", *args], env=os.environ.copy(),
                             check=False, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    (run,) = client.search_runs([experiment], "tags.backtest = 'orphan'")  # one run: the same, finished
    assert run.info.run_id == left.info.run_id and run.info.status == "FINISHED"
    assert {a.path for a in client.list_artifacts(run.info.run_id, "backtest")} == {
        "backtest/report.md", "backtest/long_short.csv"}
    assert "oos_accuracy" in run.data.metrics
    assert query(engine, "SELECT status, mlflow_run_id FROM backtests") == [("done", run.info.run_id)]


@pytest.mark.parametrize("args, code, message", [
    (["backtest", "../x"], 2, "backtest name '../x'"),
    (["backtest", "short", "--train-sessions", "500"], 2, "a walk needs more than --train-sessions (500)"),
    (["backtest", "bad", "--rules", "nope"], 2, "unknown quality rule(s) nope"),
    (["backtest", "tax", "--sell-tax-bps", "-1"], 2, "--sell-tax-bps must be in [0, 10000), got -1.0"),
    (["backtest", "tiny", "--train-sessions", "9"], 2, "--train-sessions must be at least 10"),
])
def test_bad_backtest_input_is_a_clear_error(engine, args, code, message, caplog):
    make_board(engine, planted=True, sessions=40)
    assert main(args) == code
    assert message in caplog.text
    assert query(engine, "SELECT count(*) FROM backtest_scores") == [(0,)]
    assert query(engine, "SELECT count(*) FROM backtests") == [(0,)]


@pytest.mark.parametrize("train_sessions, message", [
    ("1", "--train-sessions must be at least 10"),
    ("5000", "a walk needs more than --train-sessions (5000)"),
])
def test_an_impossible_walk_exits_2_before_writing_anything(engine, train_sessions, message):
    make_board(engine, planted=True, sessions=40)
    command = [sys.executable, "-m", "finsent.cli", "backtest", "x", "--train-sessions", train_sessions]
    done = subprocess.run(command, env=os.environ.copy(), check=False, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr
    assert query(engine, "SELECT count(*) FROM backtests") == [(0,)]  # nothing blocks the name
    again = subprocess.run([*command[:-1], "20"], env=os.environ.copy(), check=False, capture_output=True,
                           text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]


def test_a_window_of_one_class_is_refused_before_anything_is_written(engine, caplog):
    make_board(engine, planted=True, sessions=40)
    first = query(engine, "SELECT min(session_date) FROM labels")[0][0]
    with engine.begin() as conn:  # the first weeks only ever went up
        conn.exec_driver_sql("UPDATE labels SET label = 'up' WHERE session_date < %(d)s::date + 30", {"d": first})
    assert main(["backtest", "x", "--train-sessions", "12"]) == 2
    assert "has one class only" in caplog.text
    assert query(engine, "SELECT count(*) FROM backtests") == [(0,)]
