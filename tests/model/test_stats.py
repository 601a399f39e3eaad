"""The clustered statistics hold their level on simulated no-skill predictions with session-shared
labels, where post-level statistics do not."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from finsent.ml.metrics import classification_metrics
from finsent.ml.stats import (
    Clusters,
    balanced_accuracy_test,
    cluster_mean_test,
    information_coefficient,
    paired_test,
    session_bootstrap,
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


def test_no_skill_rejects_at_most_seven_percent_and_intervals_cover():
    rejected_accuracy = rejected_balanced = naive_rejected = covered = 0
    for draw in range(DRAWS):
        frame, clusters = no_skill_board(np.random.default_rng(draw))
        y, p = frame["y"].to_numpy(), frame["p"].to_numpy()
        correct = ((p > 0.5) == y).astype(float)
        rejected_accuracy += cluster_mean_test(correct, clusters, 0.5)[1] < 0.05
        rejected_balanced += balanced_accuracy_test(y, p, clusters)[1] < 0.05
        naive_rejected += stats.binomtest(int(correct.sum()), len(correct), 0.5, alternative="greater").pvalue < 0.05
        low, high = session_bootstrap(y, p, clusters, samples=300, seed=draw)["accuracy"]
        covered += low <= 0.5 <= high  # the predictions are symmetric and blind: expected accuracy 0.5
    assert rejected_accuracy / DRAWS <= 0.07, rejected_accuracy
    assert rejected_balanced / DRAWS <= 0.07, rejected_balanced
    assert covered / DRAWS >= 0.90, covered
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
    low, _ = session_bootstrap(y, p.to_numpy(), clusters, samples=300)["accuracy"]
    assert low > 0.5


def test_one_session_is_one_observation():
    y = np.array([1] * 50 + [0] * 50)
    p = np.where(y == 1, 0.9, 0.1)  # perfect, but on one date only
    clusters = Clusters.of(["005930"] * 50 + ["000660"] * 50, ["2025-03-04"] * 100)
    assert clusters.counts() == {"n_posts": 100.0, "n_clusters": 2.0, "n_sessions": 1.0}
    assert balanced_accuracy_test(y, p, clusters)[1] == 1.0
    assert cluster_mean_test((p > 0.5) == y, clusters, 0.5)[1] == 1.0
    assert session_bootstrap(y, p, clusters) == {}


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
    assert per_date["ic"] > 0.5 and per_date["ic_t"] > 5
    pooled = information_coefficient(frame[frame["ticker"].isin(["A", "B"])])
    assert pooled["ic_per_date"] == 0.0 and pooled["ic"] > 0.5 and pooled["ic_t"] > 5
    blind = frame.assign(p_up=rng.random(len(frame)))
    assert abs(information_coefficient(blind)["ic_t"]) < 3
