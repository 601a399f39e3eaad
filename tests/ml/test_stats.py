"""The clustered statistics hold their level on simulated no-skill predictions with session-shared
labels, where post-level statistics do not; the sign-flip tests are exact and never give p = 0."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from finsent.ml.metrics import classification_metrics
from finsent.ml.overlap import sign_flip_p
from finsent.ml.stats import (
    MIN_SESSIONS_FOR_VERDICT,
    Clusters,
    balanced_accuracy_scores,
    balanced_accuracy_test,
    cluster_mean_test,
    holm,
    information_coefficient,
    interval_dof,
    paired_test,
    session_intervals,
)

DRAWS = 200


def no_skill_board(rng: np.random.Generator, dates: int = 30, tickers: int = 3):
    """Labels shared by every post of a (ticker, session) and moved by a common date factor;
    predictions leaning per (ticker, session) as a model's would, independent of the labels."""
    rows = []
    for day in range(dates):
        market = rng.normal()
        for ticker in range(tickers):
            up = market + 0.7 * rng.normal() > 0
            lean = rng.normal()  # the pair's posts lean together, as real titles of one day do
            for _ in range(1 + rng.poisson(25)):
                rows.append((ticker, day, int(up), 1 / (1 + np.exp(-(lean + 0.3 * rng.normal())))))
    frame = pd.DataFrame(rows, columns=["ticker", "session", "y", "p"])
    return frame, Clusters.of(frame["ticker"], frame["session"])


def test_no_skill_rejects_at_most_six_percent_and_intervals_cover():
    rejected_accuracy = rejected_balanced = naive_rejected = covered = 0
    for draw in range(DRAWS):
        frame, clusters = no_skill_board(np.random.default_rng(draw))
        y, p = frame["y"].to_numpy(), frame["p"].to_numpy()
        correct = ((p > 0.5) == y).astype(float)
        rejected_accuracy += cluster_mean_test(correct, clusters, 0.5)[1] < 0.05
        rejected_balanced += balanced_accuracy_test(y, p, clusters)[1] < 0.05
        naive_rejected += stats.binomtest(int(correct.sum()), len(correct), 0.5, alternative="greater").pvalue < 0.05
        low, high = session_intervals(y, p, clusters)["accuracy"]
        covered += low <= 0.5 <= high  # the predictions are symmetric and blind: expected accuracy 0.5
    assert rejected_accuracy / DRAWS <= 0.06, rejected_accuracy
    assert rejected_balanced / DRAWS <= 0.06, rejected_balanced
    assert covered / DRAWS >= 0.93, covered
    # the post-level binomial test that this replaces is fooled again and again
    assert naive_rejected / DRAWS >= 0.15, naive_rejected


def test_clustered_tests_find_a_real_signal():
    rng = np.random.default_rng(7)
    frame, clusters = no_skill_board(rng, dates=40)
    # titles that lean toward the coming move: P(up) shifted by the label
    p = 1 / (1 + np.exp(-(np.log(frame["p"] / (1 - frame["p"])) + 1.5 * (2 * frame["y"] - 1))))
    y = frame["y"].to_numpy()
    assert balanced_accuracy_test(y, p.to_numpy(), clusters)[1] < 0.01
    better, p_value = paired_test((p > 0.5) == y, (frame["p"] > 0.5) == y, clusters)
    assert better > 0.1 and p_value < 0.01
    low, _ = session_intervals(y, p.to_numpy(), clusters)["accuracy"]
    assert low > 0.5


def test_one_session_is_one_observation():
    y = np.array([1] * 50 + [0] * 50)
    p = np.where(y == 1, 0.9, 0.1)  # perfect, but on one date only
    clusters = Clusters.of(["005930"] * 50 + ["000660"] * 50, ["2025-03-04"] * 100)
    assert clusters.counts() == {"n_posts": 100.0, "n_clusters": 2.0, "n_sessions": 1.0, "n_blocks": 1.0}
    # one date in the model's favour: as likely as not under chance (p = 2^-1), never 0
    assert balanced_accuracy_test(y, p, clusters)[1] == 0.5
    assert cluster_mean_test((p > 0.5) == y, clusters, 0.5)[1] == 0.5
    assert session_intervals(y, p, clusters) == {}


