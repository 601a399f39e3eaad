"""Books a Korean account can hold: rebalanced every ``k`` sessions and held ``k``, traded at the
open and the close, paying the costs of their trade dates.

At each rebalance, before the open of session t, the stocks with the signal and a session at t are
put in quantiles (``grid.quantile_of``). The long leg is the top quantile, the short leg the bottom
one, equal weights within each (a ``long_short`` book: +1 long, -1 short). A ``long_only`` book is
the long leg against the equal-weight average of the same stocks (a benchmark, not a position, so
it trades nothing). A ``long_short`` book has no short leg on a rebalance inside the short-sale ban
(``finsent.ml.costs.SHORT_SALE_BAN``): it is long-only there. With a no-trade ``band`` a name held
in a leg stays in it while its rank lies within ``band`` (a share of the cross-section) beyond the
leg's quantile; new names enter only from the quantile itself.

Trades, in units of the book's notional (target weights; the drift of a held position is not
traded): names that leave a leg, and the part by which a position shrinks, go out at the close of
the session before the rebalance; names that enter, and growth, come in at the rebalance's open.
A name kept from one period to the next is held overnight (its return on the rebalance session is
close to close). Each unit pays ``cost_bps`` a side, and each unit sold (a long sold, a short sold
short) the sell tax in force on that trade date (``finsent.ml.costs.sell_tax_bps``). Everything is
sold or covered at the close of the last session. Returns are per session: each position is bought
and held, so a period's per-session P&L sums to its return.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from finsent.ml.costs import short_sale_banned
from finsent.ml.overlap import block_bootstrap_indices, bootstrap_interval, n_blocks
from finsent.ml.stats import MIN_SESSIONS_FOR_VERDICT
from finsent.ml.study.grid import quantile_of
from finsent.ml.study.panel import Panel

TRADING_DAYS = 252
KINDS = ("long_short", "long_only")
NAN = float("nan")
BOOTSTRAP_DRAWS = 1999
BOOTSTRAP_SEED = 29


@dataclass
class BookDays:
    """Per session of a book: dates, gross return, units traded, units sold, costs paid, net return,
    and whether the period it belongs to had no short leg."""

    frame: pd.DataFrame


def _legs(values: pd.Series, held: np.ndarray, quantiles: int, band: float) -> tuple[np.ndarray, np.ndarray]:
    """(long, short) masks over the cross-section ``values`` (in ticker order); ``held`` the previous
    weights of the same tickers (> 0 long, < 0 short)."""
    n = len(values)
    q = min(quantiles, n)
    dates = pd.Series(0, index=values.index)
    bucket = quantile_of(values, dates, quantiles).to_numpy()
    rank_share = (values.rank(method="first").to_numpy() - 1) / n  # 0 .. (n - 1) / n
    top, bottom = bucket == q - 1, bucket == 0
    long = top | ((held > 0) & (rank_share >= (q - 1) / q - band) & ~bottom)
    short = bottom | ((held < 0) & (rank_share < 1 / q + band) & ~top)
    return long, short & ~long


def _weights(long: np.ndarray, short: np.ndarray) -> np.ndarray:
    w = np.zeros(len(long))
    if long.any():
        w[long] = 1.0 / long.sum()
    if short.any():
        w[short] = -1.0 / short.sum()
    return w


def _trades(old: np.ndarray, new: np.ndarray) -> tuple[float, float, float, float]:
    """(units out at the close, of them sold; units in at the open, of them sold short)."""
    long_out = np.maximum(0.0, np.maximum(old, 0) - np.maximum(new, 0))
    short_out = np.maximum(0.0, np.maximum(-old, 0) - np.maximum(-new, 0))
    long_in = np.maximum(0.0, np.maximum(new, 0) - np.maximum(old, 0))
    short_in = np.maximum(0.0, np.maximum(-new, 0) - np.maximum(-old, 0))
    return (float(long_out.sum() + short_out.sum()), float(long_out.sum()),
            float(long_in.sum() + short_in.sum()), float(short_in.sum()))


def _period_pnl(w: np.ndarray, base: np.ndarray, closes: np.ndarray) -> np.ndarray:
    """Per session of the period: sum_i w_i (V_ij - V_i,j-1), V = close / base (bought and held)."""
    held = w != 0
    if not held.any():
        return np.zeros(len(closes))
    value = closes[:, held] / base[held]
    steps = np.diff(np.vstack([np.ones((1, held.sum())), value]), axis=0)
    return steps @ w[held]


def book_days(panel: Panel, signal: str, hold: int, kind: str, quantiles: int, band: float,
              cost_bps: float) -> pd.DataFrame:
    """Per session: session_date, gross, units, sold, cost (a fraction), net, long_only."""
    from finsent.ml.costs import sell_tax_bps

    dates = panel.dates
    sessions = panel.sessions[panel.sessions["session_date"].isin(set(dates))]
    opens = sessions.pivot(index="session_date", columns="ticker", values="open").reindex(dates)
    closes = sessions.pivot(index="session_date", columns="ticker", values="close").reindex(dates)
    tickers = list(closes.columns)
    closes_filled = closes.ffill().to_numpy()
    signal_at = panel.signals.pivot(index="session_date", columns="ticker", values=signal).reindex(
        index=dates, columns=tickers)
    n = len(dates)
    gross, units, sold, tax = np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n)
    long_only = np.zeros(n, dtype=bool)
    weights = np.zeros(len(tickers))
    for start in range(0, n, hold):
        end = min(start + hold, n)
        day = dates[start]
        tradable = signal_at.iloc[start].notna().to_numpy() & (opens.iloc[start].to_numpy() > 0)
        values = signal_at.iloc[start][tradable]
        banned = kind == "long_only" or short_sale_banned(day)
        new = np.zeros(len(tickers))
        if len(values) >= (1 if banned else 2):
            long, short = _legs(values, weights[tradable], quantiles, band)
            new[tradable] = _weights(long, np.zeros_like(short) if banned else short)
        out, out_sold, into, into_sold = _trades(weights, new)
        if start > 0:  # out at the previous session's close, into at this open
            units[start - 1] += out
            sold[start - 1] += out_sold
            tax[start - 1] += out_sold * sell_tax_bps(dates[start - 1])
        units[start] += into
        sold[start] += into_sold
        tax[start] += into_sold * sell_tax_bps(day)
        kept = (np.sign(weights) == np.sign(new)) & (new != 0)
        previous_close = closes_filled[start - 1] if start > 0 else np.full(len(tickers), np.nan)
        base = np.where(kept, previous_close, opens.iloc[start].to_numpy())
        pnl = _period_pnl(new, base, closes_filled[start:end])
        if banned and (new > 0).any():  # against the equal-weight average of the stocks ranked
            everyone = _weights(tradable, np.zeros(len(tickers), dtype=bool))
            pnl = pnl - _period_pnl(everyone, opens.iloc[start].to_numpy(), closes_filled[start:end])
        gross[start:end] = pnl
        long_only[start:end] = banned
        weights = new
    close_out = float(np.abs(weights).sum())
    units[n - 1] += close_out
    sold[n - 1] += float(np.maximum(weights, 0).sum())
    tax[n - 1] += float(np.maximum(weights, 0).sum()) * sell_tax_bps(dates[n - 1]) if n else 0.0
    cost = (units * cost_bps + tax) / 10_000
    return pd.DataFrame({"session_date": dates, "gross": gross, "units": units, "sold": sold, "cost": cost,
                         "net": gross - cost, "long_only": long_only})


@dataclass
class Book:
    signal: str
    hold: int
    kind: str
    sessions: int
    gross_mean: float
    net_mean: float
    sharpe: float
    sharpe_low: float
    sharpe_high: float
    net_sharpe: float
    net_sharpe_low: float
    net_sharpe_high: float
    turnover: float  # units traded per session
    max_drawdown: float  # of the net book, compounded
    break_even_bps: float  # the cost a side at which the net mean is 0 (the tax still paid)
    long_only_sessions: int
    days: pd.DataFrame


def max_drawdown(returns: np.ndarray) -> float:
    wealth = np.cumprod(1 + np.asarray(returns, dtype=np.float64))
    peak = np.maximum.accumulate(np.concatenate([[1.0], wealth]))[1:]
    return float(np.max(1 - wealth / peak)) if len(wealth) else NAN


def sharpe(returns: np.ndarray, periods_per_year: float = TRADING_DAYS) -> float:
    """Annualised Sharpe ratio of per-session returns (no risk-free rate: a long-short is self-financed,
    and a long-only book here is measured against the universe); NaN without spread."""
    x = np.asarray(returns, dtype=np.float64)
    sd = float(np.std(x, ddof=1)) if len(x) > 1 else NAN
    return float(x.mean() / sd * math.sqrt(periods_per_year)) if sd > 0 else NAN


def sharpe_interval(returns: np.ndarray, block: int, periods_per_year: float = TRADING_DAYS) -> tuple[float, float]:
    """95% interval of the annualised Sharpe ratio: a circular block bootstrap of the sessions in runs of
    ``block`` (a holding period: a position's sessions stay together; ``finsent.ml.overlap``), the
    estimate +- t(B - 1) x the bootstrap standard error, B = the number of blocks."""
    x = np.asarray(returns, dtype=np.float64)
    units = n_blocks(len(x), block)
    estimate = sharpe(x, periods_per_year)
    if units < 2 or not math.isfinite(estimate):
        return NAN, NAN
    indices = block_bootstrap_indices(len(x), block, BOOTSTRAP_DRAWS, [BOOTSTRAP_SEED, len(x), block])
    resampled = x[indices]
    sd = resampled.std(axis=1, ddof=1)
    values = np.where(sd > 0, resampled.mean(axis=1) / np.where(sd > 0, sd, 1.0) * math.sqrt(periods_per_year), NAN)
    return bootstrap_interval(estimate, values, units)


def summarize(signal: str, hold: int, kind: str, days: pd.DataFrame, cost_bps: float) -> Book:
    """The book's numbers; Sharpe intervals only with at least MIN_SESSIONS_FOR_VERDICT holding periods."""
    n = len(days)
    gross, net = days["gross"].to_numpy(), days["net"].to_numpy()
    total_units = float(days["units"].sum())
    tax_paid = float(days["cost"].sum()) - total_units * cost_bps / 10_000
    intervals = [(NAN, NAN), (NAN, NAN)]
    if math.ceil(n / hold) >= MIN_SESSIONS_FOR_VERDICT:
        intervals = [sharpe_interval(x, hold, TRADING_DAYS) for x in (gross, net)]
    break_even = (float(gross.sum()) - tax_paid) / total_units * 10_000 if total_units > 0 else NAN
    return Book(signal, hold, kind, n, float(gross.mean()) if n else NAN, float(net.mean()) if n else NAN,
                sharpe(gross, TRADING_DAYS), *intervals[0], sharpe(net, TRADING_DAYS), *intervals[1],
                total_units / n if n else NAN, max_drawdown(net), break_even, int(days["long_only"].sum()), days)


def build_books(panel: Panel, signals: tuple[str, ...], holds: tuple[int, ...], quantiles: int, band: float,
                cost_bps: float) -> list[Book]:
    return [summarize(signal, hold, kind, book_days(panel, signal, hold, kind, quantiles, band, cost_bps), cost_bps)
            for signal in signals for hold in holds for kind in KINDS]
