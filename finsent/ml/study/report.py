"""A study as one JSON object (what ``--json`` prints and ``studies.report`` keeps) and as the
terminal's tables, made from that object, so a rerun prints the saved study exactly."""

from __future__ import annotations

import math
from dataclasses import asdict
from typing import Any

import pandas as pd

from finsent.ml.costs import SELL_TAX_TABLE, SHORT_SALE_BAN
from finsent.ml.stats import MIN_SESSIONS_FOR_VERDICT
from finsent.ml.study.books import Book
from finsent.ml.study.grid import Cell

CELL_KEYS = ("signal", "target", "horizon", "ic", "ic_low", "ic_high", "sessions", "p", "p_adjusted", "verdict",
             "blocks", "stocks")
BOOK_KEYS = ("signal", "hold", "kind", "net_sharpe", "net_sharpe_low", "net_sharpe_high", "turnover",
             "break_even_bps", "sessions", "gross_mean", "net_mean", "sharpe", "sharpe_low", "sharpe_high",
             "max_drawdown", "long_only_sessions")


def _clean(value: Any) -> Any:
    """JSON has no NaN: a missing number is null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item"):  # numpy scalars
        return _clean(value.item())
    return value


def to_json(name: str, backtest: str, spec: dict, cells: list[Cell], books: list[Book], quantiles: pd.DataFrame,
            autocorrelation: list[dict], counts: dict[str, Any]) -> dict[str, Any]:
    grid = [{k: _clean(asdict(c)[k]) for k in CELL_KEYS} for c in cells]
    book_rows = [{k: _clean(getattr(b, k)) for k in BOOK_KEYS} for b in books]
    return {
        "study": name, "backtest": backtest, "spec": spec, "grid": grid, "books": book_rows,
        "quantile_returns": [{k: _clean(v) for k, v in row.items()} for row in quantiles.to_dict("records")],
        "rank_autocorrelation": [{k: _clean(v) for k, v in row.items()} for row in autocorrelation],
        "counts": {k: _clean(v) for k, v in counts.items()},
        "costs": {"cost_bps": spec["cost_bps"], "sell_tax": SELL_TAX_TABLE,
                  "short_sale_ban": [SHORT_SALE_BAN[0].isoformat(), SHORT_SALE_BAN[1].isoformat()]},
        "method": {"min_sessions_for_verdict": MIN_SESSIONS_FOR_VERDICT, "adjustment": "holm",
                   "dates": "blocks of h consecutive decision dates, h - 1 skipped between two (targets of two "
                            "blocks never overlap)",
                   "interval": "mean +- t(B - 1) x sd / sqrt(B) over the B block means",
                   "p": "two-sided sign-flip over the block means"},
    }


def _number(value: Any, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _interval(low: Any, high: Any, digits: int = 4) -> str:
    return "-" if low is None or high is None else f"[{low:.{digits}f}, {high:.{digits}f}]"


def to_text(study: dict[str, Any]) -> str:
    """The study's grid and books as Markdown tables, with what stands behind every number."""
    counts, costs = study["counts"], study["costs"]
    lines = [f"# Study `{study['study']}` of backtest `{study['backtest']}`", "",
             f"{counts.get('stocks', 0)} stocks, {counts.get('dates', 0)} decision sessions "
             f"({counts.get('first')} .. {counts.get('last')}). Each cell: the mean Spearman IC across stocks on "
             "blocks of h consecutive decision dates with h - 1 skipped between two (their targets never overlap), "
             "its 95% interval (t over the blocks), a two-sided sign-flip p over the blocks, and p adjusted over "
             f"the {sum(c['p'] is not None for c in study['grid'])} cells with a verdict (Holm). `signal` needs an "
             f"adjusted p < 0.05 with at least {MIN_SESSIONS_FOR_VERDICT} blocks; fewer: `too few sessions`.", "",
             "| signal | target | h | IC [95% interval] | sessions (blocks) | p | p adjusted | verdict |",
             "|---|---|---:|---|---:|---:|---:|---|"]
    for c in study["grid"]:
        lines.append(f"| {c['signal']} | {c['target']} | {c['horizon']} | {_number(c['ic'])} "
                     f"{_interval(c['ic_low'], c['ic_high'])} | {c['sessions']} ({c['blocks']}) | "
                     f"{_number(c['p'], 3)} | "
                     f"{_number(c['p_adjusted'], 3)} | **{c['verdict']}** |")
    lines += ["", f"Books: rebalanced every k sessions and held k, in at an open, out at a close; "
              f"{costs['cost_bps']:g} bps a side plus the {costs['sell_tax']} on every unit sold; no short leg "
              f"from {costs['short_sale_ban'][0]} to {costs['short_sale_ban'][1]} (long-only against the "
              "equal-weight average there). Means per session; Sharpe annualised, its 95% interval from holding "
              "periods resampled (none below the verdict minimum of periods).", "",
              "| signal | k | book | gross mean | net mean | Sharpe [95%] | net Sharpe [95%] | turnover | max DD | "
              "break-even bps | sessions (long-only) |", "|---|---:|---|---:|---:|---|---|---:|---:|---:|---|"]
    for b in study["books"]:
        lines.append(
            f"| {b['signal']} | {b['hold']} | {b['kind']} | {_number(b['gross_mean'], 5)} | "
            f"{_number(b['net_mean'], 5)} | "
            f"{_number(b['sharpe'], 2)} {_interval(b['sharpe_low'], b['sharpe_high'], 2)} | "
            f"{_number(b['net_sharpe'], 2)} {_interval(b['net_sharpe_low'], b['net_sharpe_high'], 2)} | "
            f"{_number(b['turnover'], 2)} | {_number(b['max_drawdown'], 3)} | {_number(b['break_even_bps'], 1)} | "
            f"{b['sessions']} ({b['long_only_sessions']}) |")
    lines += ["", "Quantile returns (per session, return target; 0 = lowest signal) and the signal's rank "
              "autocorrelation are in `--json` and the MLflow run's plots.", ""]
    return "\n".join(lines)