@pytest.mark.parametrize("g", [2, 3, 4, 12, 20, 27, 40, 60])
def test_a_perfect_model_on_g_dates_gets_p_of_two_to_the_minus_g(g):
    """With zero variance (the same perfect score on every date) the old jackknife said p = 0; the
    Monte Carlo flips that followed said at best 1/5000 from 13 dates on, which attempt 12's level
    is below: p is now exact, 2^-G, up to 40 units (beyond, 40 runs of dates: 2^-40)."""
    days = np.repeat(np.arange(g), 10)
    y = np.tile([1, 0], 5 * g)
    p = np.where(y == 1, 0.9, 0.1)
    clusters = Clusters.of(np.zeros(len(y)), days)
    estimate, p_value = balanced_accuracy_test(y, p, clusters)
    assert estimate == 1.0 and p_value == cluster_mean_test(((p > 0.5) == y).astype(float), clusters, 0.5)[1]
    assert p_value == 2.0 ** -min(g, 40)
    assert sign_flip_p(np.zeros(g)) == 1.0  # no difference at all: no evidence at all


def test_sign_flip_p_by_hand():
    # 3 dates, scores 3, 1, -1: sum 3. Of the 8 patterns, sums >= 3: (+,+,-) = 5, (+,+,+) = 3, (+,-,-) = 3
    assert sign_flip_p(np.array([3.0, 1.0, -1.0])) == 3 / 8
    assert sign_flip_p(np.array([1.0, 1.0])) == 0.25  # two dates can never say more
    assert sign_flip_p(np.array([])) == 1.0


def test_balanced_accuracy_scores_sum_to_the_spread_and_flip_with_the_predictions():
    rng = np.random.default_rng(2)
    days, y, p = rng.integers(0, 6, 300), rng.integers(0, 2, 300), rng.random(300)
    clusters = Clusters.of(np.zeros(300), days)
    spread, z = balanced_accuracy_scores(y, p, clusters)
    m = classification_metrics(y, p)
    assert z.sum() == pytest.approx(spread) and 0.5 + spread / 2 == pytest.approx(m["balanced_accuracy"])
    turned = np.where(days == 3, 1 - p, p)  # every prediction of date 3 the other way round
    _, z_turned = balanced_accuracy_scores(y, turned, clusters)
    assert np.allclose(z_turned, np.where(np.arange(6) == 3, -z, z))


def test_holm_by_hand():
    assert holm([0.01, 0.04, 0.03, float("nan")])[:3] == pytest.approx([0.03, 0.06, 0.06])
    assert np.isnan(holm([0.01, float("nan")])[1]) and holm([0.2, 0.9]) == pytest.approx([0.4, 0.9])


def test_intervals_are_jackknife_t_over_dates():
    """t on the effective number of dates - 1: Satterthwaite's count from each date's share of the up
    and of the down posts (G - 1 when the dates weigh alike)."""
    rng = np.random.default_rng(4)
    g = MIN_SESSIONS_FOR_VERDICT
    days, y, p = np.repeat(np.arange(g), 30), rng.integers(0, 2, 30 * g), rng.random(30 * g)
    clusters = Clusters.of(np.zeros(len(y)), days)
    correct = ((p > 0.5) == y).astype(float)
    leave_one_out = np.array([correct[days != d].mean() for d in range(g)])
    se = np.sqrt((g - 1) / g * np.sum((leave_one_out - leave_one_out.mean()) ** 2))
    ups, downs = np.bincount(days, y == 1), np.bincount(days, y == 0)
    shares = (ups / ups.sum()) ** 2 + (downs / downs.sum()) ** 2
    dof = shares.sum() ** 2 / np.sum(shares ** 2) - 1
    assert g - 1.5 < dof < g - 1  # nearly alike
    half = stats.t.ppf(0.975, dof) * se
    assert session_intervals(y, p, clusters)["accuracy"] == pytest.approx((correct.mean() - half,
                                                                          correct.mean() + half))
    # a dominant date: fewer degrees of freedom, a wider interval from the same standard error
    lopsided = np.array([9.0, *[1.0] * (g - 1)])
    assert interval_dof(lopsided, lopsided) < 3 and interval_dof(np.ones(g), np.ones(g)) == pytest.approx(g - 1)


