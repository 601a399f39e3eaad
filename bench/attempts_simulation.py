"""The false-champion simulation: a year of weekly no-skill attempts through the champion rule, at
label horizons 1 and 5.

Each simulated year is a board of ``STOCKS`` stocks that starts with ``START_SESSIONS`` labelled
sessions and grows by ``NEW_SESSIONS_A_WEEK`` a week for ``WEEKS`` weeks; every week a model is
retrained and tested on the snapshot's test part (its latest ``TEST_FRAC`` of sessions). Returns are
a market factor + idiosyncratic noise, labels the sign of the return over ``horizon`` sessions
(neighbouring dates share h - 1 of them), 1 + Poisson(3) posts a (stock, session). The model knows
nothing: its P(up) follows a mood that drifts (an AR(1) over sessions with rho 0.7 or 0.9, shared
by the stocks; with ``levels``, persistent per-stock preferences too) plus per-(stock, session)
noise, and a retrained model barely changes (the same mood, a little noise of its own each week).

Per year, whether any of the attempts made a (false) champion, by the real ``promotion.decide`` and
balanced-accuracy test:

- ``the rule``: finsent's rule: tests over blocks of h dates, attempt k counted as ``finsent
  train`` counts it (an attempt without a verdict, or whose test part cannot reach alpha_k, spends
  nothing), tested at alpha_k;
- ``dates as units``: the same counting, the tests over single dates (the horizon ignored): the
  rule before horizons were blocks;
- ``every try a first``: tests over blocks, but every attempt at alpha_1 (attempts not counted).

    nice python bench/attempts_simulation.py [--years 1000] [--weeks 50] [--horizons 1,5] [--tiny]
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

from finsent.ml.evaluate import EvaluationReport
from finsent.ml.lineage import TrainingRecord
from finsent.ml.promotion import decide
from finsent.ml.stats import Clusters, balanced_accuracy_test

log = logging.getLogger("bench.attempts_simulation")

START_SESSIONS, NEW_SESSIONS_A_WEEK, TEST_FRAC, STOCKS = 250, 5, 0.2, 5
RULES = ("the rule", "dates as units", "every try a first")
PREDICTIONS = ("mood 0.7", "mood 0.9", "mood 0.9, levels")


@dataclass(frozen=True)
class Design:
    horizon: int
    predictions: str
    weeks: int = 50

    @property
    def rho(self) -> float:
        return float(self.predictions.split()[1].rstrip(","))


@dataclass
class Year:
    """A board's whole year, per (session, stock)."""

    up: np.ndarray
    score: np.ndarray  # the model's stable part
    posts: np.ndarray


def draw_year(design: Design, rng: np.random.Generator) -> Year:
    sessions, h = START_SESSIONS + NEW_SESSIONS_A_WEEK * (design.weeks - 1), design.horizon
    daily = rng.normal(size=(sessions + h - 1, 1)) + 0.7 * rng.normal(size=(sessions + h - 1, STOCKS))
    total = np.vstack([np.zeros((1, STOCKS)), np.cumsum(daily, axis=0)])
    shocks = rng.normal(size=sessions) * np.sqrt(1 - design.rho ** 2)
    shocks[0] = rng.normal()
    mood = lfilter([1.0], [1.0, -design.rho], shocks)[:, None]
    levels = rng.normal(size=(1, STOCKS)) if "levels" in design.predictions else 0.0
    return Year(up=(total[h:h + sessions] - total[:sessions]) > 0,
                score=mood + levels + 0.5 * rng.normal(size=(sessions, STOCKS)),
                posts=1 + rng.poisson(3, size=(sessions, STOCKS)))


def _record(horizon: int) -> TrainingRecord:
    definition = "next_open_close" + (f"_h{horizon}" if horizon > 1 else "")
    return TrainingRecord("weekly", "hash", definition, "next_open_close", "time", None, None, None, horizon)


