"""The no-skill simulation (bench/null_simulation.py) run small: every reported test holds its 5%
level and every 95% interval covers, from the minimum number of sessions on; below it there is
no verdict, and with two dates nothing can look significant."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bench.null_simulation import (
    INTERVALS,
    TESTS,
    Design,
    designs,
    draw_board,
    fast_ic,
    fast_interval_cover,
    fast_long_short,
    one_draw,
    simulate,
)
from finsent.ml.backtest.report import long_short
from finsent.ml.evaluate import evaluate_predictions
from finsent.ml.overlap import sign_flip_p
from finsent.ml.stats import (
    MIN_SESSIONS_FOR_VERDICT,
    Clusters,
    balanced_accuracy_test,
    cluster_mean_test,
    information_coefficient,
    paired_test,
    session_intervals,
)

DRAWS = 100  # per cell; 24 cells: 2,400 boards, pooled SE of a 5% rate 0.45%


@pytest.fixture(scope="module")
def table():
    cells = designs(dates=(MIN_SESSIONS_FOR_VERDICT, 20, 60), stocks=(3, 20))
    return [(design, simulate(design, DRAWS, seed=1)) for design in cells]


def test_every_test_holds_its_level_and_every_interval_covers(table):
    for test in TESTS:
        pooled = np.mean([r[test] for _, r in table])
        assert pooled <= 0.06, (test, pooled)
        worst = max(table, key=lambda row: row[1][test])
        assert worst[1][test] <= 0.15, (test, worst)  # no design is far off (the old p = 0 bug gave 25%)
    for interval in INTERVALS:
        pooled = np.mean([r[f"{interval}_covers"] for _, r in table])
        assert pooled >= 0.93, (interval, pooled)
        worst = min(table, key=lambda row: row[1][f"{interval}_covers"])
        assert worst[1][f"{interval}_covers"] >= 0.88, (interval, worst)


def test_the_simulations_fast_paths_are_finsents_own_formulas():
    design = Design(MIN_SESSIONS_FOR_VERDICT + 5, 6, "date", dominant=True)
    board = draw_board(design, np.random.default_rng(3))
    stock, date, y, p_a, _ = board.per_post()
    days = pd.bdate_range("2022-01-03", periods=design.dates).date  # before the short-sale ban
    frame = pd.DataFrame({"ticker": [f"S{s:02d}" for s in stock], "session_date": days[date], "p_up": p_a,
                          "ret": board.ret[date, stock]})
    ic = information_coefficient(frame)
    assert ic["ic"] == pytest.approx(fast_ic(board.index_a, board.ret).mean())
    assert ic["ic_p"] == pytest.approx(sign_flip_p(fast_ic(board.index_a, board.ret)))
    daily = frame.groupby(["ticker", "session_date"], as_index=False).agg(mean_p_up=("p_up", "first"),
                                                                          ret_open_close=("ret", "first"))
    assert np.allclose(long_short(daily, 0.0)["gross"], fast_long_short(board.index_a, board.ret))
    clusters = Clusters.of(stock, date)
    intervals = session_intervals(y, p_a, clusters)
    for name, covers in fast_interval_cover(y, p_a, clusters).items():
        assert covers == (intervals[name][0] <= 0.5 <= intervals[name][1]), name


def test_two_dates_can_never_look_significant():
    smallest = 1.0
    for seed in range(200):
        board = draw_board(Design(2, 5), np.random.default_rng(seed))
        stock, date, y, p_a, p_b = board.per_post()
        clusters = Clusters.of(stock, date)
        correct_a, correct_b = (p_a > 0.5) == y, (p_b > 0.5) == y
        smallest = min(smallest, balanced_accuracy_test(y, p_a, clusters)[1],
                       cluster_mean_test(correct_a.astype(float), clusters, 0.5)[1],
                       paired_test(correct_a, correct_b, clusters)[1],
                       sign_flip_p(fast_ic(board.index_a, board.ret)),
                       sign_flip_p(fast_long_short(board.index_a, board.ret)))
    assert smallest == 0.25  # 2^-2: both dates in the model's favour is all that two dates can say


def test_a_coin_flip_on_two_test_dates_gets_no_p_of_zero_and_no_verdict():
    rng = np.random.default_rng(0)
    for _ in range(50):
        test = pd.DataFrame({"ticker": np.repeat(["005930", "000660"], 40),
                             "session_date": np.tile(np.repeat(["2025-04-01", "2025-04-02"], 20), 2)})
        test["label"] = np.where(rng.random(80) < 0.5, "up", "down")
        test["ret"] = np.where(test["label"] == "up", 0.01, -0.01)
        coin = rng.random(80)  # a coin, and a lucky one often enough: it is right on both dates at times
        report = evaluate_predictions("coin", test, coin, 0.5, {})
        assert not report.has_verdict and not report.shows_skill
        assert report.verdict().startswith("too few sessions for a verdict (n = 2)")
        assert report.tests["p_value_balanced_accuracy"] == 1.0 and report.intervals == {}
        assert not any(k.startswith("test_p_value") or k.endswith(("_ci_low", "_ci_high"))
                       for k in report.flat_metrics())
        assert balanced_accuracy_test((test["label"] == "up").to_numpy(), coin,
                                      Clusters.of(test["ticker"], test["session_date"]))[1] >= 0.25


def test_below_the_minimum_even_a_perfect_model_gets_no_verdict():
    g = MIN_SESSIONS_FOR_VERDICT - 1
    days = [str(d.date()) for d in pd.bdate_range("2025-04-01", periods=g)]
    test = pd.DataFrame({"ticker": ["005930", "000660", "035420"] * (4 * g),
                         "session_date": np.repeat(days, 12)})
    test["label"] = np.where(np.arange(len(test)) % 2 == 0, "up", "down")
    test["ret"] = np.where(test["label"] == "up", 0.01, -0.01)
    perfect = np.where(test["label"] == "up", 0.9, 0.1)
    report = evaluate_predictions("perfect", test, perfect, 0.5, {})
    assert report.metrics["balanced_accuracy"] == 1.0
    assert not report.has_verdict and not report.shows_skill and report.intervals == {}
    assert report.verdict().startswith(f"too few sessions for a verdict (n = {g})")
    assert "too few sessions" in report.to_markdown() and "ic_t" not in report.finance
    # one more date and the same model has its verdict, with p = 2^-G from the exact enumeration
    more = pd.concat([test, test.head(12).assign(session_date="2025-05-30")], ignore_index=True)
    report = evaluate_predictions("perfect", more, np.where(more["label"] == "up", 0.9, 0.1), 0.5, {})
    assert report.has_verdict and report.shows_skill
    assert report.tests["p_value_balanced_accuracy"] == pytest.approx(2.0 ** -MIN_SESSIONS_FOR_VERDICT)


def test_one_draw_reports_every_test_and_interval():
    result = one_draw(Design(MIN_SESSIONS_FOR_VERDICT, 3), np.random.default_rng(0))
    assert set(result) == set(TESTS) | {f"{i}_covers" for i in INTERVALS}
