"""Statistics that say only what the data can carry: everything is clustered by session date.

Every post of one (ticker, session) shares its label, and stocks move together on a date, so the
independent observations are session dates, not posts: 4,000 test posts over 21 (ticker, session)
pairs on 8 dates are 8 observations. Hence:

- every test reduces the data to one score per date whose sum is the estimate and is a
  **sign-flip randomization test** over dates, one-sided: under no skill each date's score is as
  likely to be negative as positive (turning a date's predictions around flips its sign). With at
  most ``EXACT_FLIP_SESSIONS`` dates every one of the 2^G sign patterns is enumerated, beyond that
  ``FLIP_DRAWS`` seeded draws are used; the observed pattern always counts, so p >= 2^-G: two dates
  can never give p < 0.25, and a zero or undefined variance can never give p = 0;
- intervals are studentized: delete-one-date jackknife standard errors with t(G - 1) critical
  values (``session_intervals``);
- the information coefficient is a per-date cross-sectional Spearman IC (``ic``) with a
  Newey-West t (small-sample corrected) and a sign-flip p over dates. With fewer than 3 stocks no
  cross-section exists: the pooled rank correlation over (ticker, session) pairs is a time-series
  *timing* correlation and is reported as ``timing_corr``, never as ``ic``;
- below ``MIN_SESSIONS_FOR_VERDICT`` distinct dates the reports give no p-value, interval or
  verdict at all (``finsent.ml.evaluate``): the tests stay valid there, but an interval from a
  handful of dates is too wide to read and too unstable to cover (see the README's table).

Every number is reported with ``n_posts``, ``n_clusters`` ((ticker, session) pairs) and
``n_sessions`` (dates, the G above).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
from scipy import stats

from finsent.ml.metrics import classification_metrics

# Chosen from bench/null_simulation.py (table in the README): the tests hold their level at any G,
# but at 5-8 dates the 95% intervals of accuracy and balanced accuracy covered only 91-93% in some
# no-skill designs; from 10 dates on >= 93% (and a sign-flip p can reach 0.001).
MIN_SESSIONS_FOR_VERDICT = 10
EXACT_FLIP_SESSIONS = 12  # 2^12 = 4,096 sign patterns: enumerate them all
FLIP_DRAWS = 4999  # beyond that: seeded random patterns (+ the observed one); MC error of p at 0.05: 0.003
FLIP_SEED = 16
MIN_STOCKS_PER_DATE = 3  # a cross-sectional rank correlation needs at least three stocks
CONFIDENCE = 0.95
_METRIC_RANGE = {"mcc": (-1.0, 1.0), "log_loss": (0.0, math.inf)}  # the others lie in [0, 1]


@dataclass(frozen=True)
class Clusters:
    """Which session date (cluster) each post belongs to, and how many independent units there are."""

    index: np.ndarray  # per post: 0 .. n_sessions - 1
    n_posts: int
    n_clusters: int  # distinct (ticker, session) pairs
    n_sessions: int  # distinct session dates: the clusters of every test

    @classmethod
    def of(cls, tickers: Sequence, sessions: Sequence) -> Clusters:
        _, index = np.unique(np.asarray(sessions), return_inverse=True)
        _, stock = np.unique(np.asarray(tickers), return_inverse=True)
        g = int(index.max()) + 1 if len(index) else 0
        return cls(index=index, n_posts=len(index), n_clusters=len(np.unique(stock * g + index)), n_sessions=g)

    def counts(self) -> dict[str, float]:
        return {"n_posts": float(self.n_posts), "n_clusters": float(self.n_clusters),
                "n_sessions": float(self.n_sessions)}

    def per_date(self, values: np.ndarray) -> np.ndarray:
        """The sum of ``values`` over the posts of each date."""
        return np.bincount(self.index, weights=np.asarray(values, dtype=np.float64), minlength=self.n_sessions)


@lru_cache(maxsize=16)
def _sign_patterns(g: int) -> np.ndarray:
    """Rows of +-1: all 2^g patterns for small g, else the identity and FLIP_DRAWS seeded ones."""
    if g <= EXACT_FLIP_SESSIONS:
        patterns = ((np.arange(2 ** g)[:, None] >> np.arange(g)) & 1) * 2.0 - 1.0
    else:
        draws = np.random.default_rng([FLIP_SEED, g]).integers(0, 2, (FLIP_DRAWS, g)) * 2.0 - 1.0
        patterns = np.vstack([np.ones((1, g)), draws])
    patterns.flags.writeable = False
    return patterns


def sign_flip_p(scores: np.ndarray) -> float:
    """One-sided p that the per-date ``scores`` sum above 0: the share of sign patterns (the
    observed one included) whose flipped sum reaches the observed sum. Exact for independent dates
    whose scores are symmetric about 0 under the null; never below 2^-G."""
    z = np.asarray(scores, dtype=np.float64)
    z = z[np.isfinite(z)]
    if len(z) == 0:
        return 1.0
    observed = float(z.sum())
    tolerance = 1e-9 * max(1.0, float(np.abs(z).sum()))  # ties count against the model
    flipped = _sign_patterns(len(z)) @ z
    return max(float(np.mean(flipped >= observed - tolerance)), 2.0 ** -len(z))


def t_statistic(series: np.ndarray, lags: int | None = None) -> float:
    """mean / its Newey-West standard error with the small-sample factor G / (G - 1) (so with no
    lags it is the ordinary one-sample t); NaN when the variance is zero or undefined."""
    x = np.asarray(series, dtype=np.float64)
    variance = newey_west_variance(x, lags) * len(x) / (len(x) - 1) if len(x) > 1 else float("nan")
    return float(x.mean() / math.sqrt(variance)) if variance > 0 else float("nan")


@lru_cache(maxsize=256)
def t_critical(g: int) -> float:
    """The two-sided CONFIDENCE critical value of t with g - 1 degrees of freedom."""
    return float(stats.t.ppf(0.5 + CONFIDENCE / 2, df=g - 1))


def _jackknife_se(leave_one_out: np.ndarray) -> float:
    """Delete-one-date jackknife standard error (a little conservative with few dates, as it should be)."""
    g = len(leave_one_out)
    finite = leave_one_out[np.isfinite(leave_one_out)]
    if g < 2 or len(finite) < 2:
        return float("nan")
    return math.sqrt((g - 1) / g * float(np.sum((finite - finite.mean()) ** 2)))


def session_intervals(y: np.ndarray, p: np.ndarray, clusters: Clusters) -> dict[str, tuple[float, float]]:
    """95% intervals of every metric: estimate +- t(G - 1) x the delete-one-date jackknife SE,
    clipped to the metric's range. Empty with fewer than two dates."""
    g = clusters.n_sessions
    if g < 2:
        return {}
    full = classification_metrics(y, p)
    dropped = [classification_metrics(y, p, (clusters.index != d).astype(np.float64)) for d in range(g)]
    critical = t_critical(g)
    out = {}
    for name, value in full.items():
        se = _jackknife_se(np.array([m[name] for m in dropped]))
        if math.isfinite(value) and math.isfinite(se):
            low, high = _METRIC_RANGE.get(name, (0.0, 1.0))
            out[name] = (max(low, value - critical * se), min(high, value + critical * se))
    return out


