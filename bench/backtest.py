"""Walk-forward backtest benchmark: the windowed baseline against refitting from scratch at every step.

Both walk the same synthetic board (stocks x sessions, posts leaning toward the coming move with
probability ``--lean``) with the same windows: train on ``--train-sessions`` sessions, score the
next ``--step-sessions``. "from scratch" fits ``BaselineClassifier`` (TF-IDF + logistic regression)
anew at every step, re-tokenising every title of the window; "windowed" (what ``finsent backtest``
runs) hashes n-grams once and warm-starts per window. The table shows steps/s and the speed-up, and
both walks' IC with its 95% interval (IC +- 1.96 IC / t), which must overlap.

    python bench/backtest.py [--stocks 6] [--sessions 300] [--posts 40] [--train-sessions 120]
                             [--step-sessions 5] [--lean 0.6] [--tiny]
"""

from __future__ import annotations

import argparse
import logging
import math
import random
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import Result, print_table
from bench.train import BEAR, BULL, NEUTRAL
from finsent.ml.backtest.walk import BacktestSpec, plan_steps
from finsent.ml.backtest.windowed import WindowedBaseline
from finsent.ml.models.baseline import BaselineClassifier
from finsent.ml.stats import information_coefficient


def synthetic_board(stocks: int, sessions: int, posts: int, lean: float, seed: int = 0) -> pd.DataFrame:
    rng = random.Random(seed)
    days = [d.date() for d in pd.bdate_range("2022-01-03", periods=sessions)]
    rows = []
    for stock in range(stocks):
        for d in days:
            ret = rng.gauss(0, 0.02)
            for k in range(posts):
                bullish = (ret > 0) if rng.random() < lean else rng.random() < 0.5
                words = [*rng.sample(NEUTRAL, 3), rng.choice(BULL if bullish else BEAR)]
                rng.shuffle(words)
                rows.append((f"{stock:06d}", stock * 10**7 + len(rows), " ".join(words) + f" {k}",
                             "up" if ret > 0 else "down", d, ret))
    return pd.DataFrame(rows, columns=["ticker", "post_id", "title", "label", "session_date", "ret"])


def walk(posts: pd.DataFrame, spec: BacktestSpec, fit_predict) -> tuple[float, np.ndarray, int]:
    sessions = sorted(posts["session_date"].unique())
    steps = plan_steps(sessions, spec, horizon=1)
    session_of = posts["session_date"].to_numpy()
    labels = (posts["label"] == "up").to_numpy().astype(np.int64)
    p_up = np.full(len(posts), np.nan)
    started = time.perf_counter()
    for step in steps:
        train = np.flatnonzero((session_of >= step.train_from) & (session_of <= step.train_through))
        score = np.flatnonzero((session_of >= step.score_from) & (session_of <= step.score_to))
        p_up[score] = fit_predict(train, labels[train], score)
    return time.perf_counter() - started, p_up, len(steps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stocks", type=int, default=6)
    parser.add_argument("--sessions", type=int, default=300)
    parser.add_argument("--posts", type=int, default=40, help="posts per stock and session")
    parser.add_argument("--train-sessions", type=int, default=120)
    parser.add_argument("--step-sessions", type=int, default=5)
    parser.add_argument("--lean", type=float, default=0.6, help="share of posts that lean toward the move")
    parser.add_argument("--tiny", action="store_true", help="3 stocks x 40 sessions: checks it runs (the suite)")
    args = parser.parse_args()
    if args.tiny:
        args.stocks, args.sessions, args.posts, args.train_sessions, args.step_sessions = 3, 40, 8, 20, 5
    logging.basicConfig(level=logging.WARNING)
    posts = synthetic_board(args.stocks, args.sessions, args.posts, args.lean)
    titles = posts["title"].tolist()
    spec = BacktestSpec(train_sessions=args.train_sessions, step_sessions=args.step_sessions)

    def from_scratch(train, y, score):
        model = BaselineClassifier()
        model.fit([titles[i] for i in train], y)
        return model.predict_proba([titles[i] for i in score])

    started = time.perf_counter()
    windowed_model = WindowedBaseline(titles)
    hashing = time.perf_counter() - started
    results, ics = [], {}
    for name, fit_predict, setup in (("refit BaselineClassifier from scratch each step", from_scratch, 0.0),
                                     ("finsent backtest: windowed (hash once, warm start)",
                                      windowed_model.fit_predict, hashing)):
        seconds, p_up, steps = walk(posts, spec, fit_predict)
        scored = posts.assign(p_up=p_up).dropna(subset=["p_up"])
        ic = information_coefficient(scored[["ticker", "session_date", "p_up", "ret"]])
        half = 1.96 * abs(ic["ic"] / ic["ic_t"]) if ic.get("ic_t") else math.nan
        ics[name] = (ic["ic"] - half, ic["ic"] + half)
        results.append(Result(name, steps, seconds + setup, "st", f"IC {ic['ic']:.4f} [{ics[name][0]:.4f}, "
                              f"{ics[name][1]:.4f}], t {ic['ic_t']:.1f}, {len(scored)} posts scored"))
    print_table(f"walk-forward: {args.stocks} stocks x {args.sessions} sessions x {args.posts} posts, windows "
                f"{args.train_sessions}/{args.step_sessions}", results, reference=results[0].name)
    (low_a, high_a), (low_b, high_b) = ics.values()
    speedup = results[1].rate / results[0].rate
    print(f"\nspeed-up {speedup:.2f}x (goal >= 3x); IC intervals "
          f"{'overlap' if low_a <= high_b and low_b <= high_a else 'DO NOT overlap'}")


if __name__ == "__main__":
    main()