def test_horizon_h_labels_make_blocks_of_h_dates_the_units():
    """A perfect model on 60 dates of horizon-5 labels is 12 blocks: p = 2^-12, not 2^-40; the
    interval is a jackknife over blocks, and below 10 blocks (50 dates) there is no verdict."""
    days = np.repeat(np.arange(60), 10)
    y = np.tile([1, 0], 300)
    perfect = np.where(y == 1, 0.9, 0.1)
    clusters = Clusters.of(np.zeros(len(y)), days, horizon=5)
    assert clusters.n_blocks == 12 and clusters.has_verdict and clusters.counts()["n_blocks"] == 12
    assert balanced_accuracy_test(y, perfect, clusters)[1] == 2.0 ** -12
    assert not Clusters.of(np.zeros(490), np.repeat(np.arange(49), 10), horizon=5).has_verdict
    rng = np.random.default_rng(8)
    p = rng.random(len(y))
    by_date, by_block = (session_intervals(y, p, Clusters.of(np.zeros(len(y)), days, h)) for h in (1, 5))
    assert by_date.keys() == by_block.keys() and by_date["accuracy"] != by_block["accuracy"]
    from finsent.ml.overlap import jackknife_se
    blocks = days // 5
    loo = np.array([((p > 0.5) == y)[blocks != b].mean() for b in range(12)])
    accuracy = ((p > 0.5) == y).mean()
    half = by_block["accuracy"][1] - accuracy
    ups, downs = np.bincount(blocks, y == 1), np.bincount(blocks, y == 0)
    assert half == pytest.approx(stats.t.ppf(0.975, interval_dof(ups, downs)) * jackknife_se(loo, 5))


def test_weighted_metrics_equal_repeated_posts():
    rng = np.random.default_rng(3)
    y, p = rng.integers(0, 2, 200), rng.random(200)
    weights = rng.integers(0, 3, 200)
    repeated = np.repeat(np.arange(200), weights)
    weighted = classification_metrics(y, p, weights.astype(float))
    plain = classification_metrics(y[repeated], p[repeated])
    for name, value in plain.items():
        assert abs(weighted[name] - value) < 1e-9, name


def test_information_coefficient_per_date_and_pooled():
    rng = np.random.default_rng(5)
    rows = []
    for day in pd.bdate_range("2025-01-02", periods=60):
        market = rng.normal()
        for ticker in ("A", "B", "C", "D", "E"):
            ret = 0.01 * (market + rng.normal())
            for _ in range(5):
                rows.append((ticker, day.date(), 0.5 + 10 * ret + 0.05 * rng.normal(), ret))
    frame = pd.DataFrame(rows, columns=["ticker", "session_date", "p_up", "ret"])
    per_date = information_coefficient(frame)
    assert per_date["ic_per_date"] == 1.0 and per_date["ic_sessions"] == 60
    assert per_date["ic"] > 0.5 and per_date["ic_t"] > 5 and per_date["ic_p"] < 0.001
    # two stocks: no cross-section, so a time-series timing correlation, never called an IC
    pooled = information_coefficient(frame[frame["ticker"].isin(["A", "B"])])
    assert pooled["ic_per_date"] == 0.0 and "ic" not in pooled and "ic_t" not in pooled
    assert pooled["timing_corr"] > 0.5 and pooled["timing_corr_t"] > 5 and pooled["timing_corr_p"] < 0.001
    blind = frame.assign(p_up=rng.random(len(frame)))
    assert abs(information_coefficient(blind)["ic_t"]) < 3 and information_coefficient(blind)["ic_p"] > 0.01
    # below the minimum number of dates: an estimate, but no t and no p
    few = information_coefficient(frame[frame["session_date"] < frame["session_date"].unique()[5]])
    assert "ic" in few and "ic_t" not in few and "ic_p" not in few


def test_per_date_ic_is_spearman_across_stocks_on_each_date_ties_included():
    from finsent.ml.stats import per_date_ic

    rng = np.random.default_rng(7)
    rows = [(f"T{t}", day, float(rng.choice([0.4, 0.5, rng.random()])), float(rng.choice([0.0, rng.normal()])))
            for day in range(60) for t in range(int(rng.integers(1, 7)))]
    index = pd.DataFrame(rows, columns=["ticker", "session_date", "mean_p_up", "ret"])
    expected = [(day, stats.spearmanr(part["mean_p_up"], part["ret"]).statistic)
                for day, part in index.groupby("session_date")
                if len(part) >= 3 and part["mean_p_up"].nunique() > 1 and part["ret"].nunique() > 1]
    got = per_date_ic(index)
    assert list(got["session_date"]) == [d for d, _ in expected]
    assert got["ic"].to_numpy() == pytest.approx([v for _, v in expected])