def cluster_mean_test(values: np.ndarray, clusters: Clusters, null: float = 0.0) -> tuple[float, float]:
    """(mean of ``values`` over posts, one-sided sign-flip p that the mean exceeds ``null``).

    The per-date score (sum of values - null x posts) / posts is the date's share of mean - null.
    For accuracy against 0.5, turning a date's predictions around flips its score's sign; for the
    paired difference of two models, swapping the two models on a date does."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) == 0:
        return float("nan"), 1.0
    sums, sizes = clusters.per_date(values), clusters.per_date(np.ones(len(values)))
    mean = float(sums.sum() / sizes.sum())
    return mean, sign_flip_p((sums - null * sizes) / sizes.sum())


def paired_test(correct_a: np.ndarray, correct_b: np.ndarray, clusters: Clusters) -> tuple[float, float]:
    """(accuracy of a minus accuracy of b, one-sided p that a is more accurate), flipping dates."""
    return cluster_mean_test(np.asarray(correct_a, float) - np.asarray(correct_b, float), clusters, 0.0)


def balanced_accuracy_scores(y: np.ndarray, p: np.ndarray, clusters: Clusters) -> tuple[float, np.ndarray]:
    """(TPR - FPR, its per-date scores z_g), or (NaN, empty) with one class only.

    z_g = (h_g - u_g / 2) / U - (f_g - d_g / 2) / D, with h/f the date's hits on up/down posts, u/d
    its up/down posts and U/D their totals. The z_g sum to TPR - FPR exactly, and turning every
    prediction of date g around (up <-> down) turns z_g into -z_g and leaves the others alone: the
    sign-flip test over these scores is the exact randomization test of "each date's predictions
    were as likely the other way round", which a rule that ignores the title satisfies. (Centring
    at the pooled share predicted up instead of 1/2, the linearisation, over-rejected slightly in
    bench/null_simulation.py: 5.4-6.2% at 8-10 dates against 4.3-5.0%.)"""
    y = np.asarray(y, dtype=np.int64)
    pred = np.asarray(p, dtype=np.float64) > 0.5
    hits, ups = clusters.per_date(pred & (y == 1)), clusters.per_date(y == 1)
    false_alarms, downs = clusters.per_date(pred & (y == 0)), clusters.per_date(y == 0)
    if ups.sum() == 0 or downs.sum() == 0:
        return float("nan"), np.array([])
    z = (hits - ups / 2) / ups.sum() - (false_alarms - downs / 2) / downs.sum()
    return float(hits.sum() / ups.sum() - false_alarms.sum() / downs.sum()), z


def balanced_accuracy_test(y: np.ndarray, p: np.ndarray, clusters: Clusters) -> tuple[float, float]:
    """(balanced accuracy, one-sided sign-flip p over dates that it exceeds 0.5).

    Balanced accuracy - 0.5 = (TPR - FPR) / 2, which is 0 for any rule that ignores the title (always
    up, yesterday's trend of the market, a coin): a test of skill that the base rate cannot pass.
    """
    spread, z = balanced_accuracy_scores(y, p, clusters)
    if not math.isfinite(spread):
        return float("nan"), 1.0
    return 0.5 + spread / 2, sign_flip_p(z)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjustment (family-wise error across the given tests); NaN stays NaN."""
    values = np.asarray(p_values, dtype=np.float64)
    finite = np.flatnonzero(np.isfinite(values))
    adjusted = np.full(len(values), np.nan)
    order = finite[np.argsort(values[finite], kind="stable")]
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(order) - rank) * values[i]))
        adjusted[i] = running
    return adjusted.tolist()


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
    """The Spearman IC across stocks on each date that has at least three of them (and some spread):
    the Pearson correlation of the ranks within each date (ties averaged, as ``scipy.stats.spearmanr``),
    for all dates at once."""
    frame = index[["session_date", "mean_p_up", "ret"]]
    by_date = frame.groupby("session_date")
    keep = ((by_date["mean_p_up"].transform("size") >= MIN_STOCKS_PER_DATE)
            & (by_date["mean_p_up"].transform("nunique") > 1) & (by_date["ret"].transform("nunique") > 1))
    frame = frame[keep]
    dates = frame["session_date"]
    centred = []
    for column in ("mean_p_up", "ret"):
        rank = frame.groupby("session_date")[column].rank()
        centred.append(rank - rank.groupby(dates).transform("mean"))
    x, y = centred
    ic = (x * y).groupby(dates).sum() / np.sqrt((x**2).groupby(dates).sum() * (y**2).groupby(dates).sum())
    return pd.DataFrame({"session_date": list(ic.index), "ic": ic.to_numpy(dtype=np.float64)},
                        columns=["session_date", "ic"])


