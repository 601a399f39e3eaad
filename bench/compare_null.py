"""The board-versus-news comparison (``finsent.ml.backtest.compare``) when there is nothing to find.

Each draw is ``dates`` sessions x ``stocks`` stocks: returns are noise, and the two indexes share a
common part (each = common + own noise, correlation 0.5, Spearman 6/pi x asin(1/4) = 0.483) and
predict nothing. Per draw: whether the paired t of the per-session IC difference (news - board)
rejects at 5% two-sided, whether its 95% interval holds 0, and (``--corr-draws`` of the draws,
the correlation's bootstrap is the slow part) whether the interval of the index correlation holds
0.483. The statistics are the comparison's own functions.

    python bench/compare_null.py [--draws 2000] [--corr-draws 400] [--seed 7] [--tiny]
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from finsent.ml.backtest.compare import compare_sources

STOCKS = 5
SPEARMAN_TRUTH = 6 / math.pi * math.asin(0.25)


def _draw(rng: np.random.Generator, dates: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    rows = []
    for d in range(dates):
        ret, common = rng.normal(size=STOCKS), rng.normal(size=STOCKS)
        for j in range(STOCKS):
            rows.append((j, d, common[j] + rng.normal(), common[j] + rng.normal(), ret[j]))
    frame = pd.DataFrame(rows, columns=["ticker", "session_date", "board", "news", "ret"])
    return frame.rename(columns={"board": "mean_p_up"}), frame.rename(columns={"news": "mean_p_up"})


def run(dates: int, draws: int, corr_draws: int, seed: int) -> dict[str, float]:
    rng = np.random.default_rng([seed, dates])
    rejected = covered = corr_covered = 0
    for i in range(draws):
        board, news = _draw(rng, dates)
        m = compare_sources(board, news, correlation_interval=i < corr_draws).metrics
        rejected += m["diff_news_minus_board_p"] < 0.05
        covered += m["diff_news_minus_board_ci_low"] <= 0 <= m["diff_news_minus_board_ci_high"]
        if i < corr_draws:
            corr_covered += m["index_corr_ci_low"] <= SPEARMAN_TRUTH <= m["index_corr_ci_high"]
    return {"paired_t_rejects": rejected / draws, "difference_interval_covers": covered / draws,
            "correlation_interval_covers": corr_covered / max(1, min(corr_draws, draws))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=2000)
    parser.add_argument("--corr-draws", type=int, default=400)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--tiny", action="store_true", help="20 draws, 5 with the correlation (the suite's check)")
    args = parser.parse_args(argv)
    if args.tiny:
        args.draws, args.corr_draws = 20, 5
    sys.stdout.write("| sessions | paired t rejects (5%) | difference interval holds 0 | correlation interval "
                     "holds 0.483 |\n|---:|---:|---:|---:|\n")
    for dates in (10, 40):
        r = run(dates, args.draws, args.corr_draws, args.seed)
        sys.stdout.write(f"| {dates} | {r['paired_t_rejects']:.3f} | {r['difference_interval_covers']:.3f} | "
                         f"{r['correlation_interval_covers']:.3f} |\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
