"""Statistics that say only what the data can carry: everything is clustered by session date.

Every post of one (ticker, session) shares its label, and stocks move together on a date, so the
independent observations are session dates, not posts: 4,000 test posts over 21 (ticker, session)
pairs on 8 dates are 8 observations. With labels over h sessions (``--horizon h``) neighbouring
dates share h - 1 sessions, so the units are **blocks of h consecutive dates**
(``finsent.ml.overlap``; h = 1: the dates). Hence:

- every test reduces the data to one score per date whose sum is the estimate and is a
  **sign-flip randomization test** over blocks, one-sided (``finsent.ml.overlap.sign_flip_p``):
  under no skill each date's score is as likely to be negative as positive (turning a date's
  predictions around flips its sign). p is counted exactly over the 2^B sign patterns whenever it
  is below 0.01, so it can go down to 2^-B (B <= 40); two dates can never give p < 0.25, and a
  zero or undefined variance can never give p = 0;
- intervals are studentized: delete-one-block jackknife standard errors (times the design effect
  of neighbouring blocks when h > 1) with t critical values on the effective number of blocks - 1
  degrees of freedom (``session_intervals``: Satterthwaite's count from each block's share of the
  up and of the down posts, so a few dominant dates do not pass for many);
- the information coefficient is a per-date cross-sectional Spearman IC (``ic``) with its interval,
  a Newey-West t (at least h - 1 lags) and a sign-flip p over blocks. With fewer than 3 stocks no
  cross-section exists: the pooled rank correlation over (ticker, session) pairs is a time-series
  *timing* correlation and is reported as ``timing_corr``, never as ``ic``;
- below ``MIN_SESSIONS_FOR_VERDICT`` blocks (10 x h dates: ``min_sessions_for_verdict``) the
  reports give no p-value, interval or verdict at all (``finsent.ml.evaluate``): the tests stay
  valid there, but an interval from a handful of dates is too wide to read and too unstable to
  cover (see docs/benchmarks.md).

Every number is reported with ``n_posts``, ``n_clusters`` ((ticker, session) pairs),
``n_sessions`` (dates, the G above) and ``n_blocks`` (the units: G at horizon 1).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from finsent.ml.metrics import classification_metrics
from finsent.ml.overlap import (
    block_index,
    critical_t,
    effective_units,
    jackknife_se,
    mean_interval,
    n_blocks,
    newey_west_t,
    sign_flip_p,
)

# Chosen from bench/null_simulation.py (table in docs/benchmarks.md): the tests hold their level at any G,
# but at 5-8 dates the 95% intervals of accuracy and balanced accuracy covered only 91-93% in some
# no-skill designs; from 10 dates on >= 93% (and a sign-flip p can reach 0.001). With h-session
# labels the same count of blocks of h dates (bench/overlap_simulation.py).
MIN_SESSIONS_FOR_VERDICT = 10
MIN_STOCKS_PER_DATE = 3  # a cross-sectional rank correlation needs at least three stocks
_METRIC_RANGE = {"mcc": (-1.0, 1.0), "log_loss": (0.0, math.inf)}  # the others lie in [0, 1]


def min_sessions_for_verdict(horizon: int = 1) -> int:
    """Distinct dates a verdict needs: MIN_SESSIONS_FOR_VERDICT blocks of ``horizon`` dates."""
    return MIN_SESSIONS_FOR_VERDICT * max(1, int(horizon))


@dataclass(frozen=True)
class Clusters:
    """Which session date (cluster) each post belongs to, how many independent units there are, and
    the labels' horizon (dates within ``horizon`` of each other share sessions: blocks of it are the units)."""

    index: np.ndarray  # per post: 0 .. n_sessions - 1, in date order
    n_posts: int
    n_clusters: int  # distinct (ticker, session) pairs
    n_sessions: int  # distinct session dates: the clusters of every test
    horizon: int = 1

    @classmethod
    def of(cls, tickers: Sequence, sessions: Sequence, horizon: int = 1) -> Clusters:
        _, index = np.unique(np.asarray(sessions), return_inverse=True)
        _, stock = np.unique(np.asarray(tickers), return_inverse=True)
        g = int(index.max()) + 1 if len(index) else 0
        return cls(index=index, n_posts=len(index), n_clusters=len(np.unique(stock * g + index)), n_sessions=g,
                   horizon=max(1, int(horizon)))

    @property
    def n_blocks(self) -> int:
        return n_blocks(self.n_sessions, self.horizon)

    @property
    def has_verdict(self) -> bool:
        """Enough dates for any p-value, interval or verdict: MIN_SESSIONS_FOR_VERDICT blocks."""
        return self.n_sessions >= min_sessions_for_verdict(self.horizon)

    def counts(self) -> dict[str, float]:
        return {"n_posts": float(self.n_posts), "n_clusters": float(self.n_clusters),
                "n_sessions": float(self.n_sessions), "n_blocks": float(self.n_blocks)}

    def per_date(self, values: np.ndarray) -> np.ndarray:
        """The sum of ``values`` over the posts of each date."""
        return np.bincount(self.index, weights=np.asarray(values, dtype=np.float64), minlength=self.n_sessions)

    def per_block(self, values: np.ndarray) -> np.ndarray:
        """The sum of ``values`` over the posts of each block of ``horizon`` dates."""
        blocks = block_index(self.n_sessions, self.horizon)[self.index]
        return np.bincount(blocks, weights=np.asarray(values, dtype=np.float64), minlength=self.n_blocks)