def week_decisions(year: Year, week: int, design: Design, rng: np.random.Generator,
                   attempts: dict[str, int]) -> dict[str, bool]:
    """This week's attempt under each rule: promoted or not; ``attempts`` (the count per rule so far)
    is advanced for the rules that counted it."""
    n = START_SESSIONS + NEW_SESSIONS_A_WEEK * week
    sessions = np.arange(n - round(TEST_FRAC * n), n)
    score = year.score[sessions] + 0.3 * rng.normal(size=(len(sessions), STOCKS))  # this week's retraining
    sizes = year.posts[sessions].ravel()
    session_of = np.repeat(np.repeat(sessions, STOCKS), sizes)
    stock_of = np.repeat(np.tile(np.arange(STOCKS), len(sessions)), sizes)
    y = year.up[session_of, stock_of].astype(np.int64)
    p_up = np.repeat(1 / (1 + np.exp(-score.ravel())), sizes)
    out = {}
    for rule in RULES:
        h = 1 if rule == "dates as units" else design.horizon
        clusters = Clusters.of(stock_of, session_of, h)
        balanced, p_value = balanced_accuracy_test(y, p_up, clusters)
        report = EvaluationReport("weekly", clusters.counts(), {"balanced_accuracy": balanced}, {},
                                  {"p_value_balanced_accuracy": p_value}, horizon=h)
        k = 1 if rule == "every try a first" else attempts[rule] + 1
        decision = decide(_record(h), report, None, p_up, None, attempt=k)
        if decision.attempt is not None:
            attempts[rule] = k
        out[rule] = decision.promoted
    return out


def simulate(design: Design, years: int, seed: int = 0) -> dict[str, float]:
    """Per rule: the share of ``years`` in which some attempt made a champion; and the mean number of
    attempts the rule counted in a year."""
    rng = np.random.default_rng([seed, design.horizon, PREDICTIONS.index(design.predictions), design.weeks])
    champions = dict.fromkeys(RULES, 0)
    counted = 0
    for _ in range(years):
        year, attempts, promoted = draw_year(design, rng), dict.fromkeys(RULES, 0), dict.fromkeys(RULES, False)
        for week in range(design.weeks):
            for rule, done in week_decisions(year, week, design, rng, attempts).items():
                promoted[rule] = promoted[rule] or done
        counted += attempts["the rule"]
        for rule in RULES:
            champions[rule] += promoted[rule]
    return {rule: champions[rule] / years for rule in RULES} | {"attempts": counted / years, "years": float(years)}


def table(rows: list[tuple[Design, dict[str, float]]]) -> str:
    head = " | ".join(f"false champion: {r}" for r in RULES)
    lines = [f"| h | predictions | years | attempts counted (mean) | {head} |",
             "|---:|---|---:|---:|" + "---:|" * len(RULES)]
    for d, r in rows:
        lines.append(f"| {d.horizon} | {d.predictions} | {r['years']:.0f} | {r['attempts']:.1f} | "
                     + " | ".join(f"{100 * r[rule]:.2f}%" for rule in RULES) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--years", type=int, default=1000, help="simulated years per cell (default 1000)")
    parser.add_argument("--weeks", type=int, default=50, help="weekly attempts a year (default 50)")
    parser.add_argument("--horizons", default="1,5")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tiny", action="store_true", help="4 years of 10 weeks at h = 5 (the suite's check)")
    args = parser.parse_args(argv)
    if args.tiny:
        args.years, args.weeks, args.horizons = 4, 10, "5"
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    rows = []
    for h in (int(x) for x in args.horizons.split(",")):
        for kind in PREDICTIONS:
            rows.append((Design(h, kind, args.weeks), simulate(Design(h, kind, args.weeks), args.years, args.seed)))
            log.info("%s %s", rows[-1][0], rows[-1][1])
    sys.stdout.write(f"False champions over {args.weeks} weekly no-skill attempts, {args.years} years a cell "
                     f"({STOCKS} stocks, a board of {START_SESSIONS} sessions growing by {NEW_SESSIONS_A_WEEK} a "
                     f"week, test part its latest {TEST_FRAC:.0%})\n\n{table(rows)}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
