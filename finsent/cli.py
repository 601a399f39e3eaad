"""The ``finsent`` command line. Every command has ``--help``; exit codes: 0 ok, 1 a run had
failures, 2 bad input or configuration."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from datetime import date, datetime
from pathlib import Path

from finsent.config import load_settings, parse_ticker_list
from finsent.errors import FinsentError

log = logging.getLogger("finsent")


def _date(value: str) -> date:
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date YYYY-MM-DD") from None


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not an integer") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value!r} must be at least 1")
    return number


def _engine():
    from finsent.db import create_engine

    return create_engine(load_settings())


def _selected_tickers(args: argparse.Namespace) -> list[str]:
    return parse_ticker_list(args.tickers) if args.tickers else load_settings().tickers


def _report(reports) -> int:
    from finsent.report import print_table

    print_table(reports, sys.stdout)
    return 0 if all(r.ok for r in reports) else 1


# --- commands ----------------------------------------------------------------------------------


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from finsent.db import upgrade
    from finsent.tickers import seed_default_tickers

    engine = _engine()
    applied = upgrade(engine)
    seeded = seed_default_tickers(engine)
    log.info("schema up to date (%d migration(s) applied now, %d default ticker(s) added)", len(applied), seeded)
    return 0


def cmd_db_status(args: argparse.Namespace) -> int:
    from finsent.db import applied_versions, database_url, load_migrations

    settings = load_settings()
    url = database_url(settings)
    from finsent.db import create_engine

    applied = dict(applied_versions(create_engine(settings)))
    sys.stdout.write(f"database: {url.split('@')[-1]}\n")
    for migration in load_migrations():
        state = "applied" if migration.version in applied else "PENDING"
        sys.stdout.write(f"  {migration.name:40s} {state}\n")
    return 0


def cmd_db_url(args: argparse.Namespace) -> int:
    from finsent.db import database_url

    sys.stdout.write(database_url(load_settings()) + "\n")
    return 0


def cmd_crawl(args: argparse.Namespace) -> int:
    from finsent.crawl import crawl_boards

    reports = crawl_boards(load_settings(), _engine(), _selected_tickers(args), source=args.source,
                           since=args.since, max_pages=args.max_pages, ignore_robots=args.ignore_robots,
                           workers=args.workers)
    return _report(reports)


def cmd_prices(args: argparse.Namespace) -> int:
    from finsent.prices import sync_prices

    reports = sync_prices(load_settings(), _engine(), _selected_tickers(args), source=args.source,
                          since=args.since, ignore_robots=args.ignore_robots, workers=args.workers)
    return _report(reports)


def cmd_import_posts(args: argparse.Namespace) -> int:
    from finsent.importer import import_posts

    return _report([import_posts(_engine(), args.file)])


def cmd_import_prices(args: argparse.Namespace) -> int:
    from finsent.importer import import_prices

    return _report([import_prices(_engine(), args.file, adjusted=not args.unadjusted)])


def cmd_tickers_list(args: argparse.Namespace) -> int:
    from finsent.tickers import known_tickers

    for code, name in known_tickers(_engine()).items():
        sys.stdout.write(f"{code}  {name}\n")
    return 0


def cmd_tickers_add(args: argparse.Namespace) -> int:
    from finsent.tickers import add_tickers

    added = add_tickers(_engine(), {args.code: args.name}, market=args.market)
    log.info("%s %s", args.code, "added" if added else "already known")
    return 0


def cmd_label(args: argparse.Namespace) -> int:
    from finsent.labels import LabelDefinition, label_posts

    definition = LabelDefinition.build(args.definition, horizon=args.horizon, band=args.band, name=args.name)
    tickers = parse_ticker_list(args.tickers) if args.tickers else None
    report = label_posts(_engine(), definition, tickers, workers=args.workers)
    sys.stdout.write(f"definition {report.definition}: {report.labelled} new labels "
                     f"({report.relabelled} after a price change), {report.unlabelled} posts without a label yet\n")
    for label in ("up", "down", "flat"):
        sys.stdout.write(f"  {label:5s} {report.counts.get(label, 0):10d}\n")
    return 0


def cmd_quality_check(args: argparse.Namespace) -> int:
    from finsent.quality import check_quality

    run = check_quality(_engine(), recheck=args.recheck)
    sys.stdout.write(f"{run.checked} posts checked\n")
    for rule, n in run.flagged.items():
        sys.stdout.write(f"  {rule:22s} {n:8d} flagged\n")
    return 0


def cmd_quality_report(args: argparse.Namespace) -> int:
    from finsent.quality import print_report

    print_report(_engine(), sys.stdout, samples=args.samples)
    return 0


def cmd_dataset_build(args: argparse.Namespace) -> int:
    from finsent.datasets import DatasetSpec, build_dataset, show_dataset
    from finsent.quality import ALL_RULES

    if args.rules == "all":
        rules = ALL_RULES
    elif args.rules == "none":
        rules = ()
    else:
        rules = tuple(parse_ticker_list(args.rules))
    default_valid, default_test = (0.1, 0.1) if args.split == "time" else (0.0, 0.01)
    spec = DatasetSpec(
        definition=args.definition, rules=rules, start=args.date_from, end=args.date_to,
        tickers=tuple(parse_ticker_list(args.tickers)) if args.tickers else (), split=args.split,
        valid_frac=default_valid if args.valid_frac is None else args.valid_frac,
        test_frac=default_test if args.test_frac is None else args.test_frac,
        embargo=args.embargo, balance=args.balance, per_class=args.per_class, seed=args.seed)
    engine = _engine()
    build_dataset(engine, args.name, spec, load_settings().data_dir, replace=args.replace)
    show_dataset(engine, args.name, sys.stdout)
    return 0


def cmd_dataset_show(args: argparse.Namespace) -> int:
    from finsent.datasets import show_dataset

    show_dataset(_engine(), args.name, sys.stdout)
    return 0


def cmd_dataset_list(args: argparse.Namespace) -> int:
    from finsent.datasets import list_datasets

    list_datasets(_engine(), sys.stdout)
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from finsent.models.lora import LoraSpec
    from finsent.train import train_model

    spec = None
    if args.model == "lora":
        spec = LoraSpec(base_model=args.base_model, prompt=args.prompt, epochs=args.epochs,
                        batch_size=args.batch_size, lr=args.lr, max_steps=args.max_steps, quantize=args.quantize,
                        device=args.device, lora_r=args.lora_r,
                        target_modules=["all-linear"] if args.all_linear else ["query_key_value"],
                        gradient_checkpointing=args.gradient_checkpointing, checkpoint_dir=args.checkpoint_dir,
                        seed=args.seed)
    outcome = train_model(load_settings(), _engine(), args.dataset, args.model, lora=spec)
    if outcome is None:  # a non-zero rank of `accelerate launch`: rank 0 reports
        return 0
    sys.stdout.write(outcome.report.to_markdown())
    sys.stdout.write(f"\nMLflow run {outcome.run_id}: registered finsent-updown v{outcome.version} "
                     f"({'champion' if outcome.decision.promoted else 'challenger'}: {outcome.decision.reason})\n")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from finsent.train import evaluate_version

    report = evaluate_version(load_settings(), _engine(), args.model_version, args.dataset)
    sys.stdout.write(report.to_markdown())
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    from finsent.score import score_posts

    report = score_posts(load_settings(), _engine(), alias=args.alias, batch_size=args.batch_size)
    sys.stdout.write(f"finsent-updown v{report.model_version}: {report.scored} posts scored, "
                     f"{report.index_rows} daily_sentiment rows\n")
    return 0


def cmd_model_make_tiny(args: argparse.Namespace) -> int:
    from finsent.models.tiny import make_tiny_model

    corpus: list[str] = []
    if args.from_posts:
        import sqlalchemy as sa

        with _engine().connect() as conn:
            corpus = [r[0] for r in conn.execute(sa.text("SELECT title FROM posts LIMIT 50000"))]
    make_tiny_model(args.directory, corpus, hidden=args.hidden, layers=args.layers)
    sys.stdout.write(f"tiny GPT-NeoX written to {args.directory}\n")
    return 0


def cmd_stack(args: argparse.Namespace) -> int:
    from finsent.stack import Stack

    stack = Stack(load_settings())
    if args.stack_command == "up":
        stack.up()
    elif args.stack_command == "down":
        stack.down()
    else:
        stack.demo()
    return 0


def _fraction(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None


# --- parser --------------------------------------------------------------------------------------


def _add_ingest_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tickers", help="comma-separated codes (default: FINSENT_TICKERS, else the 20 defaults)")
    parser.add_argument("--ignore-robots", action="store_true",
                        help="do not obey robots.txt (logged loudly; only where you are entitled to)")
    parser.add_argument("--workers", type=_positive_int, default=2,
                        help="tickers fetched in parallel; the per-host delay is shared by all (default 2)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="finsent",
        description="finsent: Naver discussion-board sentiment as a measured market signal. "
                    "Configuration comes from FINSENT_* environment variables or a .env file (see README).",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    db = commands.add_parser("db", help="database schema", description="Manage the database schema.")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    db_commands.add_parser("upgrade", help="apply pending sql/ migrations (idempotent)",
                           description="Apply pending migrations from sql/ in order, record them in "
                                       "schema_migrations, refuse changed ones, seed the default tickers."
                           ).set_defaults(func=cmd_db_upgrade)
    db_commands.add_parser("status", help="list migrations and whether they are applied").set_defaults(
        func=cmd_db_status)
    db_commands.add_parser("url", help="print the database URL (starts the embedded server if needed)"
                           ).set_defaults(func=cmd_db_url)

    crawl = commands.add_parser(
        "crawl", help="fetch new discussion-board posts into `posts`",
        description="Walk each ticker's board newest to oldest, down to its watermark (the newest post "
                    "already stored). A ticker's first run goes back FINSENT_BACKFILL_DAYS days. Every page "
                    "is committed with the watermark: re-run any time, interrupted runs resume.")
    _add_ingest_options(crawl)
    crawl.add_argument("--since", type=_date, metavar="YYYY-MM-DD",
                       help="backfill: walk back to this date (KST) regardless of the watermark")
    crawl.add_argument("--source", choices=("naver-mobile", "naver-html"), default="naver-mobile",
                       help="naver-mobile: the live JSON API (default); naver-html: the legacy HTML board")
    crawl.add_argument("--max-pages", type=_positive_int, metavar="N",
                       help="stop after N pages per ticker; the next run resumes where this one stopped")
    crawl.set_defaults(func=cmd_crawl)

    prices = commands.add_parser(
        "prices", help="fetch daily prices into `prices`",
        description="First run per ticker: the whole history. Later runs: only sessions after the last "
                    "stored one. Trading-halt rows (volume 0) are dropped.")
    _add_ingest_options(prices)
    prices.add_argument("--since", type=_date, metavar="YYYY-MM-DD",
                        help="re-fetch from this date and overwrite what changed (after a split)")
    prices.add_argument("--source", choices=("fchart", "sisejson", "sise-day"), default="fchart",
                        help="fchart: split-adjusted XML (default); sisejson: adjusted; "
                             "sise-day: legacy HTML, NOT adjusted (stored with adjusted=false)")
    prices.set_defaults(func=cmd_prices)

    imports = commands.add_parser("import", help="import CSV archives (all or nothing)",
                                  description="Import a CSV file; one bad row rejects the whole file.")
    import_commands = imports.add_subparsers(dest="import_command", required=True, metavar="KIND")
    posts = import_commands.add_parser(
        "posts", help="ticker,post_id,posted_at,title[,body,author,views,likes,dislikes]",
        description="Columns: ticker,post_id,posted_at,title[,body,author,views,likes,dislikes]; "
                    "posted_at in KST as YYYY-MM-DD HH:MM[:SS]. UTF-8. Posts already stored are kept.")
    posts.add_argument("file", type=Path)
    posts.set_defaults(func=cmd_import_posts)
    prices_import = import_commands.add_parser(
        "prices", help="ticker,date,open,high,low,close,volume",
        description="Columns: ticker,date,open,high,low,close,volume; date as YYYY-MM-DD. Rows with "
                    "volume 0 (halts) are dropped; stored sessions that differ are overwritten.")
    prices_import.add_argument("file", type=Path)
    prices_import.add_argument("--unadjusted", action="store_true",
                               help="the file's prices are not split-adjusted (stored adjusted=false)")
    prices_import.set_defaults(func=cmd_import_prices)

    label = commands.add_parser(
        "label", help="label posts by the price move after them (set-based SQL)",
        description="Write labels (up/down/flat) for posts that have none under the definition yet, and "
                    "relabel posts whose prices were re-fetched. next_session: the first session opening "
                    "(09:00 KST) strictly after the post, close vs the previous session's close. same_day: "
                    "the study's label (the post's date must be a session). Posts with no later price yet "
                    "get no label.")
    label.add_argument("--definition", default="next_session", help="next_session (default) or same_day")
    label.add_argument("--band", default="0", help="|return| below this fraction is labelled flat (e.g. 0.005)")
    label.add_argument("--horizon", type=_positive_int, default=1,
                       help="use the close K sessions ahead (1: the post's own session)")
    label.add_argument("--name", help="name to store it under (default: derived, e.g. next_session_h5_b0.005)")
    label.add_argument("--tickers", help="only these tickers (default: all)")
    label.add_argument("--workers", type=_positive_int, default=2,
                       help="connections labelling disjoint groups of tickers at once (default 2)")
    label.set_defaults(func=cmd_label)

    quality = commands.add_parser("quality", help="data-quality flags (spam, politics, duplicates, ...)")
    quality_commands = quality.add_subparsers(dest="quality_command", required=True, metavar="ACTION")
    check = quality_commands.add_parser(
        "check", help="flag posts not checked yet",
        description="Evaluate the named rules (clean-bot hidden, replies to deleted posts, spam/ads, "
                    "duplicate and near-duplicate titles within 24h, too short, off-topic) and store flags "
                    "in post_flags. Nothing is deleted.")
    check.add_argument("--recheck", action="store_true", help="drop all flags and check every post again")
    check.set_defaults(func=cmd_quality_check)
    report = quality_commands.add_parser("report", help="counts per rule and ticker, with examples")
    report.add_argument("--samples", type=_positive_int, default=3, help="example titles per rule")
    report.set_defaults(func=cmd_quality_report)

    dataset = commands.add_parser("dataset", help="frozen, leakage-free dataset snapshots")
    dataset_commands = dataset.add_subparsers(dest="dataset_command", required=True, metavar="ACTION")
    build = dataset_commands.add_parser(
        "build", help="freeze a snapshot (Postgres + Parquet)",
        description="Select up/down labels, drop flagged posts, optionally balance, split by time (with an "
                    "embargo) or at random (the study's 99/1), keep each normalised title in one part, and "
                    "store the snapshot with a content hash. Same spec, same data: same hash.")
    build.add_argument("name")
    build.add_argument("--definition", default="next_session", help="label definition name")
    build.add_argument("--rules", default="all",
                       help="quality rules whose flagged posts are left out: all (default), none, or a list")
    build.add_argument("--from", dest="date_from", type=_date, metavar="YYYY-MM-DD", help="first session date")
    build.add_argument("--to", dest="date_to", type=_date, metavar="YYYY-MM-DD", help="last session date")
    build.add_argument("--tickers", help="only these tickers (default: all)")
    build.add_argument("--split", choices=("time", "random"), default="time")
    build.add_argument("--valid-frac", type=_fraction, help="share for valid (time: 0.1, random: 0)")
    build.add_argument("--test-frac", type=_fraction, help="share for test (time: 0.1, random: 0.01)")
    build.add_argument("--embargo", type=int, default=1, help="sessions left out between parts (time split)")
    build.add_argument("--balance", action="store_true", help="as many up as down (the study: 15k/15k)")
    build.add_argument("--per-class", type=_positive_int, help="at most this many rows per class")
    build.add_argument("--seed", type=int, default=0)
    build.add_argument("--replace", action="store_true", help="rebuild a snapshot that exists")
    build.set_defaults(func=cmd_dataset_build)
    show = dataset_commands.add_parser("show", help="counts per split, label and ticker; dates; hash")
    show.add_argument("name")
    show.set_defaults(func=cmd_dataset_show)
    dataset_commands.add_parser("list", help="all snapshots").set_defaults(func=cmd_dataset_list)

    train = commands.add_parser(
        "train", help="fit, evaluate, log to MLflow, register, apply the champion rule",
        description="Fit a model on a dataset snapshot's train part, evaluate it on the test part against "
                    "the majority, previous_session and TF-IDF baselines, log one MLflow run, register a new "
                    "finsent-updown version as 'challenger', and move 'champion' only if it wins fairly "
                    "(McNemar p < 0.05 on the same test part) or there is none.")
    train.add_argument("--dataset", required=True, help="snapshot name (finsent dataset build)")
    train.add_argument("--model", choices=("baseline", "lora"), default="baseline")
    train.add_argument("--base-model", default="EleutherAI/polyglot-ko-1.3b",
                       help="hub id or local directory of a GPT-NeoX/Llama-style causal LM (lora)")
    train.add_argument("--prompt", choices=("study-2shot", "zero-shot"), default="study-2shot")
    train.add_argument("--epochs", type=_positive_int, default=1)
    train.add_argument("--batch-size", type=_positive_int, default=16)
    train.add_argument("--lr", type=_fraction, default=2e-4)
    train.add_argument("--max-steps", type=_positive_int, help="stop after N optimizer steps")
    train.add_argument("--lora-r", type=_positive_int, default=8)
    train.add_argument("--all-linear", action="store_true", help="LoRA on all linear layers, not only query_key_value")
    train.add_argument("--quantize", choices=("4bit",), help="QLoRA (bitsandbytes 4-bit; CUDA only)")
    train.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    train.add_argument("--gradient-checkpointing", action="store_true")
    train.add_argument("--checkpoint-dir", help="save resumable checkpoints here (and resume from them)")
    train.add_argument("--seed", type=int, default=0)
    train.set_defaults(func=cmd_train)

    evaluate = commands.add_parser("evaluate", help="re-evaluate a registered version on a snapshot",
                                   description="Evaluate any finsent-updown version (number or alias) on any "
                                               "snapshot's test part; logs an MLflow run and prints the report.")
    evaluate.add_argument("--model-version", default="champion", help="version number or alias (default champion)")
    evaluate.add_argument("--dataset", required=True)
    evaluate.set_defaults(func=cmd_evaluate)

    score = commands.add_parser("score", help="score new posts with the champion; rebuild daily_sentiment",
                                description="Load models:/finsent-updown@champion, write P(up) for every post "
                                            "without a score from that version into post_scores, and rebuild "
                                            "daily_sentiment. Idempotent; an interrupted run resumes.")
    score.add_argument("--alias", default="champion")
    score.add_argument("--batch-size", type=_positive_int, default=2048)
    score.set_defaults(func=cmd_score)

    model = commands.add_parser("model", help="model utilities")
    model_commands = model.add_subparsers(dest="model_command", required=True, metavar="ACTION")
    tiny = model_commands.add_parser("make-tiny", help="a tiny random GPT-NeoX for offline tests and demos",
                                     description="Train a byte-level BPE tokenizer on local text and save a tiny "
                                                 "random GPT-NeoX with save_pretrained: the LoRA path runs on a CPU.")
    tiny.add_argument("directory", type=Path)
    tiny.add_argument("--from-posts", action="store_true", help="also train the tokenizer on stored titles")
    tiny.add_argument("--hidden", type=_positive_int, default=64)
    tiny.add_argument("--layers", type=_positive_int, default=2)
    tiny.set_defaults(func=cmd_model_make_tiny)

    stack = commands.add_parser(
        "stack", help="run the whole pipeline locally (embedded Postgres, MLflow, Airflow standalone)",
        description="up: embedded Postgres, migrations, MLflow server on 127.0.0.1:5000, airflow standalone on "
                    "127.0.0.1:8080 with this repository's DAGs and plugin; prints URLs and the admin password. "
                    "down: stop them. demo: up against the loopback Naver with a tiny model, then run "
                    "ingest -> label -> train -> score and wait for each.")
    stack.add_argument("stack_command", choices=("up", "down", "demo"))
    stack.set_defaults(func=cmd_stack)

    tickers = commands.add_parser("tickers", help="the stocks finsent knows")
    ticker_commands = tickers.add_subparsers(dest="tickers_command", required=True, metavar="ACTION")
    ticker_commands.add_parser("list", help="list known tickers").set_defaults(func=cmd_tickers_list)
    add = ticker_commands.add_parser("add", help="add a ticker")
    add.add_argument("code", help="six-character KRX code, e.g. 005930")
    add.add_argument("name", help="display name, e.g. 삼성전자")
    add.add_argument("--market", default="KOSPI")
    add.set_defaults(func=cmd_tickers_add)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except FinsentError as exc:
        log.error("%s", exc)
        return exc.exit_code
    except KeyboardInterrupt:
        log.error("interrupted; committed pages are kept and the next run resumes")
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