def interval_dof(ups: np.ndarray, downs: np.ndarray) -> float:
    """Degrees of freedom of every interval's t: the effective number of blocks - 1, from each
    block's share of the up posts and of the down posts (``ups``, ``downs`` per block): B - 1 when
    the blocks weigh alike, fewer when a few carry most of one class (then an interval from the
    jackknife is less sure of its own width; bench/null_simulation.py: 10 dates with a dominant
    stock covered 92.7-93.4% with B - 1, >= 94.2% with this)."""
    u, d = np.asarray(ups, dtype=np.float64), np.asarray(downs, dtype=np.float64)
    shares = (u / u.sum() if u.sum() > 0 else 0 * u) ** 2 + (d / d.sum() if d.sum() > 0 else 0 * d) ** 2
    return max(1.0, effective_units(shares) - 1)


def _clipped(name: str, value: float, half: float) -> tuple[float, float]:
    low, high = _METRIC_RANGE.get(name, (0.0, 1.0))
    return max(low, value - half), min(high, value + half)


def session_intervals(y: np.ndarray, p: np.ndarray, clusters: Clusters) -> dict[str, tuple[float, float]]:
    """95% intervals of every metric: estimate +- t x the delete-one-block jackknife SE (x the
    design effect of neighbouring blocks when h > 1), t on ``interval_dof`` degrees of freedom,
    clipped to the metric's range. Empty with fewer than two blocks."""
    blocks = clusters.n_blocks
    if blocks < 2:
        return {}
    post_block = block_index(clusters.n_sessions, clusters.horizon)[clusters.index]
    full = classification_metrics(y, p)
    dropped = [classification_metrics(y, p, (post_block != b).astype(np.float64)) for b in range(blocks)]
    y = np.asarray(y)
    critical = critical_t(interval_dof(clusters.per_block(y == 1), clusters.per_block(y == 0)))
    out = {}
    for name, value in full.items():
        se = jackknife_se(np.array([m[name] for m in dropped]), clusters.horizon)
        if math.isfinite(value) and math.isfinite(se):
            out[name] = _clipped(name, value, critical * se)
    return out


