"""``finsent label``, ``finsent quality``, ``finsent dataset``: from posts to frozen snapshots."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from finsent.cli_args import DeprecatedSpelling, add_command, open_engine, positive_int
from finsent.config import load_settings, parse_ticker_list
from finsent.data.export_spec import FORMATS, TABLE_HELP, TABLE_NAMES, ExportFilter
from finsent.data.sources import BOARD, NEWS
from finsent.data.spec import DatasetSpec
from finsent.specs import add_arguments, from_values, namespace_values

log = logging.getLogger(__name__)


def cmd_label(args: argparse.Namespace) -> int:
    """Write labels (up/down/flat) for posts that have none under a definition yet, and relabel posts
    whose prices were re-fetched. A definition is a rule with a horizon and a band, stored under a
    name. With no --rule, every standard definition: next_open_close
    (tradable: the open to the close of the first session opening strictly after the post, 09:00 KST
    or its later opening on exam days) and next_session (the same session, close to close: not
    tradable, part of the move is public after the close). same_day: the study's label (the post's
    date must be a session). Posts with no later price yet get no label."""
    from finsent.data.labels import STANDARD_DEFINITIONS, LabelDefinition, label_posts
    from finsent.errors import ConfigError

    if args.name and not args.rule:
        raise ConfigError("--name needs --rule (one name per label definition)")
    rules = [args.rule] if args.rule else list(STANDARD_DEFINITIONS)
    # every definition is checked before any is written: a bad --band labels nothing
    definitions = [LabelDefinition.build(rule, horizon=args.horizon, band=args.band, name=args.name)
                   for rule in rules]
    tickers = parse_ticker_list(args.tickers) if args.tickers else None
    engine = open_engine()
    if tickers is not None:
        from finsent.tickers import require_known

        require_known(engine, tickers)  # an unknown code is bad input (exit 2), not "nothing to label"
    for definition in definitions:
        report = label_posts(engine, definition, tickers, workers=args.workers)
        read = "every post" if report.read is None else f"{report.read} posts (what changed since the last run)"
        sys.stdout.write(f"definition {report.definition}: {report.labelled} new labels "
                         f"({report.relabelled} after a price change); read {read}, {report.unlabelled} of them "
                         f"without a label yet; news: {report.news_labelled} new ({report.news_relabelled} after a "
                         f"price change), {report.news_unlabelled} articles without one"
                         + "".join(f"; {name}: {new} new ({again} after a price change), {left} without one"
                                   for name, (new, again, left) in report.per_source.items()
                                   if name not in (BOARD.name, NEWS.name)) + "\n")
        for label in ("up", "down", "flat"):  # the new labels by class
            sys.stdout.write(f"  {label:5s} {report.counts.get(label, 0):10d}\n")
    return 0


def cmd_quality_check(args: argparse.Namespace) -> int:
    """Evaluate the named rules (clean-bot hidden, replies to deleted posts, spam/ads, duplicate and
    near-duplicate titles within 24h, too short, off-topic) and store flags in post_flags. Nothing is
    deleted."""
    from finsent.data.quality import check_quality

    run = check_quality(open_engine(), recheck=args.recheck)
    sys.stdout.write(f"{run.checked} posts checked\n")
    for rule, n in run.flagged.items():
        sys.stdout.write(f"  {rule:22s} {n:8d} flagged\n")
    return 0


def cmd_quality_report(args: argparse.Namespace) -> int:
    from finsent.data.quality import print_report

    print_report(open_engine(), sys.stdout, samples=args.samples)
    return 0


def cmd_dataset_build(args: argparse.Namespace) -> int:
    """Select up/down labels, drop flagged posts, optionally balance, split by time (with an embargo) or at
    random (the study's 99/1), keep each story in one part (a title repeated by the same stock within
    24 hours of its copy in an earlier part leaves the later part), and store the snapshot with a
    content hash. Same spec, same data: same hash."""
    from finsent.data.build import build_dataset
    from finsent.data.snapshots import show_dataset

    spec = from_values(DatasetSpec, namespace_values(args, DatasetSpec))
    engine = open_engine()
    build_dataset(engine, args.name, spec, load_settings().data_dir, replace=args.replace)
    show_dataset(engine, args.name, sys.stdout)
    return 0


def cmd_dataset_show(args: argparse.Namespace) -> int:
    from finsent.data.snapshots import show_dataset

    show_dataset(open_engine(), args.name, sys.stdout)
    return 0


def cmd_dataset_list(args: argparse.Namespace) -> int:
    from finsent.data.snapshots import list_datasets

    list_datasets(open_engine(), sys.stdout)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """Write a table finsent publishes to a file: TABLE is daily-sentiment (the daily index per
    source, model version, stock and session), scores (P(up) of every scored post and headline),
    backtest (each walk-forward backtest's out-of-sample index), study or study-books (each factor
    study's grid and books, `finsent study`); the rows the filters keep (a filter a table cannot apply
    is refused), in a fixed order, as CSV, Parquet or JSON (an array of objects; times ISO 8601 in
    KST). The file is written
    beside --out and renamed over it when complete: an error leaves nothing half-written. Unknown
    tickers, bad dates and a missing folder exit 2."""
    from finsent.data.export import export_table
    from finsent.data.origin import synthetic_marks

    rows = from_values(ExportFilter, namespace_values(args, ExportFilter))
    engine = open_engine()
    n, fmt = export_table(engine, args.table, rows, args.format, args.out)
    sys.stdout.write(f"{args.table}: {n} rows written to {args.out} ({fmt})\n")
    with engine.connect() as conn:
        for mark in synthetic_marks(conn):
            log.warning("these data are synthetic (%s: %s): they measure a planted signal, not a market",
                        mark.source, mark.description)
    return 0


def cmd_reconcile(args: argparse.Namespace) -> int:
    """Make labels, quality flags, scores and the daily index agree with the posts, news and prices as
    they are now, after hand edits: drops what refers to posts or articles that are gone; texts whose
    title was edited (logged by a trigger; older edits found by their normalised title) lose their
    scores and flags; labels whose session no longer matches their text's time are dropped. Then it
    checks quality, labels (every definition), rebuilds every daily index from the scores as they are
    (rows that differ only) and scores the edited texts with each source's champion (--no-score: leave
    that to the next `finsent score`). Snapshots and backtests are frozen and kept. --dry-run prints
    what it would do and changes nothing. Progress is logged step by step."""
    from finsent.data.reconcile import reconcile

    report = reconcile(load_settings(), open_engine(), dry_run=args.dry_run, score=not args.no_score)
    sys.stdout.write("".join(f"{line}\n" for line in report.lines()))
    return 0


def register(commands) -> None:
    label = add_command(commands, "label", cmd_label, help="label posts by the price move after them (set-based SQL)")
    label.add_argument("--rule", help="the label rule: next_open_close, next_session or same_day "
                       "(default: every standard definition, next_open_close and next_session)")
    # `--definition` elsewhere is a definition's name; here it was the rule (until the next release)
    label.add_argument("--definition", dest="rule", action=DeprecatedSpelling, new="--rule")
    label.add_argument("--band", default="0", help="|return| below this fraction is labelled flat (e.g. 0.005)")
    label.add_argument("--horizon", type=positive_int, default=1,
                       help="use the close K sessions ahead (1: the post's own session)")
    label.add_argument("--name", help="name to store it under (default: derived, e.g. next_session_h5_b0.005)")
    label.add_argument("--tickers", help="only these tickers (default: all)")
    label.add_argument("--workers", type=positive_int, default=2,
                       help="connections labelling disjoint groups of tickers at once (default 2)")

    quality = commands.add_parser("quality", help="data-quality flags (spam, politics, duplicates, ...)")
    quality_commands = quality.add_subparsers(dest="quality_command", required=True, metavar="ACTION")
    check = add_command(quality_commands, "check", cmd_quality_check, help="flag posts not checked yet")
    check.add_argument("--recheck", action="store_true", help="drop all flags and check every post again")
    report = add_command(quality_commands, "report", cmd_quality_report,
                         help="counts per rule and ticker, with examples")
    report.add_argument("--samples", type=positive_int, default=3, help="example titles per rule")

    dataset = commands.add_parser("dataset", help="frozen, leakage-free dataset snapshots")
    dataset_commands = dataset.add_subparsers(dest="dataset_command", required=True, metavar="ACTION")
    build = add_command(dataset_commands, "build", cmd_dataset_build, help="freeze a snapshot (Postgres + Parquet)")
    build.add_argument("name")
    add_arguments(build, DatasetSpec)
    build.add_argument("--replace", action="store_true", help="rebuild a snapshot that exists")
    show = add_command(dataset_commands, "show", cmd_dataset_show,
                       help="counts per split, label and ticker; dates; hash")
    show.add_argument("name")
    add_command(dataset_commands, "list", cmd_dataset_list, help="all snapshots")

    export = add_command(commands, "export", cmd_export, help="a published table as CSV, Parquet or JSON")
    export.add_argument("table", choices=TABLE_NAMES, help="; ".join(f"{k}: {v}" for k, v in TABLE_HELP.items()))
    export.add_argument("--out", type=Path, required=True, help="the file to write (replaced only when complete)")
    export.add_argument("--format", choices=FORMATS, help="csv, parquet or json (default: the --out suffix)")
    add_arguments(export, ExportFilter)

    reconcile = add_command(commands, "reconcile", cmd_reconcile,
                            help="make labels, flags, scores and the index agree with the data after hand edits")
    reconcile.add_argument("--dry-run", action="store_true", help="say what it would do; change nothing")
    reconcile.add_argument("--no-score", action="store_true",
                           help="do not score the edited texts again (the next `finsent score` does)")
