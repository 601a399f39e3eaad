"""The overlap-aware primitives (finsent.ml.overlap): exact sign-flip counts, blocks of h dates, the
design effect of neighbouring blocks, intervals and their textbook alternatives, checked by hand,
against brute force and on a small simulation of h-session labels with drifting predictions."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats

from finsent.ml.overlap import (
    EXACT_FLIP_UNITS,
    MAX_FLIP_UNITS,
    block_bootstrap_indices,
    block_sums,
    bootstrap_interval,
    design_effect,
    effective_units,
    flip_share,
    flip_units,
    infer_mean,
    mean_interval,
    n_blocks,
    newey_west_interval,
    sign_flip_p,
    smallest_p,
    t_test,
)


@pytest.mark.parametrize("n", [1, 2, 5, 9, 14])
def test_flip_share_counts_every_pattern(n):
    rng = np.random.default_rng(n)
    units = rng.normal(size=n)
    for threshold in (units.sum() - 1e-9, 0.0, -0.3, 0.7):  # (a tie at the sum itself is the caller's tolerance)
        brute = np.mean([np.dot(signs, units) >= threshold for signs in itertools.product((1, -1), repeat=n)])
        assert flip_share(units, threshold) == pytest.approx(brute, abs=1e-15)


@pytest.mark.parametrize("n", [EXACT_FLIP_UNITS + 1, 33, MAX_FLIP_UNITS])
def test_beyond_the_exact_count_small_shares_are_still_exact(n):
    """Equal units: the share at or above a threshold is a binomial tail, known exactly. Small
    shares (a strong signal) are counted, not estimated; large ones are the seeded screen's
    estimate, within its Monte Carlo error."""
    units = np.ones(n)
    for k in (n, n - 2, n - 5):  # k units positive: sum 2k - n
        exact = stats.binom.sf(k - 1, n, 0.5)
        assert flip_share(units, 2 * k - n - 1e-9) == pytest.approx(exact, rel=1e-12)
    half = n // 2 + 1
    assert flip_share(units, 2 * half - n - 1e-9) == pytest.approx(stats.binom.sf(half - 1, n, 0.5), abs=0.015)


def test_sign_flip_p_by_hand_and_its_floor():
    assert sign_flip_p(np.array([3.0, 1.0, -1.0])) == 3 / 8  # sums >= 3: (+,+,-), (+,+,+), (+,-,-)
    assert sign_flip_p(np.array([1.0, 1.0])) == 0.25 and sign_flip_p(np.array([])) == 1.0
    assert sign_flip_p(np.array([1.0, np.nan, 1.0])) == 0.25  # NaN dates are dropped
    assert sign_flip_p(np.ones(30)) == 2.0 ** -30 and sign_flip_p(np.ones(100)) == 2.0 ** -40  # 40 runs of dates
    assert sign_flip_p(-np.ones(5), alternative="less") == 2.0 ** -5
    assert sign_flip_p(np.array([3.0, 1.0, -1.0]), alternative="two-sided") == 2 * 3 / 8
    assert smallest_p(30) == 2.0 ** -30 and smallest_p(100) == 2.0 ** -40 and smallest_p(60, 5) == 2.0 ** -12


def test_blocks_of_h_dates_are_the_units():
    values = np.arange(1.0, 12.0)  # 11 dates, h = 5: blocks 1-5, 6-10, 11
    assert list(block_sums(values, 5)) == [15.0, 40.0, 11.0] and n_blocks(11, 5) == 3
    assert len(flip_units(np.ones(200), 1)) == MAX_FLIP_UNITS  # merged into 40 runs
    assert flip_units(np.ones(200), 1).sum() == 200
    # three positive blocks: p over 2^3 patterns (not 2^11); with one block's covariance added back
    assert sign_flip_p(values, 5) >= 1 / 8 and sign_flip_p(values) == 2.0 ** -11


def test_the_design_effect_adds_back_what_neighbouring_blocks_share():
    rng = np.random.default_rng(1)
    independent = rng.normal(size=4000)
    assert design_effect(independent, 1) == 1.0  # no overlap at horizon 1, whatever the data
    assert design_effect(independent, 5) == pytest.approx(1.0, abs=0.05)
    shared = np.convolve(rng.normal(size=4001), [1.0, 1.0], mode="valid")  # MA(1): lag-1 correlation 1/2
    assert design_effect(shared, 5) == pytest.approx(2.0, abs=0.1)
    assert 1.0 <= design_effect(rng.normal(size=12), 3) <= 2.0


def test_mean_interval_and_t_test_at_horizon_one_are_the_textbook_t():
    rng = np.random.default_rng(2)
    x = rng.normal(0.2, 1.0, 25)
    half = stats.t.ppf(0.975, 24) * x.std(ddof=1) / math.sqrt(25)
    assert mean_interval(x) == pytest.approx((x.mean() - half, x.mean() + half))
    t, p = t_test(x)
    assert (t, p) == pytest.approx((stats.ttest_1samp(x, 0).statistic, stats.ttest_1samp(x, 0).pvalue))
    assert newey_west_interval(x, 0) == pytest.approx(mean_interval(x))
    assert np.isnan(mean_interval(x[:1])[0]) and np.isnan(mean_interval(x[:5], 5)[0])  # one block: none


def test_block_bootstrap_resamples_runs_of_dates():
    draws = block_bootstrap_indices(11, 3, 50, seed=4)
    assert draws.shape == (50, 11) and draws.min() >= 0 and draws.max() <= 10
    for row in draws:
        for start in range(0, 9, 3):  # each run of 3 is consecutive (wrapping at the end)
            assert all((row[start + i + 1] - row[start + i]) % 11 == 1 for i in range(2))
    assert np.array_equal(block_bootstrap_indices(11, 1, 5, seed=[20, 11]),
                          np.random.default_rng([20, 11]).integers(0, 11, (5, 11)))  # h = 1: plain resampling
    low, high = bootstrap_interval(0.1, np.array([0.0, 0.2, 0.1, 0.1]), 10, bounds=(-0.05, 1.0))
    assert low == -0.05 and high == pytest.approx(0.1 + stats.t.ppf(0.975, 9) * np.std([0, .2, .1, .1], ddof=1)
                                                  * math.sqrt(10 / 9))


def test_effective_units_and_infer_mean():
    assert effective_units(np.ones(10)) == pytest.approx(10) and effective_units(np.array([1.0, 0, 0])) == 1
    alternating = np.tile(np.r_[np.full(4, 1.5), np.full(4, 0.5)], 5)  # blocks of 4: 6, 2, 6, 2, ...
    result = infer_mean(alternating, horizon=4)
    assert (result.n_dates, result.n_blocks, result.horizon) == (40, 10, 4)
    assert result.low < result.mean == 1.0 < result.high and result.p_greater == 2.0 ** -10
    # the same blocks in a trend (6, 6, 6, 6, 6, 2, ...): neighbours look alike, the sum is shrunk by
    # kappa = sqrt(2) and p counts the patterns above 40 / sqrt(2): all-plus, one 2 and two 2s flipped
    trend = infer_mean(np.r_[np.full(20, 1.5), np.full(20, 0.5)], horizon=4)
    assert trend.p_greater == (1 + 5 + 10) / 2 ** 10
    assert "10 blocks of 4 consecutive dates" in result.method


def _overlapping_series(rng, dates: int, horizon: int, rho: float) -> np.ndarray:
    """Per-date products of a drifting no-skill prediction and an h-session label (the mechanism
    of the balanced-accuracy and IC scores): neighbouring dates share h - 1 sessions."""
    sessions = rng.normal(size=dates + horizon - 1)
    labels = np.sign(np.convolve(sessions, np.ones(horizon), mode="valid"))
    mood = np.empty(dates)
    mood[0] = rng.normal()
    for t in range(1, dates):
        mood[t] = rho * mood[t - 1] + math.sqrt(1 - rho ** 2) * rng.normal()
    return np.sign(mood + 0.3 * rng.normal(size=dates)) * labels


def test_horizon_five_no_skill_series_hold_their_level_and_cover():
    """600 no-skill series of 100 dates, horizon 5, a mood with AR 0.9: flipping single dates
    rejects far more than 5%; blocks of 5 with the design effect hold 6%, and
    the block interval covers 0 where Newey-West with h - 1 lags falls short."""
    rng = np.random.default_rng(34)
    series = [_overlapping_series(rng, 100, 5, 0.9) for _ in range(600)]
    by_dates = np.mean([sign_flip_p(x) < 0.05 for x in series])
    by_blocks = np.mean([sign_flip_p(x, 5) < 0.05 for x in series])
    covers = np.mean([mean_interval(x, 5)[0] <= 0 <= mean_interval(x, 5)[1] for x in series])
    newey_west = np.mean([newey_west_interval(x, 4)[0] <= 0 <= newey_west_interval(x, 4)[1] for x in series])
    assert by_dates > 0.08 and by_blocks <= 0.06, (by_dates, by_blocks)
    assert covers >= 0.93 and newey_west < covers, (covers, newey_west)
