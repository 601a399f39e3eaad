"""Metrics and tests against values computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from finsent.ml.evaluate import (
    binomial_tests,
    classification_metrics,
    evaluate_predictions,
    information_coefficient,
    mcnemar_p,
)


def test_metrics_match_hand_computed_values():
    y = np.array([1, 1, 1, 0, 0, 0, 1, 0])
    p = np.array([0.9, 0.8, 0.3, 0.2, 0.6, 0.1, 0.7, 0.4])
    # predictions 1,1,0,0,1,0,1,0 -> tp=3, fn=1, tn=3, fp=1
    m = classification_metrics(y, p)
    assert m["accuracy"] == pytest.approx(6 / 8)
    assert m["balanced_accuracy"] == pytest.approx(0.75)
    assert m["macro_f1"] == pytest.approx(0.75)
    assert m["mcc"] == pytest.approx((3 * 3 - 1 * 1) / math.sqrt(4 * 4 * 4 * 4))
    # AUC: the share of (up, down) pairs where the up post scores higher
    pairs = sum((pu > pd_) + 0.5 * (pu == pd_) for pu in p[y == 1] for pd_ in p[y == 0])
    assert m["roc_auc"] == pytest.approx(pairs / 16)
    assert m["brier"] == pytest.approx(np.mean((p - y) ** 2))
    assert m["log_loss"] == pytest.approx(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def test_binomial_and_mcnemar_tests():
    y = np.ones(20, dtype=int)
    p = np.r_[np.full(15, 0.9), np.full(5, 0.1)]  # 15 of 20 right
    tests = binomial_tests(y, p, majority_rate=0.5)
    assert tests["p_value_vs_half"] == pytest.approx(sum(math.comb(20, k) for k in range(15, 21)) / 2**20)
    assert binomial_tests(y, p, majority_rate=1.0)["p_value_vs_majority"] > 0.99  # always-up is better
    new = np.array([True] * 10 + [False] * 2)
    old = np.array([False] * 10 + [True] * 2)
    assert mcnemar_p(new, old) == pytest.approx(2 * sum(math.comb(12, k) for k in range(0, 3)) / 2**12)
    assert mcnemar_p(new, new) == 1.0


def test_information_coefficient_and_report():
    frame = pd.DataFrame({"ticker": ["A"] * 4 + ["B"] * 4, "session_date": [1, 2, 3, 4] * 2,
                          "p_up": [0.1, 0.3, 0.6, 0.9, 0.2, 0.4, 0.55, 0.8],
                          "ret": [-0.03, -0.01, 0.01, 0.03, -0.02, -0.005, 0.005, 0.02]})
    ic = information_coefficient(frame)
    assert ic["ic"] == pytest.approx(1.0) and ic["ic_pairs"] == 8
    report = evaluate_predictions("m", frame.assign(label=np.where(frame["ret"] > 0, "up", "down")),
                                  frame["p_up"].to_numpy(), 0.5, {"majority": np.ones(8)})
    flat = report.flat_metrics()
    assert flat["test_accuracy"] == pytest.approx(1.0) and "baseline_majority_test_accuracy" in flat
    assert flat["test_accuracy_ci_low"] <= flat["test_accuracy"] <= flat["test_accuracy_ci_high"]
    assert "| A | 4 |" in report.to_markdown()
