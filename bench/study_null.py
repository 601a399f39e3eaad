"""The study's grid (``finsent.ml.study.grid``) when there is nothing to find.

Each draw is a market of ``STOCKS`` stocks over 20 warm-up sessions and ``sessions`` decision
sessions: open-to-close and overnight moves with a market factor (stocks move together on a date),
volumes with a persistent level per stock, and three signals that know nothing, made as persistent
as the real ones can be: ``text`` (AR(1), 0.5), ``attention`` (the log ratio of Poisson counts to their
trailing 20-session mean, the counts' intensity AR(1), 0.9) and ``disagreement`` (noise). The grid is
the study's own (3 signals x 3 targets x horizons 1, 5, 20, Holm over the cells with a verdict).
Per size: the share of draws with any ``signal`` in the grid (the false-signal rate per study, target
<= 5%), and per horizon the share of the cells' 95% intervals that hold 0, the true IC (target >= 93%),
each with an exact binomial 95% interval (and, for coverage, one with the draws as units: the cells of
a draw share its returns). Results: docs/study-figures.md.

    nice python bench/study_null.py [--draws 1000] [--sizes 20,60,250,500] [--seed 29] [--tiny]
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from finsent.ml.study.grid import build_grid
from finsent.ml.study.panel import TRAILING_SESSIONS, Panel

STOCKS = 20
SIGNALS = ("text", "attention", "disagreement")
TARGETS = ("return", "abs_return", "volume")
HORIZONS = (1, 5, 20)


def _ar(rng: np.random.Generator, shape: tuple[int, int], phi: float) -> np.ndarray:
    x = np.empty(shape)
    x[0] = rng.normal(size=shape[1])
    for t in range(1, shape[0]):
        x[t] = phi * x[t - 1] + np.sqrt(1 - phi**2) * rng.normal(size=shape[1])
    return x


def draw(rng: np.random.Generator, sessions: int) -> Panel:
    """A no-signal market; the last ``max(HORIZONS)`` sessions give the last decisions their targets."""
    n = TRAILING_SESSIONS + sessions + max(HORIZONS)
    days = [date(2025, 4, 1) + timedelta(days=i) for i in range(n)]
    market = rng.normal(0, 0.008, size=(n, 1))
    intraday = market + rng.normal(0, 0.015, size=(n, STOCKS))
    overnight = 0.5 * market + rng.normal(0, 0.006, size=(n, STOCKS))
    opens = 100 * np.exp(np.cumsum(overnight + np.vstack([np.zeros((1, STOCKS)), intraday[:-1]]), axis=0))
    closes = opens * (1 + intraday)
    volume = np.exp(rng.normal(15, 0.3, size=(1, STOCKS)) + _ar(rng, (n, STOCKS), 0.7) * 0.4)
    counts = rng.poisson(np.exp(2 + 0.5 * _ar(rng, (n, STOCKS), 0.9)))
    trailing = pd.DataFrame(counts).rolling(TRAILING_SESSIONS).mean().shift(1).to_numpy()
    signals = {"text": _ar(rng, (n, STOCKS), 0.5), "attention": np.log((1 + counts) / (1 + trailing)),
               "disagreement": rng.normal(size=(n, STOCKS))}
    tickers = [f"{j:06d}" for j in range(STOCKS)]
    grid = pd.MultiIndex.from_product([days, tickers], names=["session_date", "ticker"]).to_frame(index=False)
    sessions_frame = grid.assign(open=opens.ravel(), close=closes.ravel(), volume=volume.ravel(), member=True)
    decisions = days[TRAILING_SESSIONS:TRAILING_SESSIONS + sessions]
    frame = grid.assign(**{name: values.ravel() for name, values in signals.items()})
    frame = frame[frame["session_date"].isin(set(decisions))][["ticker", "session_date", *SIGNALS]]
    return Panel(decisions, frame.reset_index(drop=True), sessions_frame[["ticker", "session_date", "open", "close",
                                                                           "volume", "member"]])


def binomial_interval(hits: int, n: int) -> tuple[float, float]:
    """The exact (Clopper-Pearson) 95% interval of a rate of ``hits`` in ``n``."""
    if n == 0:
        return float("nan"), float("nan")
    low = stats.beta.ppf(0.025, hits, n - hits + 1) if hits > 0 else 0.0
    high = stats.beta.ppf(0.975, hits + 1, n - hits) if hits < n else 1.0
    return float(low), float(high)


def clustered_interval(hits: np.ndarray, counts: np.ndarray) -> tuple[float, float]:
    """95% interval of a coverage sum(hits) / sum(counts) with the draws as the units (a draw's 9 cells
    at one horizon share its returns, so they are not independent): a ratio estimator's normal interval."""
    keep = counts > 0
    hits, counts = hits[keep], counts[keep]
    if len(counts) < 2:
        return float("nan"), float("nan")
    rate = hits.sum() / counts.sum()
    se = np.sqrt(np.sum((hits - rate * counts) ** 2) * len(counts) / (len(counts) - 1)) / counts.sum()
    return float(max(0.0, rate - 1.96 * se)), float(min(1.0, rate + 1.96 * se))


