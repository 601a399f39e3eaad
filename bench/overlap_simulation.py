"""The overlap simulation: how often each verdict's test rejects, and each 95% interval covers, when
there is nothing to find, labels span h sessions and the predictions' mood drifts.

Each draw is a board of ``dates`` session dates x ``stocks`` stocks. Every session's returns are a
market factor + an idiosyncratic part (stock volatilities 0.5x-2x); the label of (stock, date) is
the sign of its return from that session over ``horizon`` sessions (what ``finsent label --horizon
h`` writes: neighbouring dates share h - 1 sessions), shared by the cluster's 1 + Poisson(8) posts.
Two models (a, b: the paired test) predict nothing: each has a mood m_t = rho m_(t-1) + noise (an
AR(1) with rho 0.7 or 0.9, shared by every stock: a model that reads the market's mood, which lasts),
per-(stock, date) noise and, with ``levels``, persistent per-stock preferences; P(up) = sigmoid.

Per draw, at 5% one-sided, the tests finsent reports, over blocks of h dates (``finsent.ml.overlap``):
the balanced-accuracy skill test, accuracy > 0.5, the paired test of a against b, the per-date IC of
the index with the h-session return, and the long-short (top third minus bottom third of the
session's own open-to-close return: the book holds one session, so its units are dates); and whether
the 95% intervals of balanced accuracy, accuracy (truth 0.5) and the mean IC (truth 0) hold the
truth. For comparison, what the same data gave before horizons were blocks: the skill test and the
balanced-accuracy interval over single dates ("dates as units"), and the textbook Newey-West
interval of the IC with h - 1 lags. The per-date scores are computed here from the clusters' counts
(the formulas of ``finsent.ml.stats``; a test checks they agree); every test, interval and design
effect is finsent's own function.

    nice python bench/overlap_simulation.py [--draws 2000] [--horizons 1,3,5,20] [--seed 0] [--tiny]
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.signal import lfilter

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.null_simulation import fast_ic, fast_long_short
from finsent.ml.overlap import (
    block_index,
    critical_t,
    jackknife_se,
    mean_interval,
    newey_west_interval,
    sign_flip_p,
)
from finsent.ml.stats import MIN_SESSIONS_FOR_VERDICT, balanced_accuracy_from_counts, interval_dof

log = logging.getLogger("bench.overlap_simulation")

TESTS = ("balanced_accuracy", "accuracy", "paired", "ic", "long_short", "balanced_accuracy_by_date")
INTERVALS = ("balanced_accuracy", "accuracy", "ic", "balanced_accuracy_by_date", "ic_newey_west")
LEVEL = 0.05
PREDICTIONS = ("mood 0.7", "mood 0.9", "mood 0.9, levels")


@dataclass(frozen=True)
class Design:
    dates: int
    stocks: int
    horizon: int
    predictions: str = "mood 0.9"  # one of PREDICTIONS

    @property
    def rho(self) -> float:
        return float(self.predictions.split()[1].rstrip(","))


@dataclass
class Board:
    """One draw as (dates, stocks) arrays."""

    label_ret: np.ndarray  # the return over the label's h sessions
    session_ret: np.ndarray  # the session's own return (the book's)
    p_a: np.ndarray  # P(up) per cluster: its posts share it
    p_b: np.ndarray
    posts: np.ndarray


def _mood(design: Design, rng: np.random.Generator) -> np.ndarray:
    rho, shape = design.rho, (design.dates, design.stocks)
    shocks = rng.normal(size=design.dates) * np.sqrt(1 - rho ** 2)
    shocks[0] = rng.normal()  # started stationary
    mood = lfilter([1.0], [1.0, -rho], shocks)[:, None]
    levels = rng.normal(size=(1, design.stocks)) if "levels" in design.predictions else 0.0
    return 1 / (1 + np.exp(-(mood + levels + 0.5 * rng.normal(size=shape))))


def draw_board(design: Design, rng: np.random.Generator) -> Board:
    sessions = design.dates + design.horizon - 1
    scale = rng.uniform(0.5, 2.0, size=(1, design.stocks))
    daily = 0.01 * scale * (rng.normal(size=(sessions, 1)) + 0.7 * rng.normal(size=(sessions, design.stocks)))
    total = np.vstack([np.zeros((1, design.stocks)), np.cumsum(daily, axis=0)])
    label_ret = total[design.horizon:design.horizon + design.dates] - total[:design.dates]
    posts = 1 + rng.poisson(8, size=(design.dates, design.stocks))
    return Board(label_ret, daily[:design.dates], _mood(design, rng), _mood(design, rng), posts)


def per_date_counts(board: Board, p: np.ndarray) -> dict[str, np.ndarray]:
    """Per date: posts, correct ones, up posts and hits on them, down posts and false alarms on them."""
    up, pred, m = board.label_ret > 0, p > 0.5, board.posts
    return {"posts": m.sum(1), "correct": (m * (pred == up)).sum(1), "ups": (m * up).sum(1),
            "hits": (m * (pred & up)).sum(1), "downs": (m * ~up).sum(1), "false_alarms": (m * (pred & ~up)).sum(1)}


def balanced_scores(c: dict[str, np.ndarray]) -> np.ndarray:
    """The per-date balanced-accuracy scores of ``stats.balanced_accuracy_scores``."""
    return (c["hits"] - c["ups"] / 2) / c["ups"].sum() - (c["false_alarms"] - c["downs"] / 2) / c["downs"].sum()


def accuracy_covers(c: dict[str, np.ndarray], horizon: int) -> bool:
    """Whether the accuracy interval of ``stats.session_intervals`` (from counts) holds 0.5."""
    blocks = block_index(len(c["posts"]), horizon)
    n, correct, ups, downs = (np.bincount(blocks, weights=c[k]) for k in ("posts", "correct", "ups", "downs"))
    full = correct.sum() / n.sum()
    se = jackknife_se((correct.sum() - correct) / (n.sum() - n), horizon)
    return bool(abs(full - 0.5) <= critical_t(interval_dof(ups, downs)) * se)


def _covers(interval: tuple[float, float], truth: float) -> bool:
    return bool(interval[0] <= truth <= interval[1])


def one_draw(design: Design, rng: np.random.Generator) -> dict[str, bool]:
    board, h = draw_board(design, rng), design.horizon
    a, b = per_date_counts(board, board.p_a), per_date_counts(board, board.p_b)
    if a["ups"].sum() == 0 or a["downs"].sum() == 0:
        return {}
    z, total = balanced_scores(a), a["posts"].sum()
    ic = fast_ic(board.p_a, board.label_ret)
    counts = (a["hits"], a["ups"], a["false_alarms"], a["downs"])
    out = {"balanced_accuracy": sign_flip_p(z, h) < LEVEL,
           "accuracy": sign_flip_p((a["correct"] - a["posts"] / 2) / total, h) < LEVEL,
           "paired": sign_flip_p((a["correct"] - b["correct"]) / total, h) < LEVEL,
           "ic": sign_flip_p(ic, h) < LEVEL,
           "long_short": sign_flip_p(fast_long_short(board.p_a, board.session_ret)) < LEVEL,
           "balanced_accuracy_by_date": sign_flip_p(z) < LEVEL}
    covers = {"balanced_accuracy": _covers(balanced_accuracy_from_counts(*counts, horizon=h)[1:], 0.5),
              "accuracy": accuracy_covers(a, h), "ic": _covers(mean_interval(ic, h), 0.0),
              "balanced_accuracy_by_date": _covers(balanced_accuracy_from_counts(*counts)[1:], 0.5),
              "ic_newey_west": _covers(newey_west_interval(ic, h - 1), 0.0)}
    return out | {f"{k}_covers": v for k, v in covers.items()}


def simulate(design: Design, draws: int, seed: int = 0) -> dict[str, float]:
    """Rejection rates of every test and coverage of every interval over ``draws`` boards."""
    kind = PREDICTIONS.index(design.predictions)
    rng = np.random.default_rng([seed, design.dates, design.stocks, design.horizon, kind])
    results = [r for r in (one_draw(design, rng) for _ in range(draws)) if r]
    return {key: float(np.mean([r[key] for r in results])) for key in results[0]} | {"draws": float(len(results))}


def designs(horizons=(1, 3, 5, 20), blocks=(MIN_SESSIONS_FOR_VERDICT, 20, 40), stocks=(3, 20),
            predictions=PREDICTIONS) -> list[Design]:
    """From the verdict minimum (10 blocks of h dates) up; h = 20 stops at 20 blocks (400 dates)."""
    return [Design(n * h, s, h, kind) for h in horizons for n in blocks if h < 20 or n <= 20
            for s in stocks for kind in predictions]


def table(rows: list[tuple[Design, dict[str, float]]]) -> str:
    head = ("| h | dates | stocks | predictions | draws | " + " | ".join(f"rejects: {t}" for t in TESTS) + " | "
            + " | ".join(f"covers: {i}" for i in INTERVALS) + " |")
    lines = [head, "|" + "---:|" * 3 + "---|---:|" + "---:|" * (len(TESTS) + len(INTERVALS))]
    for d, r in rows:
        lines.append(f"| {d.horizon} | {d.dates} | {d.stocks} | {d.predictions} | {r['draws']:.0f} | "
                     + " | ".join(f"{100 * r[t]:.1f}%" for t in TESTS) + " | "
                     + " | ".join(f"{100 * r[i + '_covers']:.1f}%" for i in INTERVALS) + " |")
    return "\n".join(lines)


def summary(rows: list[tuple[Design, dict[str, float]]]) -> str:
    """Per horizon: the range of each rate over the cells (the README's figures)."""
    lines = ["| h | cells | " + " | ".join(f"rejects: {t}" for t in TESTS) + " | "
             + " | ".join(f"covers: {i}" for i in INTERVALS) + " |",
             "|---:|---:|" + "---|" * (len(TESTS) + len(INTERVALS))]
    for h in sorted({d.horizon for d, _ in rows}):
        cells = [r for d, r in rows if d.horizon == h]
        spans = [f"{100 * min(r[k] for r in cells):.1f}-{100 * max(r[k] for r in cells):.1f}%"
                 for k in (*TESTS, *(f"{i}_covers" for i in INTERVALS))]
        lines.append(f"| {h} | {len(cells)} | " + " | ".join(spans) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--draws", type=int, default=2000, help="boards per cell (default 2000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--horizons", default="1,3,5,20", help="comma-separated label horizons")
    parser.add_argument("--blocks", default="10,20,40", help="dates per cell, in blocks of h (10: the verdict minimum)")
    parser.add_argument("--stocks", default="3,20", help="comma-separated numbers of stocks")
    parser.add_argument("--tiny", action="store_true",
                        help="20 draws of 10 blocks x 3 stocks at h = 5 (the suite's check)")
    args = parser.parse_args(argv)
    if args.tiny:
        args.draws, args.horizons, args.blocks, args.stocks = 20, "5", "10", "3"
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    ints = lambda text: tuple(int(x) for x in text.split(","))
    rows = []
    for design in designs(ints(args.horizons), ints(args.blocks), ints(args.stocks)):
        rows.append((design, simulate(design, args.draws, args.seed)))
        log.info("%s %s", design, {k: round(v, 4) for k, v in rows[-1][1].items()})
    sys.stdout.write(f"Overlap simulation, {args.draws} draws a cell, 5% one-sided tests, 95% intervals, drifting "
                     f"no-skill predictions; verdicts need >= {MIN_SESSIONS_FOR_VERDICT} blocks of h dates\n\n"
                     f"{table(rows)}\n\nRange over the cells, per horizon:\n\n{summary(rows)}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