def _timing_correlation(index: pd.DataFrame) -> dict[str, float]:
    """The pooled Spearman correlation over (ticker, session) pairs: with one or two stocks, whether
    the index times each stock's moves. Its per-date sums of rank products are the date scores."""
    if len(index) < 3 or index["mean_p_up"].nunique() < 2 or index["ret"].nunique() < 2:
        return {}
    rank_x, rank_y = stats.rankdata(index["mean_p_up"]), stats.rankdata(index["ret"])
    products = (rank_x - rank_x.mean()) / rank_x.std() * (rank_y - rank_y.mean()) / rank_y.std()
    corr = float(products.mean())
    per_date = pd.Series(products).groupby(index["session_date"].to_numpy()).sum().sort_index().to_numpy()
    # the t of the per-date sums (their mean is corr x pairs per date): errors that are HAC over dates
    return {"timing_corr": corr, "timing_corr_t": t_statistic(per_date), "timing_corr_p": sign_flip_p(per_date)}


def information_coefficient(frame: pd.DataFrame) -> dict[str, float]:
    """frame: one row per post with ticker, session_date, p_up, ret (the session's return).

    The index is the mean P(up) of the posts before each (ticker, session). With at least three
    stocks: the Spearman IC across stocks on each date, its mean ``ic``, a Newey-West ``ic_t`` and a
    sign-flip ``ic_p`` over dates (one-sided, IC > 0). Otherwise: the pooled time-series
    ``timing_corr`` with ``timing_corr_t`` and ``timing_corr_p`` likewise. ``ic_per_date`` says
    which (1 or 0); ``ic_sessions`` counts the dates behind either. Below MIN_SESSIONS_FOR_VERDICT
    dates there is an estimate but no t and no p.
    """
    index = sentiment_index(frame)
    result = {"ic_pairs": float(len(index)), "ic_sessions": float(index["session_date"].nunique())}
    if index["ticker"].nunique() >= MIN_STOCKS_PER_DATE:
        daily = per_date_ic(index)["ic"].to_numpy()
        result.update({"ic_per_date": 1.0, "ic_sessions": float(len(daily))})
        if len(daily):
            result["ic"] = float(np.mean(daily))
        if len(daily) >= MIN_SESSIONS_FOR_VERDICT:
            result.update({"ic_t": t_statistic(daily), "ic_p": sign_flip_p(daily)})
        return result
    timing = _timing_correlation(index)
    if result["ic_sessions"] < MIN_SESSIONS_FOR_VERDICT:
        timing = {k: v for k, v in timing.items() if k == "timing_corr"}
    return {**result, "ic_per_date": 0.0, **timing}


