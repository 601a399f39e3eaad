"""The grid: every (signal, target, horizon) cell's mean rank IC, honestly for overlapping horizons.

Per cell: each decision date's Spearman IC across stocks (``finsent.ml.stats.per_date_ic``: at
least three stocks with both values, and some spread), in date order, and what
``finsent.ml.overlap.infer_mean`` says of their mean with blocks of ``h`` consecutive dates (the
h-session targets of neighbouring dates share up to h - 1 sessions: blocks b and b + 2 share none,
and the covariance of neighbouring blocks is added back as a design effect; at least ``MIN_BLOCK``
dates a block, for signals and targets that persist): the mean IC over every date, its 95%
interval, a two-sided sign-flip p (exact below 0.01). Its ``sessions`` are the dates, its
``blocks`` the units. The p of every cell with a verdict is adjusted over the whole grid (Holm: the
chance of any false ``signal`` in the study stays under 5%). ``signal`` needs an adjusted p < 0.05
on at least ``MIN_SESSIONS_FOR_VERDICT`` blocks (the evaluation's minimum: 10 x h dates, as the
skill test's, and 20 at h = 1); below it a cell is ``too few sessions`` (no p, no interval). Until
issue 34 the grid thinned the dates instead (blocks of h with h - 1 dates skipped between two): the
same idea, about half the dates. bench/study_null.py measures the level and the coverage (docs/study-figures.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from finsent.ml.overlap import infer_mean
from finsent.ml.stats import MIN_SESSIONS_FOR_VERDICT, holm, per_date_ic
from finsent.ml.study.panel import Panel

SIGNIFICANCE = 0.05
# The shortest block of the grid's inference. Blocks of h dates allow for the overlap of h-session
# targets; a signal and a target that both persist from one date to the next (attention against
# volume) make neighbouring dates' ICs covary even at h = 1, where single dates as units covered 72.7%
# of 95% intervals (bench/study_null.py, 150 draws of 250 sessions) and blocks of 2 with the design
# effect 93% (200 draws): docs/study-figures.md.
MIN_BLOCK = 2
VERDICTS = ("signal", "no signal", "too few sessions")
NAN = float("nan")


@dataclass
class Cell:
    signal: str
    target: str
    horizon: int
    ic: float
    ic_low: float
    ic_high: float
    sessions: int  # decision dates behind the IC
    blocks: int  # blocks of h consecutive dates among them (the units of the test and the interval)
    stocks: float  # mean stocks per date
    p: float
    p_adjusted: float = NAN
    verdict: str = "too few sessions"


def cell_frame(panel: Panel, targets: pd.DataFrame, signal: str, target: str) -> pd.DataFrame:
    """session_date, mean_p_up (the signal) and ret (the target) per (ticker, date), complete rows only:
    the columns ``per_date_ic`` reads."""
    frame = panel.signals[["ticker", "session_date", signal]].merge(
        targets[["ticker", "session_date", target]], on=["ticker", "session_date"])
    frame = frame.rename(columns={signal: "mean_p_up", target: "ret"}).dropna(subset=["mean_p_up", "ret"])
    return frame[np.isfinite(frame["mean_p_up"]) & np.isfinite(frame["ret"])]


def _cell(panel: Panel, targets: pd.DataFrame, signal: str, target: str, horizon: int) -> Cell:
    frame = cell_frame(panel, targets, signal, target)
    ics = per_date_ic(frame).dropna().set_index("session_date")["ic"]
    # in date order; a date without an IC is left out, so a block of h values may span more than h
    # sessions, which only lowers the overlap between neighbouring blocks that the design effect allows for
    inference = infer_mean(ics.sort_index().to_numpy(), max(horizon, MIN_BLOCK))
    stocks = frame[frame["session_date"].isin(set(ics.index))].groupby("session_date").size()
    cell = Cell(signal, target, horizon, inference.mean, NAN, NAN, inference.n_dates, inference.n_blocks,
                float(stocks.mean()) if len(stocks) else 0.0, NAN)
    if inference.n_blocks >= MIN_SESSIONS_FOR_VERDICT:
        cell.ic_low, cell.ic_high, cell.p = inference.low, inference.high, inference.p_two_sided
    return cell


def build_grid(panel: Panel, signals: tuple[str, ...], targets: tuple[str, ...],
               horizons: tuple[int, ...]) -> list[Cell]:
    """Every cell, its p adjusted over the grid (Holm) and its verdict."""
    cells = []
    for horizon in horizons:
        frame = panel.targets(horizon)
        cells += [_cell(panel, frame, s, t, horizon) for s in signals for t in targets]
    tested = [c for c in cells if c.blocks >= MIN_SESSIONS_FOR_VERDICT and np.isfinite(c.p)]
    for cell, adjusted in zip(tested, holm([c.p for c in tested])):
        cell.p_adjusted = adjusted
        cell.verdict = "signal" if adjusted < SIGNIFICANCE else "no signal"
    order = {(s, t, h): i for i, (s, t, h) in enumerate((s, t, h) for s in signals for t in targets
                                                          for h in horizons)}
    return sorted(cells, key=lambda c: order[(c.signal, c.target, c.horizon)])


def quantile_of(values: pd.Series, dates: pd.Series, quantiles: int) -> pd.Series:
    """Each value's quantile within its date, 0 (lowest) .. q - 1, q = min(quantiles, stocks that date):
    floor((rank - 1) x q / n) on ordinal ranks (ties broken by order, so every bucket is filled)."""
    rank = values.groupby(dates).rank(method="first")
    size = values.groupby(dates).transform("size")
    q = np.minimum(quantiles, size)
    return np.floor((rank - 1) * q / size).astype(int)


def quantile_returns(panel: Panel, signal: str, horizon: int, quantiles: int) -> pd.DataFrame:
    """Per quantile of the signal (0 = lowest): the mean return per session (the h-session return / h) of its
    stocks over the decision dates, with a 95% interval over blocks of h dates (``finsent.ml.overlap``), and
    top minus bottom (``spread``)."""
    frame = cell_frame(panel, panel.targets(horizon), signal, "return")
    frame = frame[frame.groupby("session_date")["ret"].transform("size") >= 2]
    frame = frame.assign(q=quantile_of(frame["mean_p_up"], frame["session_date"], quantiles),
                         ret=frame["ret"] / horizon)
    top = frame.groupby("session_date")["q"].transform("max")
    by_date = frame.groupby(["session_date", "q"])["ret"].mean().unstack().sort_index()
    spread = (frame[frame["q"] == top].groupby("session_date")["ret"].mean()
              - frame[frame["q"] == 0].groupby("session_date")["ret"].mean()).sort_index()
    rows = []
    for name, series in [*((str(q), by_date[q]) for q in by_date.columns), ("spread", spread)]:
        inference = infer_mean(series.to_numpy(), horizon)
        rows.append((name, inference.mean, inference.low, inference.high, inference.n_dates, inference.n_blocks))
    return pd.DataFrame(rows, columns=["quantile", "mean", "low", "high", "sessions", "blocks"]).assign(
        signal=signal, horizon=horizon)


def rank_autocorrelation(panel: Panel, signal: str, lag: int) -> tuple[float, float, float, int]:
    """The signal's Spearman correlation across stocks between decision dates ``lag`` sessions apart
    (how much of the book a rebalance keeps): mean, 95% interval, pairs of dates. Pairs (t, t + lag) in
    blocks of ``lag`` consecutive t share dates only with the neighbouring blocks' pairs, the overlap
    ``finsent.ml.overlap`` allows for with blocks of h = lag."""
    frame = panel.signals[["ticker", "session_date", signal]].dropna()
    position = {d: i for i, d in enumerate(panel.dates)}
    frame = frame.assign(pos=frame["session_date"].map(position))
    later = frame.assign(pos=frame["pos"] - lag).rename(columns={signal: "later"})
    pairs = frame.merge(later[["ticker", "pos", "later"]], on=["ticker", "pos"])
    pairs = pairs.rename(columns={signal: "mean_p_up", "later": "ret"})
    ics = per_date_ic(pairs[["session_date", "mean_p_up", "ret"]]).dropna().sort_values("session_date")
    inference = infer_mean(ics["ic"].to_numpy(), lag)
    return inference.mean, inference.low, inference.high, inference.n_dates
