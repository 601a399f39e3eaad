"""Inference on a series of per-date values whose neighbouring dates may share sessions.

Every verdict of finsent reduces its data to one value per session date, in date order (a date's
balanced-accuracy score, its cross-sectional IC, a paired difference of two models, a day's
return) and asks whether their sum or mean is above 0. A label over h sessions (``finsent label
--horizon h``) runs from a date's open to the close h - 1 sessions later, so the labels of
neighbouring dates share up to h - 1 sessions; when the predictions drift (a mood that lasts a
week) the per-date values are then correlated over h - 1 dates, and a test that treats the dates as
independent rejected a no-skill model 13% of the time at 5% for h = 5 (an audit; up to 15% at h = 20
in bench/overlap_simulation.py, where this module's tests reject 1.7-6.3%, docs/benchmarks.md).

The unit here is a **block** of h consecutive dates (``block_index``; h = 1: the dates themselves).
Blocks b and b + 2 share no session, so block sums are 1-dependent: only neighbouring blocks
covary, by a *design effect* (``design_effect``) kappa^2 = 1 + 2 r, r the lag-1 autocorrelation of
the centred block values plus 1/B (its bias under independence, B blocks), kept within [0, 1/2]
(the most a 1-dependent series can have). At h = 1 there is no overlap and kappa = 1.

- ``sign_flip_p``: the sign-flip randomization test over blocks, one-sided (or two-sided): p is the
  share of the 2^B sign patterns of the block sums whose sum reaches the observed sum, shrunk by
  kappa (at h = 1 exactly the sign-flip test over dates). More than ``MAX_FLIP_UNITS`` blocks are
  merged into that many runs of neighbouring blocks (a coarser group of patterns: still an exact
  test), so p can always go down to 2^-B (B <= 40: 9e-13). It is counted **exactly**: all patterns
  up to ``EXACT_FLIP_UNITS`` units, beyond that a seeded Monte Carlo screen of ``SCREEN_DRAWS``
  patterns answers only when it is sure (at least ``SCREEN_SURE`` patterns reach the sum: p > 0.01,
  standard error 0.002 at 0.05), else the 2^B patterns are counted by meet in the middle (two
  halves of at most 2^20 sums each, merged: under 0.1 s at 40 units). So every p below 0.01 is
  exact, and a decision at a level as small as attempt 50's 1e-5 is never a Monte Carlo artefact.
- ``mean_interval``: mean +- t(B - 1) x the block standard error x kappa, and ``t_test``, its
  dual (t and a two-sided p on B - 1 degrees of freedom); ``jackknife_se``: the same standard
  error for any statistic (delete-one-block jackknife, x kappa), with ``critical_t`` of
  ``effective_units`` - 1 degrees of freedom where the dates weigh unequally.
- ``infer_mean``: one call per series (a cell of a factor study): mean, interval, p, n.
- The textbook alternatives, for comparison and for studies that want them: ``newey_west_interval``
  (HAC with Bartlett weights; with h - 1 lags it leaves out the covariance that the block design
  effect adds back, and covers less when predictions drift: the bench shows both) and
  ``block_bootstrap_indices`` + ``bootstrap_interval`` (circular blocks of dates, one resample for
  many series at once, e.g. for a Romano-Wolf step-down over a grid; ``finsent.ml.stats.holm`` is
  the simpler family-wise adjustment).

Why not statsmodels: its HAC covariance is the Newey-West one above, and the rest is a few lines of
numpy; what matters here (blocks, the design effect, exact flips) it does not have.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import stats

CONFIDENCE = 0.95
MAX_FLIP_UNITS = 40  # 2^-40 = 9e-13: attempt 163,000's level (finsent.ml.attempts)
EXACT_FLIP_UNITS = 26  # up to 2^13 sums a half: counting every pattern costs under a millisecond
SCREEN_DRAWS = 9999
SCREEN_SURE = 100  # patterns at or above the observed sum before the screen's estimate is used
FLIP_SEED = 16


def block_index(n_dates: int, horizon: int = 1) -> np.ndarray:
    """The block of each of ``n_dates`` consecutive dates: blocks of ``horizon`` dates from the first."""
    return np.arange(n_dates) // max(1, int(horizon))


def n_blocks(n_dates: int, horizon: int = 1) -> int:
    return -(-n_dates // max(1, int(horizon)))


def block_sums(values: np.ndarray, horizon: int = 1) -> np.ndarray:
    """The sums of ``values`` (one per date, in date order) over blocks of ``horizon`` dates."""
    x = np.asarray(values, dtype=np.float64)
    return np.bincount(block_index(len(x), horizon), weights=x, minlength=n_blocks(len(x), horizon))


def flip_units(values: np.ndarray, horizon: int = 1) -> np.ndarray:
    """What the sign-flip test flips: the block sums, merged into at most MAX_FLIP_UNITS runs."""
    units = block_sums(values, horizon)
    if len(units) <= MAX_FLIP_UNITS:
        return units
    return np.array([run.sum() for run in np.array_split(units, MAX_FLIP_UNITS)])


def smallest_p(n_dates: int, horizon: int = 1) -> float:
    """The smallest p ``sign_flip_p`` can give on ``n_dates`` dates: 2^-units (a perfect model
    on blocks that weigh alike reaches it)."""
    return 2.0 ** -min(n_blocks(n_dates, horizon), MAX_FLIP_UNITS)


def design_effect(units: np.ndarray, horizon: int = 1) -> float:
    """kappa^2: how much neighbouring blocks add to the variance of the sum (1 at horizon 1)."""
    u = np.asarray(units, dtype=np.float64)
    u = u[np.isfinite(u)]
    if horizon <= 1 or len(u) < 2:
        return 1.0
    d = u - u.mean()
    spread = float(d @ d)
    r = float(d[1:] @ d[:-1]) / spread if spread > 0 else 0.0
    return 1.0 + 2.0 * min(0.5, max(0.0, r + 1.0 / len(u)))


def _signed_sums(units: np.ndarray) -> np.ndarray:
    """All 2^n signed sums of ``units`` (in no particular order)."""
    if len(units) > 10:  # two halves' sums added pairwise: one allocation instead of n doublings
        half = len(units) // 2
        pairs: np.ndarray = np.add.outer(_signed_sums(units[:half]), _signed_sums(units[half:]))
        return pairs.ravel()
    sums = np.zeros(1)
    for u in units:
        sums = np.concatenate([sums + u, sums - u])
    return sums


def _exact_share(units: np.ndarray, threshold: float) -> float:
    """The share of all 2^n sign patterns whose signed sum is >= threshold (meet in the middle: a
    pattern is a left half and a right half; only halves that can reach the threshold with the
    other half's best are sorted and merged, few when the share is small)."""
    half = len(units) // 2
    left, right = _signed_sums(units[:half]), _signed_sums(units[half:])
    left, right = left[left >= threshold - right.max()], np.sort(right[right >= threshold - left.max()])
    below = np.searchsorted(right, threshold - left, side="left")
    return float(len(left) * len(right) - int(below.sum())) / 2.0 ** len(units)


@lru_cache(maxsize=16)
def _screen_patterns(n: int) -> np.ndarray:
    patterns = np.random.default_rng([FLIP_SEED, n]).integers(0, 2, (SCREEN_DRAWS, n)).astype(np.int8) * 2 - 1
    patterns.flags.writeable = False
    return patterns


def flip_share(units: np.ndarray, threshold: float) -> float:
    """The share of the 2^n sign patterns of ``units`` whose signed sum is >= ``threshold`` (the
    observed pattern included when its sum reaches it): exact, or the screen's estimate when sure."""
    units = np.asarray(units, dtype=np.float64)
    if len(units) <= EXACT_FLIP_UNITS:
        return _exact_share(units, threshold)
    reached = int(np.count_nonzero(_screen_patterns(len(units)) @ units >= threshold))
    if reached >= SCREEN_SURE:
        return (reached + 1) / (SCREEN_DRAWS + 1)
    return _exact_share(units, threshold)


def sign_flip_p(values: np.ndarray, horizon: int = 1, alternative: str = "greater") -> float:
    """p that the per-date ``values`` (in date order; NaN dropped) sum above 0 ("greater"), below it
    ("less") or away from it ("two-sided"): the sign-flip test over blocks of ``horizon`` dates,
    the observed sum shrunk by the design effect. Never below 2^-units; 1.0 with no values."""
    if alternative == "two-sided":
        return min(1.0, 2 * min(sign_flip_p(values, horizon), sign_flip_p(values, horizon, "less")))
    z = np.asarray(values, dtype=np.float64)
    z = z[np.isfinite(z)]
    if alternative == "less":
        z = -z
    if len(z) == 0:
        return 1.0
    units = flip_units(z, horizon)
    observed = float(units.sum())
    if observed > 0:  # evidence is shrunk by the covariance of neighbouring blocks; no evidence is not
        observed /= math.sqrt(design_effect(units, horizon))
    tolerance = 1e-9 * max(1.0, float(np.abs(units).sum()))  # ties count against the model
    return flip_share(units, observed - tolerance)


def critical_t(df: float, confidence: float = CONFIDENCE) -> float:
    """The two-sided ``confidence`` critical value of t with ``df`` (>= 1, may be fractional) degrees of freedom."""
    return float(stats.t.ppf(0.5 + confidence / 2, df=max(1.0, df)))


def effective_units(weights: np.ndarray) -> float:
    """Kish's effective number of units, (sum w)^2 / sum w^2: B when the B units weigh alike, fewer
    when a few dominate (the t of an interval then has fewer degrees of freedom)."""
    w = np.asarray(weights, dtype=np.float64)
    total = float(np.sum(w ** 2))
    return float(np.sum(w)) ** 2 / total if total > 0 else 0.0


def jackknife_se(leave_one_out: np.ndarray, horizon: int = 1) -> float:
    """The delete-one-block jackknife standard error (estimates without each block, in block order;
    NaN ones dropped) times kappa; NaN with fewer than two."""
    values = np.asarray(leave_one_out, dtype=np.float64)
    g = len(values)
    finite = values[np.isfinite(values)]
    if g < 2 or len(finite) < 2:
        return float("nan")
    deviations = finite - finite.mean()
    return math.sqrt((g - 1) / g * float(deviations @ deviations) * design_effect(deviations, horizon))


def mean_standard_error(values: np.ndarray, horizon: int = 1) -> tuple[float, float, int]:
    """(mean of per-date ``values`` (date order, NaN dropped), its block standard error x kappa, the
    degrees of freedom B - 1); NaN standard error with fewer than two blocks."""
    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    blocks = n_blocks(len(x), horizon)
    mean = float(x.mean()) if len(x) else float("nan")
    if blocks < 2:
        return mean, float("nan"), max(0, blocks - 1)
    sizes = np.bincount(block_index(len(x), horizon), minlength=blocks)
    centred = block_sums(x, horizon) - sizes * mean
    variance = float(centred @ centred) * blocks / (blocks - 1) * design_effect(centred, horizon) / len(x) ** 2
    return mean, math.sqrt(variance), blocks - 1


def mean_interval(values: np.ndarray, horizon: int = 1, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """The ``confidence`` interval of the mean of per-date ``values`` (date order, NaN dropped): mean
    +- t(B - 1) x its block standard error x kappa. NaN bounds with fewer than two blocks."""
    mean, se, dof = mean_standard_error(values, horizon)
    if not math.isfinite(se):
        return float("nan"), float("nan")
    half = critical_t(dof, confidence) * se
    return mean - half, mean + half


def t_test(values: np.ndarray, horizon: int = 1) -> tuple[float, float]:
    """(t, two-sided p) of mean = 0 with the standard error of ``mean_interval`` on t(B - 1): the
    test whose 95% acceptance region is that interval; NaN without variance."""
    mean, se, dof = mean_standard_error(values, horizon)
    if not se > 0:
        return float("nan"), float("nan")
    t = mean / se
    return t, float(2 * stats.t.sf(abs(t), df=dof))


def newey_west_variance(series: np.ndarray, lags: int | None = None) -> float:
    """Long-run variance of the mean of a (demeaned inside) time series, Bartlett weights; ``lags``
    default 4 (T / 100)^(2/9)."""
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


def newey_west_t(series: np.ndarray, lags: int | None = None) -> float:
    """mean / its Newey-West standard error with the small-sample factor G / (G - 1) (so with no
    lags it is the ordinary one-sample t); NaN when the variance is zero or undefined."""
    x = np.asarray(series, dtype=np.float64)
    variance = newey_west_variance(x, lags) * len(x) / (len(x) - 1) if len(x) > 1 else float("nan")
    return float(x.mean() / math.sqrt(variance)) if variance > 0 else float("nan")


def newey_west_interval(values: np.ndarray, lags: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """mean +- t(G - 1) x the Newey-West standard error with ``lags`` lags (h - 1 for h-session labels)."""
    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    if len(x) < 2:
        return float("nan"), float("nan")
    half = critical_t(len(x) - 1, confidence) * math.sqrt(newey_west_variance(x, lags) * len(x) / (len(x) - 1))
    return float(x.mean()) - half, float(x.mean()) + half


def block_bootstrap_indices(n_dates: int, block: int, draws: int, seed: int | list[int]) -> np.ndarray:
    """(draws, n_dates) date indices of circular block bootstrap resamples: runs of ``block``
    consecutive dates (>= the horizon) from random starts, wrapped at the end, cut to ``n_dates``.
    Use one array for every series of a study so that their resamples are joint."""
    block = max(1, int(block))
    starts = np.random.default_rng(seed).integers(0, n_dates, (draws, n_blocks(n_dates, block)))
    return ((starts[:, :, None] + np.arange(block)) % n_dates).reshape(draws, -1)[:, :n_dates]


def bootstrap_interval(estimate: float, resampled: np.ndarray, n_units: int,
                       bounds: tuple[float, float] = (-math.inf, math.inf)) -> tuple[float, float]:
    """estimate +- t(n_units - 1) x the bootstrap standard error x sqrt(n / (n - 1)) (a resample's
    statistic varies (n - 1) / n times as much as one over new units would), within ``bounds``."""
    se = float(np.nanstd(resampled, ddof=1)) * math.sqrt(n_units / (n_units - 1))
    half = critical_t(n_units - 1) * se
    return max(bounds[0], estimate - half), min(bounds[1], estimate + half)


@dataclass(frozen=True)
class MeanInference:
    """What a series of per-date values says about its mean: the estimate, its interval, the
    sign-flip p (one-sided: mean > 0; two-sided) and the n behind them."""

    mean: float
    low: float
    high: float
    p_greater: float
    p_two_sided: float
    n_dates: int
    n_blocks: int
    horizon: int

    @property
    def method(self) -> str:
        if self.horizon <= 1:
            return f"sign-flip test and t interval over {self.n_dates} dates"
        return (f"sign-flip test and interval over {self.n_blocks} blocks of {self.horizon} consecutive dates "
                f"({self.n_dates} dates; neighbouring blocks' covariance added back)")


def infer_mean(values: np.ndarray, horizon: int = 1) -> MeanInference:
    """``MeanInference`` of per-date ``values`` (date order, NaN dropped) under ``horizon``-session labels."""
    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    low, high = mean_interval(x, horizon)
    return MeanInference(float(x.mean()) if len(x) else float("nan"), low, high, sign_flip_p(x, horizon),
                         sign_flip_p(x, horizon, "two-sided"), len(x), n_blocks(len(x), horizon), max(1, int(horizon)))
