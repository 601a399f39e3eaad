"""The no-skill simulation: how often each reported test rejects, and each 95% interval covers,
when there is nothing to find.

Each draw is a board of ``dates`` sessions x ``stocks`` stocks. Stocks move together on a date
(returns = a market factor + an idiosyncratic part, stock volatilities 0.5x-2x); every post of a
(stock, session) shares its label (up when the return is > 0, so labels are symmetric); each
cluster has 1 + Poisson(8) posts, or, with a dominant stock, stock 0 has 1 + Poisson(10 x stocks)
(most of the posts). Predictions know nothing of the returns and are either

- ``cluster``: one P(up) per (stock, session), the same for all its posts, or
- ``date``: one direction per date for every stock (the model reads the market mood), with
  persistent per-stock levels (a model that always prefers the same stocks: the IC's hard case).

Per draw, at 5% one-sided: the balanced-accuracy skill test, accuracy > 0.5, the paired test of
two such models, the per-date IC (sign-flip p over dates), the long-short (top third minus bottom
third by the index, sign-flip p of the gross daily return); and whether the 95% intervals of
accuracy and balanced accuracy (jackknife over dates, t on the effective number of dates - 1) hold
0.5, the truth. The tests are
finsent's own functions; the IC, book and intervals are computed here from per-date arrays with
the same formulas as ``finsent.ml.stats`` (a test checks they agree), which keeps 2,000 draws a
cell affordable.

    python bench/null_simulation.py [--draws 2000] [--seed 0]
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from finsent.ml.overlap import critical_t, jackknife_se, sign_flip_p
from finsent.ml.stats import (
    MIN_SESSIONS_FOR_VERDICT,
    Clusters,
    balanced_accuracy_test,
    cluster_mean_test,
    interval_dof,
    paired_test,
)

log = logging.getLogger("bench.null_simulation")

TESTS = ("balanced_accuracy", "accuracy", "paired", "ic", "long_short")
INTERVALS = ("accuracy", "balanced_accuracy")
LEVEL = 0.05


@dataclass(frozen=True)
class Design:
    dates: int
    stocks: int
    predictions: str = "cluster"  # "cluster" or "date"
    dominant: bool = False

    @property
    def label(self) -> str:
        return f"{self.predictions}{', dominant' if self.dominant else ''}"


@dataclass
class Board:
    """One draw, per (date, stock) cluster as (dates, stocks) arrays, and per post."""

    ret: np.ndarray
    index_a: np.ndarray  # model a's P(up) per cluster (its posts all share it)
    index_b: np.ndarray
    posts: np.ndarray  # posts per cluster

    def per_post(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(stock, date, y, p_a, p_b) per post."""
        counts = self.posts.ravel()
        dates, stocks = np.indices(self.ret.shape)
        repeat = lambda a: np.repeat(a.ravel(), counts)
        return (repeat(stocks), repeat(dates), repeat((self.ret > 0).astype(np.int64)), repeat(self.index_a),
                repeat(self.index_b))


def _predictions(design: Design, rng: np.random.Generator) -> np.ndarray:
    shape = (design.dates, design.stocks)
    if design.predictions == "cluster":
        return 1 / (1 + np.exp(-rng.normal(size=shape)))
    side = rng.choice([-1.0, 1.0], size=(design.dates, 1))
    return 0.5 + side * (0.05 + 0.1 * rng.random(size=(1, design.stocks)))


def draw_board(design: Design, rng: np.random.Generator) -> Board:
    market = rng.normal(size=(design.dates, 1))
    scale = rng.uniform(0.5, 2.0, size=(1, design.stocks))
    ret = 0.01 * scale * (market + 0.7 * rng.normal(size=(design.dates, design.stocks)))
    posts = 1 + rng.poisson(8, size=ret.shape)
    if design.dominant:
        posts[:, 0] = 1 + rng.poisson(10 * design.stocks, size=design.dates)
    return Board(ret, _predictions(design, rng), _predictions(design, rng), posts)


def fast_ic(index: np.ndarray, ret: np.ndarray) -> np.ndarray:
    """Per-date Spearman IC across stocks ((dates, stocks) arrays), as ``stats.per_date_ic``."""
    rx = np.argsort(np.argsort(index, axis=1), axis=1).astype(float)  # continuous: no ties
    ry = np.argsort(np.argsort(ret, axis=1), axis=1).astype(float)
    rx, ry = rx - rx.mean(axis=1, keepdims=True), ry - ry.mean(axis=1, keepdims=True)
    return (rx * ry).sum(axis=1) / np.sqrt((rx ** 2).sum(axis=1) * (ry ** 2).sum(axis=1))


