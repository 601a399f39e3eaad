"""Walk-forward backtests on the planted board and on one without a signal."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import date

import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from finsent.cli import main
from finsent.config import load_settings
from finsent.ml.backtest import run_backtest
from finsent.ml.backtest.report import SHORT_SALE_BAN, long_short
from finsent.ml.backtest.walk import BacktestSpec
from finsent.ml.registry import tracking_uri
from finsent.ml.stats import MIN_SESSIONS_FOR_VERDICT
from tests.data.board import query
from tests.model.board import make_board

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
    assert {"oos_accuracy", "oos_accuracy_ci_low", "oos_accuracy_ci_high", "ic_mean", "ic_t", "long_short_mean_ret",
            "long_short_sharpe", "long_short_sharpe_net"} <= set(logged.data.metrics)
    artifacts = {a.path for a in client.list_artifacts(logged.info.run_id, "plots")}
    assert artifacts == {"plots/ic_over_time.png", "plots/long_short_cumulative.png"}
    assert "evidence of skill" in report.to_markdown() and "long-only" in report.to_markdown()


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
    assert abs(m["ic_t"]) < 3
    assert "no evidence of skill" in report.to_markdown()


def test_a_backtest_resumes_at_its_step(engine):
    make_board(engine, planted=True, sessions=70)
    settings = load_settings()
    whole, _ = run_backtest(settings, engine, "whole", SPEC)
    part, report = run_backtest(settings, engine, "parts", SPEC, steps_per_run=3)
    assert report is None and part.done == 3
    assert query(engine, "SELECT max(step) FROM backtest_steps WHERE backtest = 'parts'") == [(2,)]
    part, report = run_backtest(settings, engine, "parts", SPEC)
    assert report is not None and part.done == len(whole.steps)
    same = "SELECT ticker, post_id, trained_through, p_up FROM backtest_scores WHERE backtest = :b ORDER BY 1, 2"
    resumed, uninterrupted = query(engine, same, b="parts"), query(engine, same, b="whole")
    assert [r[:3] for r in resumed] == [r[:3] for r in uninterrupted]
    # the same models; only the warm start of the first resumed step differs (optimiser tolerance)
    assert np.allclose([r[3] for r in resumed], [r[3] for r in uninterrupted], atol=5e-3)
    # other settings under the same name: a clear error, nothing mixed in
    assert main(["backtest", "parts", "--train-sessions", "25", "--step-sessions", "4"]) == 2


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


@pytest.mark.parametrize("args, code, message", [
    (["backtest", "../x"], 2, "backtest name '../x'"),
    (["backtest", "short", "--train-sessions", "500"], 1, "a walk needs more than --train-sessions (500)"),
    (["backtest", "bad", "--rules", "nope"], 2, "unknown quality rule(s) nope"),
    (["backtest", "tax", "--sell-tax-bps", "-1"], 2, "--sell-tax-bps must be in [0, 10000), got -1.0"),
])
def test_bad_backtest_input_is_a_clear_error(engine, args, code, message, caplog):
    make_board(engine, planted=True, sessions=40)
    assert main(args) == code
    assert message in caplog.text
    assert query(engine, "SELECT count(*) FROM backtest_scores") == [(0,)]
