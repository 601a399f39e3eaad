"""``finsent study``: where a backtest's signals show, and what books a Korean account can hold earn."""

from __future__ import annotations

import argparse
import json
import sys

from finsent.cli_args import add_command, open_engine
from finsent.config import load_settings
from finsent.ml.study.spec import StudySpec
from finsent.specs import add_arguments, from_values, namespace_values


def cmd_study(args: argparse.Namespace) -> int:
    """A factor study of a finished backtest, done honestly for overlapping horizons and few dates.
    Signals known before each session's open: `text` (the backtest's out-of-sample index), `attention`
    (texts in the 24 h before the open against the stock's trailing 20 sessions, log ratio),
    `disagreement` (the spread of the texts' scores), per text source (`news_...` for news). Targets from
    that open on, over h sessions: `return` (open to the close h sessions later), `abs_return` (its size),
    `volume` (mean volume against the trailing 20). Per (signal, target, horizon): the mean
    cross-sectional rank IC on blocks of h consecutive decision dates with h - 1 skipped between two
    (their targets never overlap), its 95% interval, the sessions and blocks behind it, a two-sided
    sign-flip p over the blocks, p adjusted over the whole grid (Holm) and a verdict: `signal` only when
    the adjusted p < 0.05 with at least 10 blocks, `too few sessions` below.
    Books rebalanced every k sessions (--holds), in at an open, out at a close: long-short (top minus
    bottom quantile; no short leg during the 2023-11-06..2025-03-30 ban) and long-only against the
    equal-weight universe, paying --cost-bps a side and the sell tax by trade date; per book the gross and
    net mean per session, the annualised Sharpe with its interval, turnover, max drawdown and the
    break-even cost. Stored in Postgres (studies, study_cells, study_books) and one MLflow run tagged
    study=NAME with plots. Rerunning the same spec prints the saved study; another spec under a used name
    exits 2 unless --replace."""
    from finsent.ml.registry import keep_store_private
    from finsent.ml.study import run_study
    from finsent.ml.study.report import to_text

    spec = from_values(StudySpec, namespace_values(args, StudySpec))
    settings = load_settings()
    try:
        outcome = run_study(settings, open_engine(), args.name, args.backtest, spec, replace=args.replace)
    finally:
        keep_store_private(settings)
    public = {k: v for k, v in outcome.report.items() if k not in ("book_days", "dates")}
    if args.json:
        sys.stdout.write(json.dumps(public, ensure_ascii=False) + "\n")
        return 0
    if outcome.reused:
        sys.stdout.write(f"(the saved study {args.name!r}: the same options and backtest; --replace computes it "
                         "again)\n\n")
    sys.stdout.write(to_text(public))
    if outcome.run_id:
        sys.stdout.write(f"\nMLflow run {outcome.run_id} (tag study={args.name})\n")
    return 0


def register(commands) -> None:
    study = add_command(commands, "study", cmd_study,
                        help="factor study of a backtest: signals x targets x horizons, and books after costs")
    study.add_argument("name", help="the study's name (rerun to print it again)")
    study.add_argument("--backtest", required=True, help="a finished backtest (finsent backtest NAME)")
    add_arguments(study, StudySpec)
    study.add_argument("--json", action="store_true", help="print one JSON object: the grid, the books and the rest")
    study.add_argument("--replace", action="store_true", help="compute a study of this name again with these options")