def fast_long_short(index: np.ndarray, ret: np.ndarray) -> np.ndarray:
    """Gross daily return of the top third minus the bottom third by the index (at least one each)."""
    k = max(1, index.shape[1] // 3)
    order = np.argsort(-index, axis=1, kind="stable")
    ranked = np.take_along_axis(ret, order, axis=1)
    return ranked[:, :k].mean(axis=1) - ranked[:, -k:].mean(axis=1)


def _jackknife_covers(full: float, leave_one_out: np.ndarray, truth: float, dof: float) -> bool:
    return abs(full - truth) <= critical_t(dof) * jackknife_se(leave_one_out)


def fast_interval_cover(y: np.ndarray, p: np.ndarray, clusters: Clusters) -> dict[str, bool]:
    """Whether the jackknife-t 95% intervals of accuracy and balanced accuracy hold 0.5 (the formulas
    of ``stats.session_intervals``, from per-date counts)."""
    pred = p > 0.5
    n, correct = clusters.per_date(np.ones(len(y))), clusters.per_date(pred == y)
    hits, ups = clusters.per_date(pred & (y == 1)), clusters.per_date(y == 1)
    rejections, downs = clusters.per_date(~pred & (y == 0)), clusters.per_date(y == 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        recall_up = (hits.sum() - hits) / (ups.sum() - ups)
        recall_down = (rejections.sum() - rejections) / (downs.sum() - downs)
        balanced = np.nanmean(np.vstack([recall_up, recall_down]), axis=0)
    full_balanced = (hits.sum() / ups.sum() + rejections.sum() / downs.sum()) / 2
    dof = interval_dof(ups, downs)
    return {"accuracy": _jackknife_covers(correct.sum() / n.sum(), (correct.sum() - correct) / (n.sum() - n), 0.5,
                                          dof),
            "balanced_accuracy": _jackknife_covers(full_balanced, balanced, 0.5, dof)}


def one_draw(design: Design, rng: np.random.Generator) -> dict[str, bool]:
    board = draw_board(design, rng)
    stock, date, y, p_a, p_b = board.per_post()
    clusters = Clusters.of(stock, date)
    correct_a, correct_b = (p_a > 0.5) == y, (p_b > 0.5) == y
    if y.min() == y.max():  # one class only (possible on very few dates): no balanced accuracy at all
        return {}
    out = {"balanced_accuracy": balanced_accuracy_test(y, p_a, clusters)[1] < LEVEL,
           "accuracy": cluster_mean_test(correct_a.astype(float), clusters, 0.5)[1] < LEVEL,
           "paired": paired_test(correct_a, correct_b, clusters)[1] < LEVEL,
           "ic": sign_flip_p(fast_ic(board.index_a, board.ret)) < LEVEL,
           "long_short": sign_flip_p(fast_long_short(board.index_a, board.ret)) < LEVEL}
    out.update({f"{k}_covers": v for k, v in fast_interval_cover(y, p_a, clusters).items()})
    return out


def simulate(design: Design, draws: int, seed: int = 0) -> dict[str, float]:
    """Rejection rates of every test and coverage of every interval over ``draws`` boards."""
    rng = np.random.default_rng([seed, design.dates, design.stocks, design.dominant, len(design.predictions)])
    results = [r for r in (one_draw(design, rng) for _ in range(draws)) if r]
    return {key: float(np.mean([r[key] for r in results])) for key in results[0]} | {"draws": float(len(results))}


def designs(dates=(5, 8, 10, 15, 20, 30, 60), stocks=(3, 5, 20)) -> list[Design]:
    return [Design(g, s, predictions, dominant) for g in dates for s in stocks
            for predictions, dominant in (("cluster", False), ("date", False), ("cluster", True), ("date", True))]


def table(rows: list[tuple[Design, dict[str, float]]]) -> str:
    head = ("| dates | stocks | predictions | " + " | ".join(f"rejects: {t}" for t in TESTS) + " | "
            + " | ".join(f"covers: {i}" for i in INTERVALS) + " |")
    lines = [head, "|" + "---:|" * 2 + "---|" + "---:|" * (len(TESTS) + len(INTERVALS))]
    for design, r in rows:
        lines.append(f"| {design.dates} | {design.stocks} | {design.label} | "
                     + " | ".join(f"{100 * r[t]:.1f}%" for t in TESTS) + " | "
                     + " | ".join(f"{100 * r[i + '_covers']:.1f}%" for i in INTERVALS) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--draws", type=int, default=2000, help="boards per cell (default 2000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dates", default="5,8,10,15,20,30,60", help="comma-separated numbers of session dates")
    parser.add_argument("--stocks", default="3,5,20", help="comma-separated numbers of stocks")
    parser.add_argument("--tiny", action="store_true", help="20 draws of 10 dates x 3 stocks (the suite's check)")
    args = parser.parse_args(argv)
    if args.tiny:
        args.draws, args.dates, args.stocks = 20, "10", "3"
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    cells = designs(tuple(int(x) for x in args.dates.split(",")), tuple(int(x) for x in args.stocks.split(",")))
    rows = []
    for design in cells:
        rows.append((design, simulate(design, args.draws, args.seed)))
        log.info("%s", rows[-1])
    sys.stdout.write(f"No-skill simulation, {args.draws} draws a cell, 5% one-sided tests, 95% intervals; "
                     f"verdicts need >= {MIN_SESSIONS_FOR_VERDICT} dates\n\n{table(rows)}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
