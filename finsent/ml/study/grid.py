"""The grid: every (signal, target, horizon) cell's mean rank IC, honestly for overlapping horizons.

Per cell: each decision date's Spearman IC across stocks (``finsent.ml.stats.per_date_ic``: at
least three stocks with both values, and some spread), on blocks of ``h`` consecutive decision
dates with ``h - 1`` dates skipped between two blocks, counted back from the newest date with an IC
(``date_blocks``: the h-session targets of two blocks never share a session, so the blocks are
independent under no signal; ``finsent.ml.study.inference``). Its ``sessions`` are the dates used,
its ``blocks`` the independent units; the mean IC, its 95% interval (t over the block means) and a
two-sided sign-flip p over the block means. The p of every cell with a verdict is
adjusted over the whole grid (Holm: the chance of any false ``signal`` in the study stays under
5%). ``signal`` needs an adjusted p < 0.05 on at least ``MIN_SESSIONS_FOR_VERDICT`` dates, the
evaluation's minimum, counted in blocks; below it a cell is ``too few sessions`` (no p, no interval).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from finsent.ml.stats import MIN_SESSIONS_FOR_VERDICT, holm, per_date_ic
from finsent.ml.study.inference import mean_interval, two_sided_p
from finsent.ml.study.panel import Panel

SIGNIFICANCE = 0.05
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
    blocks: int  # independent blocks of them (h consecutive dates, h - 1 skipped between two)
    stocks: float  # mean stocks per date
    p: float
    p_adjusted: float = NAN
    verdict: str = "too few sessions"


def date_blocks(dates: list, available, horizon: int) -> list[list]:
    """Blocks of ``horizon`` consecutive session ``dates`` with ``horizon - 1`` dates skipped between
    two blocks, counted back from the newest date that is ``available`` (has a value); each block
    holds its available dates (empty blocks are left out), oldest block first. The targets of two
    blocks never share a session, so their values are independent under no signal."""
    have = set(available)
    positions = [i for i, d in enumerate(dates) if d in have]
    if not positions:
        return []
    blocks, end = [], positions[-1]
    while end >= 0:
        block = [dates[i] for i in range(max(0, end - horizon + 1), end + 1) if dates[i] in have]
        if block:
            blocks.append(block)
        end -= 2 * horizon - 1
    return blocks[::-1]


def block_means(values: pd.Series, blocks: list[list]) -> np.ndarray:
    """The mean of ``values`` (indexed by date) over each block's dates."""
    return np.array([float(values.reindex(block).mean()) for block in blocks])


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
    blocks = date_blocks(panel.dates, ics.index, horizon)
    kept = [d for block in blocks for d in block]
    values = block_means(ics, blocks)
    stocks = frame[frame["session_date"].isin(set(kept))].groupby("session_date").size()
    mean, low, high = mean_interval(values)
    cell = Cell(signal, target, horizon, float(ics.reindex(kept).mean()) if kept else NAN, NAN, NAN, len(kept),
                len(blocks), float(stocks.mean()) if len(stocks) else 0.0, NAN)
    if len(values) >= MIN_SESSIONS_FOR_VERDICT:
        # the interval of the mean of the block means, moved to the mean over the dates (equal when
        # every block is full; with a partial block they differ by a hair)
        low, high = low - mean + cell.ic, high - mean + cell.ic
        cell.ic_low, cell.ic_high, cell.p = low, high, two_sided_p(values)
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
    stocks over the blocks' dates, with a 95% interval over the blocks, and top minus bottom (``spread``)."""
    frame = cell_frame(panel, panel.targets(horizon), signal, "return")
    frame = frame[frame.groupby("session_date")["ret"].transform("size") >= 2]
    blocks = date_blocks(panel.dates, frame["session_date"].unique(), horizon)
    frame = frame[frame["session_date"].isin({d for block in blocks for d in block})]
    frame = frame.assign(q=quantile_of(frame["mean_p_up"], frame["session_date"], quantiles),
                         ret=frame["ret"] / horizon)
    top = frame.groupby("session_date")["q"].transform("max")
    by_date = frame.groupby(["session_date", "q"])["ret"].mean().unstack()
    spread = (frame[frame["q"] == top].groupby("session_date")["ret"].mean()
              - frame[frame["q"] == 0].groupby("session_date")["ret"].mean())
    rows = [(str(q), *mean_interval(block_means(by_date[q], blocks)), int(by_date[q].notna().sum()), len(blocks))
            for q in by_date.columns]
    rows.append(("spread", *mean_interval(block_means(spread, blocks)), int(spread.notna().sum()), len(blocks)))
    return pd.DataFrame(rows, columns=["quantile", "mean", "low", "high", "sessions", "blocks"]).assign(
        signal=signal, horizon=horizon)


def rank_autocorrelation(panel: Panel, signal: str, lag: int) -> tuple[float, float, float, int]:
    """The signal's Spearman correlation across stocks between decision dates ``lag`` sessions apart
    (how much of the book a rebalance keeps), on disjoint pairs of dates: mean, 95% interval, pairs."""
    frame = panel.signals[["ticker", "session_date", signal]].dropna()
    position = {d: i for i, d in enumerate(panel.dates)}
    frame = frame.assign(pos=frame["session_date"].map(position))
    later = frame.assign(pos=frame["pos"] - lag).rename(columns={signal: "later"})
    pairs = frame.merge(later[["ticker", "pos", "later"]], on=["ticker", "pos"])
    pairs = pairs[pairs["pos"] % (2 * lag) < lag]  # pairs (t, t + lag) that share no date
    pairs = pairs.rename(columns={signal: "mean_p_up", "later": "ret"})
    values = per_date_ic(pairs[["session_date", "mean_p_up", "ret"]])["ic"].dropna().to_numpy()
    return (*mean_interval(values), len(values))
