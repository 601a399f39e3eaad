"""The grid: every (signal, target, horizon) cell's mean rank IC, honestly for overlapping horizons.

Per cell: each decision date's Spearman IC across stocks (``finsent.ml.stats.per_date_ic``: at
least three stocks with both values, and some spread), on the decision dates ``h`` sessions apart,
counted back from the newest one with an IC (so the h-session windows of the targets never
overlap; ``finsent.ml.study.inference``). Its ``sessions`` are those dates; the mean IC, its 95%
interval (t over the dates) and a two-sided sign-flip p. The p of every cell with a verdict is
adjusted over the whole grid (Holm: the chance of any false ``signal`` in the study stays under
5%). ``signal`` needs an adjusted p < 0.05 on at least ``MIN_SESSIONS_FOR_VERDICT`` dates, the
evaluation's minimum; below it a cell is ``too few sessions`` (no p, no interval).
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
    sessions: int  # decision dates behind the IC (h sessions apart)
    stocks: float  # mean stocks per date
    p: float
    p_adjusted: float = NAN
    verdict: str = "too few sessions"


def spaced_dates(dates: list, available, horizon: int) -> list:
    """Of the ordered session ``dates``, those ``horizon`` apart counted back from the newest one that
    is ``available`` (has an IC), and available themselves."""
    have = set(available)
    positions = [i for i, d in enumerate(dates) if d in have]
    if not positions:
        return []
    last = positions[-1]
    return [dates[i] for i in positions if (last - i) % horizon == 0]


def cell_frame(panel: Panel, targets: pd.DataFrame, signal: str, target: str) -> pd.DataFrame:
    """session_date, mean_p_up (the signal) and ret (the target) per (ticker, date), complete rows only:
    the columns ``per_date_ic`` reads."""
    frame = panel.signals[["ticker", "session_date", signal]].merge(
        targets[["ticker", "session_date", target]], on=["ticker", "session_date"])
    frame = frame.rename(columns={signal: "mean_p_up", target: "ret"}).dropna(subset=["mean_p_up", "ret"])
    return frame[np.isfinite(frame["mean_p_up"]) & np.isfinite(frame["ret"])]


def _cell(panel: Panel, targets: pd.DataFrame, signal: str, target: str, horizon: int) -> Cell:
    frame = cell_frame(panel, targets, signal, target)
    ics = per_date_ic(frame).dropna()
    kept = set(spaced_dates(panel.dates, ics["session_date"], horizon))
    values = ics.loc[ics["session_date"].isin(kept), "ic"].to_numpy()
    stocks = frame[frame["session_date"].isin(kept)].groupby("session_date").size()
    mean, low, high = mean_interval(values)
    cell = Cell(signal, target, horizon, mean, NAN, NAN, len(values), float(stocks.mean()) if len(stocks) else 0.0,
                NAN)
    if len(values) >= MIN_SESSIONS_FOR_VERDICT:
        cell.ic_low, cell.ic_high, cell.p = low, high, two_sided_p(values)
    return cell


def build_grid(panel: Panel, signals: tuple[str, ...], targets: tuple[str, ...],
               horizons: tuple[int, ...]) -> list[Cell]:
    """Every cell, its p adjusted over the grid (Holm) and its verdict."""
    cells = []
    for horizon in horizons:
        frame = panel.targets(horizon)
        cells += [_cell(panel, frame, s, t, horizon) for s in signals for t in targets]
    tested = [c for c in cells if c.sessions >= MIN_SESSIONS_FOR_VERDICT and np.isfinite(c.p)]
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
    stocks over the spaced dates, with a 95% interval over those dates, and top minus bottom (``spread``)."""
    frame = cell_frame(panel, panel.targets(horizon), signal, "return")
    frame = frame[frame.groupby("session_date")["ret"].transform("size") >= 2]
    frame = frame[frame["session_date"].isin(set(spaced_dates(panel.dates, frame["session_date"], horizon)))]
    frame = frame.assign(q=quantile_of(frame["mean_p_up"], frame["session_date"], quantiles),
                         ret=frame["ret"] / horizon)
    top = frame.groupby("session_date")["q"].transform("max")
    by_date = frame.groupby(["session_date", "q"])["ret"].mean().unstack()
    spread = (frame[frame["q"] == top].groupby("session_date")["ret"].mean()
              - frame[frame["q"] == 0].groupby("session_date")["ret"].mean())
    rows = [(str(q), *mean_interval(by_date[q].to_numpy()), int(by_date[q].notna().sum())) for q in by_date.columns]
    rows.append(("spread", *mean_interval(spread.to_numpy()), int(spread.notna().sum())))
    return pd.DataFrame(rows, columns=["quantile", "mean", "low", "high", "sessions"]).assign(
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