def cluster_mean_test(values: np.ndarray, clusters: Clusters, null: float = 0.0) -> tuple[float, float]:
    """(mean of ``values`` over posts, one-sided sign-flip p that the mean exceeds ``null``).

    The per-date score (sum of values - null x posts) / posts is the date's share of mean - null.
    For accuracy against 0.5, turning a date's predictions around flips its score's sign; for the
    paired difference of two models, swapping the two models on a date does. Flipped by blocks of
    the clusters' horizon."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) == 0:
        return float("nan"), 1.0
    sums, sizes = clusters.per_date(values), clusters.per_date(np.ones(len(values)))
    mean = float(sums.sum() / sizes.sum())
    return mean, sign_flip_p((sums - null * sizes) / sizes.sum(), clusters.horizon)


def paired_test(correct_a: np.ndarray, correct_b: np.ndarray, clusters: Clusters) -> tuple[float, float]:
    """(accuracy of a minus accuracy of b, one-sided p that a is more accurate), flipping dates (blocks)."""
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
    """(balanced accuracy, one-sided sign-flip p over dates (blocks) that it exceeds 0.5).

    Balanced accuracy - 0.5 = (TPR - FPR) / 2, which is 0 for any rule that ignores the title (always
    up, yesterday's trend of the market, a coin): a test of skill that the base rate cannot pass.
    """
    spread, z = balanced_accuracy_scores(y, p, clusters)
    if not math.isfinite(spread):
        return float("nan"), 1.0
    return 0.5 + spread / 2, sign_flip_p(z, clusters.horizon)


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


def _hac_lags(n: int, horizon: int) -> int:
    """Newey-West lags: the usual 4 (T / 100)^(2/9), and at least h - 1 (the labels' overlap)."""
    return max(int(4 * (n / 100) ** (2 / 9)), horizon - 1)


def _timing_correlation(index: pd.DataFrame, horizon: int) -> dict[str, float]:
    """The pooled Spearman correlation over (ticker, session) pairs: with one or two stocks, whether
    the index times each stock's moves. Its per-date sums of rank products are the date scores."""
    if len(index) < 3 or index["mean_p_up"].nunique() < 2 or index["ret"].nunique() < 2:
        return {}
    rank_x, rank_y = stats.rankdata(index["mean_p_up"]), stats.rankdata(index["ret"])
    products = (rank_x - rank_x.mean()) / rank_x.std() * (rank_y - rank_y.mean()) / rank_y.std()
    corr = float(products.mean())
    per_date = pd.Series(products).groupby(index["session_date"].to_numpy()).sum().sort_index().to_numpy()
    # the per-date sums' mean is corr x pairs per date: their interval, t and p, rescaled
    scale = len(per_date) / len(products)
    low, high = mean_interval(per_date, horizon)
    return {"timing_corr": corr, "timing_corr_ci_low": low * scale, "timing_corr_ci_high": high * scale,
            "timing_corr_t": newey_west_t(per_date, _hac_lags(len(per_date), horizon)),
            "timing_corr_p": sign_flip_p(per_date, horizon)}


def information_coefficient(frame: pd.DataFrame, horizon: int = 1) -> dict[str, float]:
    """frame: one row per post with ticker, session_date, p_up, ret (the return its label is of,
    over ``horizon`` sessions).

    The index is the mean P(up) of the posts before each (ticker, session). With at least three
    stocks: the Spearman IC across stocks on each date, its mean ``ic``, its 95% interval
    (``ic_ci_low``, ``ic_ci_high``), a Newey-West ``ic_t`` (at least h - 1 lags) and a sign-flip
    ``ic_p`` (one-sided, IC > 0), interval and p over blocks of ``horizon`` dates
    (``finsent.ml.overlap``). Otherwise: the pooled time-series ``timing_corr`` with its interval,
    ``timing_corr_t`` and ``timing_corr_p`` likewise. ``ic_per_date`` says which (1 or 0);
    ``ic_sessions`` counts the dates behind either, ``ic_blocks`` the blocks. Below
    ``min_sessions_for_verdict`` dates there is an estimate but no interval, t or p.
    """
    horizon = max(1, int(horizon))
    index = sentiment_index(frame)
    result = {"ic_pairs": float(len(index)), "ic_sessions": float(index["session_date"].nunique())}
    enough = min_sessions_for_verdict(horizon)
    if index["ticker"].nunique() >= MIN_STOCKS_PER_DATE:
        daily = per_date_ic(index)["ic"].to_numpy()
        result.update({"ic_per_date": 1.0, "ic_sessions": float(len(daily)),
                       "ic_blocks": float(n_blocks(len(daily), horizon))})
        if len(daily):
            result["ic"] = float(np.mean(daily))
        if len(daily) >= enough:
            low, high = mean_interval(daily, horizon)
            result.update({"ic_ci_low": low, "ic_ci_high": high, "ic_t": newey_west_t(daily, _hac_lags(len(daily),
                                                                                                       horizon)),
                           "ic_p": sign_flip_p(daily, horizon)})
        return result
    timing = _timing_correlation(index, horizon)
    result["ic_blocks"] = float(n_blocks(int(result["ic_sessions"]), horizon))
    if result["ic_sessions"] < enough:
        timing = {k: v for k, v in timing.items() if k == "timing_corr"}
    return {**result, "ic_per_date": 0.0, **timing}


def balanced_accuracy_from_counts(hits: np.ndarray, ups: np.ndarray, false_alarms: np.ndarray,
                                  downs: np.ndarray, horizon: int = 1) -> tuple[float, float, float]:
    """(balanced accuracy, 95% interval low, high) from per-date counts in date order: ``hits`` up
    posts predicted up of ``ups``, ``false_alarms`` down posts predicted up of ``downs``. The
    interval is the same delete-one-block jackknife as ``session_intervals`` (identical numbers),
    computed from counts, so a page can afford it for every stock; NaN bounds with fewer than two
    blocks, and all NaN (undefined) when the labels hold one class only."""
    blocks = block_index(len(np.asarray(hits)), horizon)
    h, u, f, d = (np.bincount(blocks, weights=np.asarray(a, dtype=np.float64)) if len(blocks) else np.zeros(0)
                  for a in (hits, ups, false_alarms, downs))

    def score(h_sum: np.ndarray, u_sum: np.ndarray, f_sum: np.ndarray, d_sum: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            recalls = np.vstack([np.where(u_sum > 0, h_sum / u_sum, np.nan),
                                 np.where(d_sum > 0, 1 - f_sum / d_sum, np.nan)])
        counted = np.isfinite(recalls).sum(axis=0)
        return np.where(counted > 0, np.nansum(recalls, axis=0) / np.maximum(counted, 1), np.nan)

    if u.sum() <= 0 or d.sum() <= 0:  # one class only: balanced accuracy is undefined
        return float("nan"), float("nan"), float("nan")
    value = float(score(*(np.array([a.sum()]) for a in (h, u, f, d)))[0])
    if len(h) < 2 or not math.isfinite(value):
        return value, float("nan"), float("nan")
    se = jackknife_se(score(h.sum() - h, u.sum() - u, f.sum() - f, d.sum() - d), horizon)
    if not math.isfinite(se):
        return value, float("nan"), float("nan")
    low, high = _clipped("balanced_accuracy", value, critical_t(interval_dof(u, d)) * se)
    return value, low, high
