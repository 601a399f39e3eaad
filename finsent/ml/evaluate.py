"""Honest evaluation on a snapshot's test part: metrics with intervals, tests, baselines, plots.

Everything a reviewer asks for: accuracy, balanced accuracy, macro-F1, MCC, ROC-AUC, Brier and
log-loss with 95% bootstrap intervals; a one-sided binomial test of accuracy against 50% and
against always answering the training majority; the same table for the ``majority``,
``previous_session`` (yesterday's direction) and TF-IDF ``baseline`` models; a per-ticker table;
confusion-matrix and calibration plots; and the finance view: per (ticker, session) mean P(up)
of the posts before it, its Spearman information coefficient (IC) with the session's return,
the IC's t-statistic, and a plot of the index against the price.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

BOOTSTRAP_SAMPLES = 1000
_EPS = 1e-12


# --- metrics ------------------------------------------------------------------------------------


def _confusion(y: np.ndarray, pred: np.ndarray) -> tuple[int, int, int, int]:
    tp = int(np.sum((pred == 1) & (y == 1)))
    tn = int(np.sum((pred == 0) & (y == 0)))
    fp = int(np.sum((pred == 1) & (y == 0)))
    fn = int(np.sum((pred == 0) & (y == 1)))
    return tp, tn, fp, fn


def _auc(y: np.ndarray, p: np.ndarray) -> float:
    """ROC-AUC by the rank-sum (Mann-Whitney) formula, ties averaged; NaN with one class."""
    positives = int(y.sum())
    negatives = len(y) - positives
    if positives == 0 or negatives == 0:
        return float("nan")
    ranks = stats.rankdata(p)
    return float((ranks[y == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def classification_metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """y in {0, 1} (1 = up), p = P(up). Predictions are p > 0.5."""
    y = np.asarray(y, dtype=np.int64)
    p = np.clip(np.asarray(p, dtype=np.float64), 0.0, 1.0)
    pred = (p > 0.5).astype(np.int64)
    tp, tn, fp, fn = _confusion(y, pred)
    n = len(y)
    recall_up = tp / (tp + fn) if tp + fn else float("nan")
    recall_down = tn / (tn + fp) if tn + fp else float("nan")
    f1_up = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0
    f1_down = 2 * tn / (2 * tn + fn + fp) if tn + fn + fp else 0.0
    denominator = math.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    clipped = np.clip(p, _EPS, 1 - _EPS)
    return {
        "accuracy": (tp + tn) / n,
        "balanced_accuracy": float(np.nanmean([recall_up, recall_down])),
        "macro_f1": (f1_up + f1_down) / 2,
        "mcc": (tp * tn - fp * fn) / denominator if denominator else 0.0,
        "roc_auc": _auc(y, p),
        "brier": float(np.mean((p - y) ** 2)),
        "log_loss": float(-np.mean(y * np.log(clipped) + (1 - y) * np.log(1 - clipped))),
    }


def bootstrap_intervals(y: np.ndarray, p: np.ndarray, samples: int = BOOTSTRAP_SAMPLES,
                        seed: int = 0) -> dict[str, tuple[float, float]]:
    """95% percentile intervals over resampled test posts."""
    rng = np.random.default_rng(seed)
    draws: dict[str, list[float]] = {}
    for _ in range(samples):
        index = rng.integers(0, len(y), len(y))
        for name, value in classification_metrics(y[index], p[index]).items():
            draws.setdefault(name, []).append(value)
    return {name: (float(np.nanpercentile(v, 2.5)), float(np.nanpercentile(v, 97.5))) for name, v in draws.items()}


def binomial_tests(y: np.ndarray, p: np.ndarray, majority_rate: float) -> dict[str, float]:
    """One-sided: is accuracy above 50%, and above always answering the training majority?"""
    correct = int(np.sum((p > 0.5).astype(np.int64) == y))
    return {
        "p_value_vs_half": float(stats.binomtest(correct, len(y), 0.5, alternative="greater").pvalue),
        "p_value_vs_majority": float(stats.binomtest(correct, len(y), min(max(majority_rate, _EPS), 1 - _EPS),
                                                     alternative="greater").pvalue),
    }


def mcnemar_p(correct_new: np.ndarray, correct_old: np.ndarray) -> float:
    """Exact two-sided McNemar test on the posts where the two models disagree."""
    better = int(np.sum(correct_new & ~correct_old))
    worse = int(np.sum(~correct_new & correct_old))
    if better + worse == 0:
        return 1.0
    return float(stats.binomtest(better, better + worse, 0.5, alternative="two-sided").pvalue)


# --- the finance view ----------------------------------------------------------------------------------


def information_coefficient(frame: pd.DataFrame) -> dict[str, float]:
    """frame: one row per post with ticker, session_date, p_up, ret (the session's return).

    Index = mean P(up) of the posts before each (ticker, session). Pooled IC: Spearman over all
    (ticker, session) pairs, t = r sqrt((n-2)/(1-r^2)). Daily IC: Spearman across tickers per
    session (sessions with at least 3 tickers), t = mean / (sd / sqrt(sessions)).
    """
    index = frame.groupby(["ticker", "session_date"]).agg(mean_p_up=("p_up", "mean"), ret=("ret", "first"),
                                                          n_posts=("p_up", "size")).reset_index()
    result = {"ic_pairs": float(len(index))}
    if len(index) >= 3 and index["mean_p_up"].nunique() > 1 and index["ret"].nunique() > 1:
        r = float(stats.spearmanr(index["mean_p_up"], index["ret"]).statistic)
        result["ic"] = r
        result["ic_t"] = r * math.sqrt((len(index) - 2) / max(_EPS, 1 - r * r))
    daily = []
    for _, day in index.groupby("session_date"):
        if len(day) >= 3 and day["mean_p_up"].nunique() > 1 and day["ret"].nunique() > 1:
            daily.append(float(stats.spearmanr(day["mean_p_up"], day["ret"]).statistic))
    if len(daily) >= 2:
        result["daily_ic_mean"] = float(np.mean(daily))
        result["daily_ic_t"] = float(np.mean(daily) / (np.std(daily, ddof=1) / math.sqrt(len(daily)) + _EPS))
        result["daily_ic_sessions"] = float(len(daily))
    return result


# --- the report --------------------------------------------------------------------------------


@dataclass
class EvaluationReport:
    model: str
    n_test: int
    metrics: dict[str, float]
    intervals: dict[str, tuple[float, float]]
    tests: dict[str, float]
    baselines: dict[str, dict[str, float]] = field(default_factory=dict)
    per_ticker: list[dict] = field(default_factory=list)
    finance: dict[str, float] = field(default_factory=dict)
    plots: list[Path] = field(default_factory=list)

    def flat_metrics(self, prefix: str = "test_") -> dict[str, float]:
        """MLflow metrics: test_accuracy, test_accuracy_ci_low, ..., baseline_majority_test_accuracy."""
        out: dict[str, float] = {}
        for name, value in self.metrics.items():
            out[f"{prefix}{name}"] = value
            low, high = self.intervals.get(name, (float("nan"), float("nan")))
            out[f"{prefix}{name}_ci_low"], out[f"{prefix}{name}_ci_high"] = low, high
        out.update({f"{prefix}{k}": v for k, v in self.tests.items()})
        out.update({f"{prefix}{k}": v for k, v in self.finance.items()})
        for baseline, metrics in self.baselines.items():
            out.update({f"baseline_{baseline}_{prefix}{k}": v for k, v in metrics.items()})
        return {k: float(v) for k, v in out.items() if v is not None and not (isinstance(v, float) and math.isnan(v))}

    def to_markdown(self) -> str:
        rows = [("this model", self.metrics)] + [(name, m) for name, m in self.baselines.items()]
        names = ["accuracy", "balanced_accuracy", "macro_f1", "mcc", "roc_auc", "brier", "log_loss"]
        lines = [f"# Evaluation of {self.model} on {self.n_test} test posts", "",
                 "| model | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
        for label, metrics in rows:
            lines.append(f"| {label} | " + " | ".join(f"{metrics.get(n, float('nan')):.4f}" for n in names) + " |")
        lines += ["", "95% bootstrap intervals (this model): " + ", ".join(
            f"{n} [{lo:.4f}, {hi:.4f}]" for n, (lo, hi) in self.intervals.items() if n in names[:5]), "",
            f"binomial test, accuracy > 50%: p = {self.tests['p_value_vs_half']:.3g}; "
            f"> majority: p = {self.tests['p_value_vs_majority']:.3g}", "",
            "| ticker | n | accuracy | mcc |", "|---|---:|---:|---:|"]
        lines += [f"| {r['ticker']} | {r['n']} | {r['accuracy']:.4f} | {r['mcc']:.4f} |" for r in self.per_ticker]
        lines += ["", "finance view: " + ", ".join(f"{k} = {v:.4g}" for k, v in self.finance.items())]
        return "\n".join(lines) + "\n"

    def to_json(self) -> str:
        payload = {k: v for k, v in self.__dict__.items() if k != "plots"}
        return json.dumps(payload, ensure_ascii=False, indent=2, default=str)


def evaluate_predictions(model: str, test: pd.DataFrame, p_up: np.ndarray, train_up_share: float,
                         baselines: dict[str, np.ndarray], plot_dir: Path | None = None,
                         seed: int = 0) -> EvaluationReport:
    """test: ticker, session_date, label ('up'/'down'), ret per post; p_up: this model's P(up)."""
    y = (test["label"].to_numpy() == "up").astype(np.int64)
    p_up = np.asarray(p_up, dtype=np.float64)
    majority_is_up = train_up_share >= 0.5
    majority_rate = float(np.mean(y == (1 if majority_is_up else 0)))
    report = EvaluationReport(model=model, n_test=len(y), metrics=classification_metrics(y, p_up),
                              intervals=bootstrap_intervals(y, p_up, seed=seed),
                              tests=binomial_tests(y, p_up, majority_rate))
    for name, p in baselines.items():
        report.baselines[name] = {**classification_metrics(y, p), **binomial_tests(y, p, majority_rate)}
    for ticker, part in test.assign(_p=p_up, _y=y).groupby("ticker"):
        m = classification_metrics(part["_y"].to_numpy(), part["_p"].to_numpy())
        report.per_ticker.append({"ticker": ticker, "n": len(part), "accuracy": m["accuracy"], "mcc": m["mcc"]})
    frame = test.assign(p_up=p_up)
    report.finance = information_coefficient(frame)
    if plot_dir is not None:
        from finsent.ml.plots import calibration_plot, confusion_plot, index_plot

        plot_dir.mkdir(parents=True, exist_ok=True)
        report.plots = [confusion_plot(y, p_up, plot_dir / "confusion_matrix.png"),
                        calibration_plot(y, p_up, plot_dir / "calibration.png"),
                        index_plot(frame, plot_dir / "sentiment_index.png")]
    return report
