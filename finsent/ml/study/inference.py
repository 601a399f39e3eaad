"""The study's inference over dates, in one small place.

The grid averages each cell's per-date ICs over blocks of ``h`` consecutive decision dates and
skips ``h - 1`` dates between two blocks (``grid.date_blocks``), so that the ``h``-session targets
of two blocks never share a session: the block means are then independent under no signal
whatever the signal's own persistence (back-to-back blocks are not: with a persistent signal the
ends of neighbouring blocks share their returns, and a sign-flip over them rejected 8-10% at 5% in
simulation; thinning to single dates h apart holds the level too, but keeps 1/h of the dates where
blocks keep about half). What is left is inference over independent values, done with the
project's primitives (``finsent.ml.overlap``, at horizon 1): a two-sided sign-flip p (exact below
0.01) and a t(n - 1) interval of the mean. The books' Sharpe intervals resample whole holding
periods (blocks of ``k`` sessions).

``finsent.ml.overlap.infer_mean(values, h)`` is the other way to the same level: back-to-back
blocks of h dates with the covariance of neighbouring blocks added back (a design effect), which
keeps every date (bench/overlap_simulation.py: 1.7-6.3% at 5% with drifting predictions, h = 1-20).
"""

from __future__ import annotations

import math

import numpy as np

from finsent.ml.overlap import critical_t, sign_flip_p

BOOTSTRAP_DRAWS = 1999
BOOTSTRAP_SEED = 29
NAN = float("nan")


def two_sided_p(values: np.ndarray) -> float:
    """Two-sided sign-flip p that the mean of independent, under the null symmetric ``values`` is 0:
    twice the smaller one-sided p (``finsent.ml.stats.sign_flip_p``), at most 1."""
    return sign_flip_p(np.asarray(values, dtype=np.float64), alternative="two-sided")


def mean_interval(values: np.ndarray) -> tuple[float, float, float]:
    """(mean, 95% low, high) of independent values: mean +- t(n - 1) x sd / sqrt(n); NaN bounds with
    fewer than two values or no spread."""
    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    if len(x) == 0:
        return NAN, NAN, NAN
    mean = float(x.mean())
    if len(x) < 2 or not np.std(x) > 0:
        return mean, NAN, NAN
    half = critical_t(len(x) - 1) * float(np.std(x, ddof=1)) / math.sqrt(len(x))
    return mean, mean - half, mean + half


def sharpe(returns: np.ndarray, periods_per_year: float) -> float:
    """Annualised Sharpe ratio of per-session returns (no risk-free rate: a long-short is self-financed,
    and a long-only book here is measured against the universe); NaN without spread."""
    x = np.asarray(returns, dtype=np.float64)
    sd = float(np.std(x, ddof=1)) if len(x) > 1 else NAN
    return float(x.mean() / sd * math.sqrt(periods_per_year)) if sd > 0 else NAN


def sharpe_interval(returns: np.ndarray, block: int, periods_per_year: float) -> tuple[float, float]:
    """95% interval of the annualised Sharpe ratio: whole blocks of ``block`` sessions (a book's holding
    periods) resampled with replacement, the estimate +- t(B - 1) x the bootstrap standard error
    (studentized, as the source comparison's intervals; B blocks)."""
    x = np.asarray(returns, dtype=np.float64)
    blocks = [x[i:i + block] for i in range(0, len(x), block)]
    n = len(blocks)
    estimate = sharpe(x, periods_per_year)
    if n < 2 or not math.isfinite(estimate):
        return NAN, NAN
    draws = np.random.default_rng([BOOTSTRAP_SEED, n, block]).integers(0, n, (BOOTSTRAP_DRAWS, n))
    values = np.array([sharpe(np.concatenate([blocks[i] for i in draw]), periods_per_year) for draw in draws])
    se = float(np.nanstd(values, ddof=1)) * math.sqrt(n / (n - 1))
    half = critical_t(n - 1) * se
    return estimate - half, estimate + half