def run(sessions: int, draws: int, seed: int) -> dict[str, float]:
    rng = np.random.default_rng([seed, sessions])
    false_studies, tested = 0, 0
    covered, intervals = np.zeros((draws, len(HORIZONS))), np.zeros((draws, len(HORIZONS)))
    for i in range(draws):
        cells = build_grid(draw(rng, sessions), SIGNALS, TARGETS, HORIZONS)
        false_studies += any(c.verdict == "signal" for c in cells)
        tested += sum(c.verdict != "too few sessions" for c in cells)
        for c in cells:
            if np.isfinite(c.ic_low):
                intervals[i, HORIZONS.index(c.horizon)] += 1
                covered[i, HORIZONS.index(c.horizon)] += c.ic_low <= 0 <= c.ic_high
    out = {"sessions": sessions, "draws": draws, "false_studies": false_studies,
           "false_signal_rate": false_studies / draws, "false_signal_ci": binomial_interval(false_studies, draws),
           "cells_with_verdict": tested / draws}
    for j, h in enumerate(HORIZONS):
        hits, n = int(covered[:, j].sum()), int(intervals[:, j].sum())
        out[f"coverage_h{h}"] = hits / n if n else float("nan")
        out[f"intervals_h{h}"] = n
        out[f"coverage_ci_h{h}"] = binomial_interval(hits, n)
        out[f"coverage_draw_ci_h{h}"] = clustered_interval(covered[:, j], intervals[:, j])
    return out


def _rate(value: float, interval: tuple[float, float]) -> str:
    if not np.isfinite(value):
        return "no interval"
    return f"{100 * value:.1f}% [{100 * interval[0]:.1f}, {100 * interval[1]:.1f}]"


def _row(r: dict, seconds: float) -> str:
    coverage = [f"{_rate(r[f'coverage_h{h}'], r[f'coverage_ci_h{h}'])} by draw "
                f"[{100 * r[f'coverage_draw_ci_h{h}'][0]:.1f}, {100 * r[f'coverage_draw_ci_h{h}'][1]:.1f}] "
                f"({r[f'intervals_h{h}']})" if r[f"intervals_h{h}"] else "no interval (0)" for h in HORIZONS]
    return (f"| {r['sessions']} | {r['draws']} | {r['false_studies']} = "
            f"{_rate(r['false_signal_rate'], r['false_signal_ci'])} | {r['cells_with_verdict']:.1f} | "
            f"{' | '.join(coverage)} | {seconds:.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--sizes", default="20,60,250,500", help="decision sessions per draw, comma-separated")
    parser.add_argument("--seed", type=int, default=29)
    parser.add_argument("--tiny", action="store_true", help="a few draws, for the suite's benchmark check")
    args = parser.parse_args()
    draws, sizes = (3, [20, 60]) if args.tiny else (args.draws, [int(s) for s in args.sizes.split(",")])
    print(f"| sessions | draws | studies with a false signal (any of {len(SIGNALS) * len(TARGETS) * len(HORIZONS)} "
          "cells), exact 95% interval | cells with a verdict | "
          + " | ".join(f"coverage h={h}: exact 95% interval, by draw (intervals)" for h in HORIZONS) + " | seconds |")
    print("|---:|---:|---|---:|---|---|---|---:|")
    for size in sizes:
        started = time.perf_counter()
        print(_row(run(size, draws, args.seed), time.perf_counter() - started), flush=True)


if __name__ == "__main__":
    main()
