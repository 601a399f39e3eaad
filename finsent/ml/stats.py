"""Statistics that say only what the data can carry: everything is clustered by session date.

Every post of one (ticker, session) shares its label, and stocks move together on a date, so the
independent observations are session dates, not posts: 4,000 test posts over 21 (ticker, session)
pairs on 8 dates are 8 observations. Hence:

- intervals resample whole session dates (a block bootstrap: every post of every stock on a
  drawn date comes along) and are 95% percentile intervals;
- tests aggregate to sums per date and use delete-one-date jackknife standard errors against a
  t distribution with G - 1 degrees of freedom (G = dates), one-sided;
- the information coefficient is a per-date cross-sectional Spearman IC with a Newey-West t
  (with fewer than 3 stocks: the pooled IC with errors that are HAC over dates).

Every number is reported with ``n_posts``, ``n_clusters`` ((ticker, session) pairs) and
``n_sessions`` (dates, the G above).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from finsent.ml.metrics import classification_metrics

BOOTSTRAP_SAMPLES = 1000
MIN_STOCKS_PER_DATE = 3  # a cross-sectional rank correlation needs at least three stocks


@dataclass(frozen=True)
class Clusters:
    """Which session date (cluster) each post belongs to, and how many independent units there are."""

    index: np.ndarray  # per post: 0 .. n_sessions - 1
    n_posts: int
    n_clusters: int  # distinct (ticker, session) pairs
    n_sessions: int  # distinct session dates: the clusters of every test

    @classmethod
    def of(cls, tickers: Sequence, sessions: Sequence) -> Clusters:
        sessions = np.asarray(sessions)
        _, index = np.unique(sessions, return_inverse=True)
        pairs = len(set(zip(np.asarray(tickers).tolist(), sessions.tolist())))
        return cls(index=index, n_posts=len(index), n_clusters=pairs,
                   n_sessions=int(index.max()) + 1 if len(index) else 0)

    def counts(self) -> dict[str, float]:
        return {"n_posts": float(self.n_posts), "n_clusters": float(self.n_clusters),
                "n_sessions": float(self.n_sessions)}


def session_bootstrap(y: np.ndarray, p: np.ndarray, clusters: Clusters, samples: int = BOOTSTRAP_SAMPLES,
                      seed: int = 0) -> dict[str, tuple[float, float]]:
    """95% percentile intervals of every metric, resampling whole session dates."""
    if clusters.n_sessions < 2:
        return {}
    rng = np.random.default_rng(seed)
    draws: dict[str, list[float]] = {}
    for _ in range(samples):
        multiplicity = np.bincount(rng.integers(0, clusters.n_sessions, clusters.n_sessions),
                                   minlength=clusters.n_sessions)
        weights = multiplicity[clusters.index].astype(np.float64)
        for name, value in classification_metrics(y, p, weights).items():
            draws.setdefault(name, []).append(value)
    return {name: (float(np.nanpercentile(v, 2.5)), float(np.nanpercentile(v, 97.5))) for name, v in draws.items()}


def _one_sided_p(estimate: float, variance: float, g: int) -> float:
    if g < 2:
        return 1.0  # one date is one observation: nothing can be told apart from chance
    if not variance > 0:
        return 0.0 if estimate > 0 else 1.0
    return float(stats.t.sf(estimate / math.sqrt(variance), df=g - 1))


def _jackknife_variance(leave_one_out: np.ndarray) -> float:
    """Delete-one-date jackknife (CR3-like: a little conservative with few dates, as it should be)."""
    g = len(leave_one_out)
    finite = leave_one_out[np.isfinite(leave_one_out)]
    if g < 2 or len(finite) < 2:
        return float("nan")
    return (g - 1) / g * float(np.sum((finite - finite.mean()) ** 2))


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1), np.nan)


def cluster_mean_test(values: np.ndarray, clusters: Clusters, null: float = 0.0) -> tuple[float, float]:
    """(mean of ``values`` over posts, one-sided p that the mean exceeds ``null``), jackknifed by date."""
    values = np.asarray(values, dtype=np.float64)
    g = clusters.n_sessions
    if len(values) == 0:
        return float("nan"), 1.0
    sums = np.bincount(clusters.index, weights=values, minlength=g)
    sizes = np.bincount(clusters.index, minlength=g).astype(np.float64)
    mean = float(sums.sum() / sizes.sum())
    variance = _jackknife_variance(_ratio(sums.sum() - sums, sizes.sum() - sizes))
    return mean, _one_sided_p(mean - null, variance, g)


def paired_test(correct_a: np.ndarray, correct_b: np.ndarray, clusters: Clusters) -> tuple[float, float]:
    """(accuracy of a minus accuracy of b, one-sided p that a is more accurate), clustered by date."""
    return cluster_mean_test(np.asarray(correct_a, float) - np.asarray(correct_b, float), clusters, 0.0)


def balanced_accuracy_test(y: np.ndarray, p: np.ndarray, clusters: Clusters) -> tuple[float, float]:
    """(balanced accuracy, one-sided p that it exceeds 0.5), jackknifed by date.

    Balanced accuracy - 0.5 = (TPR - FPR) / 2, which is 0 for any rule that ignores the title (always
    up, yesterday's trend of the market, a coin): a test of skill that the base rate cannot pass.
    """
    y = np.asarray(y, dtype=np.int64)
    pred = np.asarray(p, dtype=np.float64) > 0.5
    g = clusters.n_sessions

    def per_date(mask: np.ndarray) -> np.ndarray:
        return np.bincount(clusters.index, weights=mask.astype(np.float64), minlength=g)

    hits, ups = per_date(pred & (y == 1)), per_date(y == 1)
    false_alarms, downs = per_date(pred & (y == 0)), per_date(y == 0)
    if ups.sum() == 0 or downs.sum() == 0:
        return float("nan"), 1.0
    spread = hits.sum() / ups.sum() - false_alarms.sum() / downs.sum()  # TPR - FPR
    leave_one_out = (_ratio(hits.sum() - hits, ups.sum() - ups)
                     - _ratio(false_alarms.sum() - false_alarms, downs.sum() - downs))
    return 0.5 + spread / 2, _one_sided_p(spread, _jackknife_variance(leave_one_out), g)


def newey_west_variance(series: np.ndarray, lags: int | None = None) -> float:
    """Long-run variance of the mean of a (demeaned inside) time series, Bartlett weights."""
    x = np.asarray(series, dtype=np.float64)
    t = len(x)
    if t < 2:
        return float("nan")
    x = x - x.mean()
    lags = int(4 * (t / 100) ** (2 / 9)) if lags is None else lags
    total = float(x @ x) / t
    for lag in range(1, min(lags, t - 1) + 1):
        total += 2 * (1 - lag / (lags + 1)) * float(x[lag:] @ x[:-lag]) / t
    return max(total, 0.0) / t


def sentiment_index(frame: pd.DataFrame) -> pd.DataFrame:
    """Per (ticker, session): the mean P(up) of its posts and the session's return, in date order."""
    return (frame.groupby(["ticker", "session_date"]).agg(mean_p_up=("p_up", "mean"), ret=("ret", "first"))
            .reset_index().sort_values(["session_date", "ticker"], ignore_index=True))


def per_date_ic(index: pd.DataFrame) -> pd.DataFrame:
    """The Spearman IC across stocks on each date that has at least three of them (and some spread)."""
    rows = [(day, float(stats.spearmanr(part["mean_p_up"], part["ret"]).statistic))
            for day, part in index.groupby("session_date")
            if len(part) >= MIN_STOCKS_PER_DATE and part["mean_p_up"].nunique() > 1 and part["ret"].nunique() > 1]
    return pd.DataFrame(rows, columns=["session_date", "ic"])


def information_coefficient(frame: pd.DataFrame) -> dict[str, float]:
    """frame: one row per post with ticker, session_date, p_up, ret (the session's return).

    The index is the mean P(up) of the posts before each (ticker, session). With at least three
    stocks: the Spearman IC across stocks on each date, its mean, and a Newey-West t over dates.
    Otherwise: the pooled Spearman IC over (ticker, session) pairs with errors that are HAC over
    dates. ``ic_per_date`` says which (1 or 0).
    """
    index = sentiment_index(frame)
    result = {"ic_pairs": float(len(index)), "ic_sessions": float(index["session_date"].nunique())}
    if index["ticker"].nunique() >= MIN_STOCKS_PER_DATE:
        daily = per_date_ic(index)["ic"].to_numpy()
        result.update({"ic_per_date": 1.0, "ic_sessions": float(len(daily))})
        if len(daily) >= 2:
            mean, variance = float(np.mean(daily)), newey_west_variance(daily)
            result.update({"ic": mean, "ic_t": mean / math.sqrt(variance) if variance > 0 else float("nan")})
        return result
    result["ic_per_date"] = 0.0
    if len(index) < 3 or index["mean_p_up"].nunique() < 2 or index["ret"].nunique() < 2:
        return result
    rank_x = stats.rankdata(index["mean_p_up"])
    rank_y = stats.rankdata(index["ret"])
    zx, zy = (rank_x - rank_x.mean()) / rank_x.std(), (rank_y - rank_y.mean()) / rank_y.std()
    products = zx * zy
    ic = float(products.mean())
    # The IC is the mean of these products; their sum per date is the time series whose
    # autocorrelation (and cross-stock correlation within a date) the errors must allow for.
    per_date = pd.Series(products - ic).groupby(index["session_date"].to_numpy()).sum().sort_index().to_numpy()
    variance = newey_west_variance(per_date) * len(per_date) ** 2 / len(products) ** 2
    result.update({"ic": ic, "ic_t": ic / math.sqrt(variance) if variance > 0 else float("nan")})
    return result
