"""Metrics and tests against values computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from finsent.ml.evaluate import evaluate_predictions
from finsent.ml.metrics import classification_metrics, expected_calibration_error
from finsent.ml.stats import information_coefficient


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


def test_expected_calibration_error_by_hand():
    # bins [0.1, 0.2): p 0.15 x2, one up -> |0.5 - 0.15|; bin [0.8, 0.9): p 0.85 x2, both up -> |1 - 0.85|
    y = np.array([1, 0, 1, 1])
    p = np.array([0.15, 0.15, 0.85, 0.85])
    assert expected_calibration_error(y, p) == pytest.approx((2 * 0.35 + 2 * 0.15) / 4)


def test_information_coefficient_and_report():
    frame = pd.DataFrame({"ticker": ["A"] * 4 + ["B"] * 4, "session_date": [1, 2, 3, 4] * 2,
                          "p_up": [0.1, 0.3, 0.6, 0.9, 0.2, 0.4, 0.55, 0.8],
                          "ret": [-0.03, -0.01, 0.01, 0.03, -0.02, -0.005, 0.005, 0.02]})
    ic = information_coefficient(frame)  # two stocks: the pooled timing correlation, not an IC
    assert ic["timing_corr"] == pytest.approx(1.0) and ic["ic_pairs"] == 8 and ic["ic_per_date"] == 0.0
    assert "ic" not in ic and "timing_corr_p" not in ic  # 4 dates: an estimate, no test
    report = evaluate_predictions("m", frame.assign(label=np.where(frame["ret"] > 0, "up", "down")),
                                  frame["p_up"].to_numpy(), 0.5, {"majority": np.ones(8)})
    flat = report.flat_metrics()
    assert flat["test_accuracy"] == pytest.approx(1.0) and "baseline_majority_test_accuracy" in flat
    assert (flat["test_n_posts"], flat["test_n_clusters"], flat["test_n_sessions"]) == (8, 8, 4)
    assert "test_ece" in flat and "test_timing_corr" in flat and "test_ic" not in flat
    # perfect on 4 dates is still only 4 observations: no p-value, no interval, no verdict
    assert flat["test_has_verdict"] == 0.0 and not report.shows_skill
    assert not [k for k in flat if "p_value" in k or k.endswith(("_ci_low", "_ci_high"))]
    assert report.tests["p_value_balanced_accuracy"] == 1.0  # what promotion reads: 1 by rule
    markdown = report.to_markdown()
    assert "| A | 4 | 4 |" in markdown and "8 posts" in markdown and "4 session dates" in markdown
    assert "too few sessions for a verdict (n = 4)" in markdown and "Timing correlation" in markdown


def test_per_ticker_p_values_are_holm_adjusted_and_short_tickers_say_so():
    rng = np.random.default_rng(0)
    days = [d.date() for d in pd.bdate_range("2025-01-02", periods=30)]
    rows = [(t, d, label) for t in ("A", "B", "C") for d in (days if t != "C" else days[:5]) for label in (0, 1)
            for _ in range(3)]
    frame = pd.DataFrame(rows, columns=["ticker", "session_date", "y"])
    frame["label"] = np.where(frame["y"] == 1, "up", "down")
    frame["ret"] = np.where(frame["y"] == 1, 0.01, -0.01)
    p = np.where(rng.random(len(frame)) < 0.7, frame["y"], 1 - frame["y"]) * 0.8 + 0.1
    report = evaluate_predictions("m", frame, p, 0.5, {})
    rows = {r["ticker"]: r for r in report.per_ticker}
    raw = sorted(rows[t]["p_value_balanced_accuracy"] for t in "AB")
    assert sorted(rows[t]["p_value_balanced_accuracy_holm"] for t in "AB") == pytest.approx(
        [min(1, 2 * raw[0]), min(1, max(2 * raw[0], raw[1]))])
    assert not rows["C"]["has_verdict"] and math.isnan(rows["C"]["p_value_balanced_accuracy"])
    markdown = report.to_markdown()
    assert "p (skill, Holm across tickers)" in markdown
    assert "| C | 30 | 5 | " in markdown and "too few sessions | " in markdown


def test_platt_calibration_is_fitted_on_valid_and_saved_with_the_model(tmp_path):
    from finsent.ml.calibration import fit_platt
    from finsent.ml.models import load_classifier
    from finsent.ml.models.baseline import BaselineClassifier
    from finsent.ml.models.calibrated import CalibratedClassifier

    rng = np.random.default_rng(0)
    words = np.array(["가즈아", "떡상", "손절", "떡락", "오늘", "종목"])
    y = rng.integers(0, 2, 600)
    # a word that agrees with the label 70% of the time: raw scores are overconfident on train-like text
    titles = [f"{words[(label if rng.random() < 0.7 else 1 - label) * 2]} {rng.choice(words[4:])}" for label in y]
    model = BaselineClassifier()
    model.fit(titles[:400], y[:400])
    raw_valid = model.predict_proba(titles[400:500])
    calibration = fit_platt(raw_valid, y[400:500])
    assert calibration is not None and calibration.n_valid == 100
    assert fit_platt(raw_valid, np.ones(100)) is None  # one class: nothing to fit, P(up) stays raw
    calibrated = CalibratedClassifier(model, calibration)
    calibrated.save(tmp_path / "m")
    loaded = load_classifier(tmp_path / "m")
    test = titles[500:]
    assert np.allclose(loaded.predict_proba(test), calibration.apply(model.predict_proba(test)))


def test_platt_calibration_repairs_overconfident_scores():
    from finsent.ml.calibration import fit_platt

    rng = np.random.default_rng(1)
    z = rng.normal(size=6000)
    y = (rng.random(6000) < 1 / (1 + np.exp(-z))).astype(int)
    raw = 1 / (1 + np.exp(-3 * z))  # three times too sure of itself
    calibration = fit_platt(raw[:3000], y[:3000])
    assert abs(calibration.slope - 1 / 3) < 0.05
    assert expected_calibration_error(y[3000:], raw[3000:]) > 0.1
    assert expected_calibration_error(y[3000:], calibration.apply(raw[3000:])) < 0.03


def test_metrics_that_need_both_classes_are_undefined_on_one_class_and_written_so():
    from finsent.ml.metrics import shown
    from finsent.ml.stats import balanced_accuracy_from_counts
    from finsent.web.overview import Skill, skill_text

    y = np.ones(12, dtype=int)  # a test part of one class (every label up)
    m = classification_metrics(y, np.full(12, 0.3))  # every prediction wrong: it was printed as 0.000
    assert m["accuracy"] == 0.0 and all(math.isnan(m[k]) for k in ("balanced_accuracy", "macro_f1", "mcc", "roc_auc"))
    assert shown(m["balanced_accuracy"]) == "undefined" and shown(m["accuracy"]) == "0.000"
    assert shown(None) == "undefined"
    value, low, high = balanced_accuracy_from_counts(np.array([0, 0]), np.array([6, 6]), np.array([0, 0]),
                                                     np.array([0, 0]))
    assert math.isnan(value) and math.isnan(low) and math.isnan(high)
    assert skill_text(Skill(value, low, high, 2, 12)).startswith("undefined")
    frame = pd.DataFrame({"ticker": "A", "session_date": [d.date() for d in pd.bdate_range("2025-01-02", periods=12)],
                          "label": "up", "ret": 0.01})
    markdown = evaluate_predictions("m", frame, np.full(12, 0.3), 0.5, {}).to_markdown()
    assert "| this model | 0.0000 | undefined | undefined | undefined | undefined |" in markdown
    assert "nan" not in markdown
