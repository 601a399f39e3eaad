"""Classification metrics of P(up) against up/down labels, with optional per-post weights.

Weights are how the session bootstrap (``finsent.ml.stats``) resamples: a post whose session date
is drawn twice counts twice. Unweighted calls are the plain metrics. A metric that needs both
classes (balanced accuracy, macro F1, MCC, ROC-AUC) is undefined (NaN) on labels of one class only,
and ``shown`` writes NaN as "undefined", never as a number.
"""

from __future__ import annotations

import math

import numpy as np

_EPS = 1e-12
CALIBRATION_BINS = 10
METRIC_NAMES = ("accuracy", "balanced_accuracy", "macro_f1", "mcc", "roc_auc", "brier", "log_loss", "ece")


def _auc(y: np.ndarray, p: np.ndarray, w: np.ndarray) -> float:
    """ROC-AUC by the rank-sum formula with ties averaged; NaN with one class."""
    values, where = np.unique(p, return_inverse=True)
    positives = np.bincount(where, weights=w * (y == 1), minlength=len(values))
    negatives = np.bincount(where, weights=w * (y == 0), minlength=len(values))
    total_pos, total_neg = positives.sum(), negatives.sum()
    if total_pos <= 0 or total_neg <= 0:
        return float("nan")
    below = np.cumsum(negatives) - negatives
    return float((positives * (below + 0.5 * negatives)).sum() / (total_pos * total_neg))


def expected_calibration_error(y: np.ndarray, p: np.ndarray, w: np.ndarray | None = None,
                               bins: int = CALIBRATION_BINS) -> float:
    """Share-weighted mean |observed share up - mean P(up)| over equal-width bins of P(up)."""
    w = np.ones(len(y)) if w is None else w
    which = np.clip((p * bins).astype(np.int64), 0, bins - 1)
    weight = np.bincount(which, weights=w, minlength=bins)
    observed = np.bincount(which, weights=w * y, minlength=bins)
    predicted = np.bincount(which, weights=w * p, minlength=bins)
    used = weight > 0
    total = weight.sum()
    if total <= 0:
        return float("nan")
    return float(np.sum(np.abs(observed[used] - predicted[used])) / total)


def shown(value: float | None, digits: int = 3) -> str:
    """A number as reports and pages write it: "undefined" where it has no value (NaN, None)."""
    if value is None or not math.isfinite(value):
        return "undefined"
    return f"{value:.{digits}f}"


def classification_metrics(y: np.ndarray, p: np.ndarray, w: np.ndarray | None = None) -> dict[str, float]:
    """y in {0, 1} (1 = up), p = P(up), w = per-post weights (default 1). Predictions are p > 0.5."""
    y = np.asarray(y, dtype=np.int64)
    p = np.clip(np.asarray(p, dtype=np.float64), 0.0, 1.0)
    w = np.ones(len(y)) if w is None else np.asarray(w, dtype=np.float64)
    pred = p > 0.5
    up, down = y == 1, y == 0
    tp, tn = float(w[pred & up].sum()), float(w[~pred & down].sum())
    fp, fn = float(w[pred & down].sum()), float(w[~pred & up].sum())
    n = tp + tn + fp + fn
    recall_up = tp / (tp + fn) if tp + fn else float("nan")
    recall_down = tn / (tn + fp) if tn + fp else float("nan")
    f1_up = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0
    f1_down = 2 * tn / (2 * tn + fn + fp) if tn + fn + fp else 0.0
    denominator = math.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    clipped = np.clip(p, _EPS, 1 - _EPS)
    nan = float("nan")
    both = tp + fn > 0 and tn + fp > 0  # both classes among the labels: else the balanced metrics are undefined
    log_likelihood = float(np.sum(w * (y * np.log(clipped) + (1 - y) * np.log(1 - clipped))))
    return {
        "accuracy": (tp + tn) / n if n else nan,
        "balanced_accuracy": (recall_up + recall_down) / 2 if both else nan,
        "macro_f1": (f1_up + f1_down) / 2 if both else nan,
        # both classes, one predicted: 0 by the usual convention (no correlation can be measured)
        "mcc": ((tp * tn - fp * fn) / denominator if denominator else 0.0) if both else nan,
        "roc_auc": _auc(y, p, w),
        "brier": float(np.sum(w * (p - y) ** 2) / n) if n else nan,
        "log_loss": -log_likelihood / n if n else nan,
        "ece": expected_calibration_error(y, p, w),
    }