def balanced_accuracy_from_counts(hits: np.ndarray, ups: np.ndarray, false_alarms: np.ndarray,
                                  downs: np.ndarray) -> tuple[float, float, float]:
    """(balanced accuracy, 95% interval low, high) from per-date counts: ``hits`` up posts predicted up
    of ``ups``, ``false_alarms`` down posts predicted up of ``downs``. The interval is the same
    delete-one-date jackknife with t(G - 1) as ``session_intervals`` (identical numbers), computed
    from counts, so a page can afford it for every stock; NaN bounds with fewer than two dates, and
    all NaN (undefined) when the labels hold one class only."""
    h, u, f, d = (np.asarray(a, dtype=np.float64) for a in (hits, ups, false_alarms, downs))

    def score(h_sum: np.ndarray, u_sum: np.ndarray, f_sum: np.ndarray, d_sum: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            recalls = np.vstack([np.where(u_sum > 0, h_sum / u_sum, np.nan),
                                 np.where(d_sum > 0, 1 - f_sum / d_sum, np.nan)])
        counted = np.isfinite(recalls).sum(axis=0)
        return np.where(counted > 0, np.nansum(recalls, axis=0) / np.maximum(counted, 1), np.nan)

    if u.sum() <= 0 or d.sum() <= 0:  # one class only: balanced accuracy is undefined
        return float("nan"), float("nan"), float("nan")
    value = float(score(*(np.array([a.sum()]) for a in (h, u, f, d)))[0])
    g = len(h)
    if g < 2 or not math.isfinite(value):
        return value, float("nan"), float("nan")
    se = _jackknife_se(score(h.sum() - h, u.sum() - u, f.sum() - f, d.sum() - d))
    if not math.isfinite(se):
        return value, float("nan"), float("nan")
    return value, max(0.0, value - t_critical(g) * se), min(1.0, value + t_critical(g) * se)
