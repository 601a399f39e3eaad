"""``finsent train``, ``finsent evaluate``, ``finsent score``, ``finsent model``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from finsent.cli_args import add_command, open_engine, positive_int
from finsent.config import load_settings
from finsent.data.spec import SOURCES
from finsent.errors import ConfigError
from finsent.ml.backtest.spec import BacktestSpec
from finsent.ml.models.tiny import TINY_FAMILIES
from finsent.ml.spec import ScoreSpec, TrainSpec
from finsent.ml.study.cli import register as study_commands
from finsent.specs import add_arguments, from_values, namespace_values


def cmd_train(args: argparse.Namespace) -> int:
    """Fit a model on a frozen snapshot's train part (its hash checked), make every choice on valid
    (regularisation or early stopping, the calibration of P(up)), score the test part once and evaluate
    it against the majority, previous_session and TF-IDF baselines with statistics clustered by
    session date, log one MLflow run, register a new finsent-updown version as 'challenger', and move
    'champion' only if it wins fairly: only a tradable label (next_open_close) and a time split are
    eligible; every attempt is counted in MLflow and tests at alpha_k = 0.04 * 6 / (pi^2 k^2) for the
    k-th attempt since the last champion (printed, and tagged finsent.attempt and finsent.alpha; an
    attempt whose test part is too short to reach alpha_k spends nothing); with --horizon h labels
    every test and interval runs over blocks of h consecutive test dates and a verdict needs 10 blocks;
    a first champion needs balanced accuracy above 0.5 (clustered p < alpha_k); a challenger needs the
    same label definition, a test part after every session either model's labels reached, skill of its
    own at p < alpha_k and a paired clustered test at p < alpha_k."""
    from finsent.ml.train import train_model

    spec = from_values(TrainSpec, namespace_values(args, TrainSpec))
    outcome = train_model(load_settings(), open_engine(), args.dataset, spec.model, transformer=spec.transformer,
                          tokenizer=spec.tokenizer)
    if outcome is None:  # a non-zero rank of `accelerate launch`: rank 0 reports
        return 0
    sys.stdout.write(outcome.report.to_markdown())
    sys.stdout.write(f"\n{outcome.decision.attempt_text}\n")
    sys.stdout.write(f"\nMLflow run {outcome.run_id}: registered finsent-updown v{outcome.version} "
                     f"({'champion' if outcome.decision.promoted else 'challenger'}: {outcome.decision.reason})\n")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    """Evaluate any registered version (number or alias) on a snapshot's test part that it never saw: of
    finsent-updown, finsent-news-updown or finsent-both-updown by --source (default: the snapshot's own
    source); logs an MLflow run and prints the report. A test part holding sessions the version's training
    labels reached is refused (exit 2, naming them), or with --allow-in-sample reported with every
    number marked in-sample."""
    from finsent.ml.evaluate import evaluate_version

    report = evaluate_version(load_settings(), open_engine(), args.model_version, args.dataset,
                              allow_in_sample=args.allow_in_sample, source=args.source)
    sys.stdout.write(report.to_markdown())
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    """Load models:/finsent-updown@champion (or --alias), write P(up) for every post without a score from
    that version into post_scores; load models:/finsent-news-updown@champion (or --news-alias), write P(up)
    for every news article without a score from it into news_scores; bring daily_sentiment of each source up
    to date (only the (stock, session) rows that new scores, flags or prices change are rewritten; a news
    story counts once). A source without a champion yet is skipped. Idempotent; an interrupted run resumes."""
    from finsent.data.sources import text_source
    from finsent.ml.news_score import score_sources

    spec = from_values(ScoreSpec, namespace_values(args, ScoreSpec))
    for report in score_sources(load_settings(), open_engine(), spec):
        source = text_source(report.source)
        sys.stdout.write(f"{source.model_name} v{report.model_version}: {report.scored} {source.items} scored, "
                         f"{report.index_rows} daily_sentiment rows of source {report.source} "
                         f"({report.index_rewritten} rewritten)\n")
    return 0


def cmd_model_make_tiny(args: argparse.Namespace) -> int:
    """Train the family's tokenizer (byte-level BPE, SentencePiece-style or WordPiece) on local text and
    save a tiny random checkpoint of that architecture with save_pretrained: every kind runs on a CPU."""
    from finsent.ml.models.tiny import make_tiny_model

    try:  # before any work: a folder that cannot be written is bad input, one line, exit 2
        args.directory.mkdir(parents=True, exist_ok=True)
        probe = args.directory / ".finsent-write-check"
        probe.touch()
        probe.unlink()
    except OSError as exc:
        raise ConfigError(f"cannot write the tiny model to {args.directory}: {exc.strerror or exc}") from None
    corpus: list[str] = []
    if args.from_posts:
        import sqlalchemy as sa

        with open_engine().connect() as conn:
            corpus = [r[0] for r in conn.execute(sa.text("SELECT title FROM posts LIMIT 50000"))]
    make_tiny_model(args.directory, corpus, family=args.family, hidden=args.hidden, layers=args.layers)
    sys.stdout.write(f"tiny {args.family} written to {args.directory}\n")
    return 0


def cmd_model_list(args: argparse.Namespace) -> int:
    """The bases finsent knows: hub id, architecture, parameters, licence (commercial use or not: a
    non-commercial base warns when it trains), memory to fine-tune (bf16 LoRA, QLoRA, full) and to
    serve, default LoRA targets and batch sizes. --base-model takes a name of this list, any hub id
    or a local directory."""
    from finsent.ml.models.catalogue import HOW, catalogue_rows
    from finsent.ml.models.kinds import KINDS

    rows = catalogue_rows()
    header = list(rows[0])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row[h] for h in header) + " |" for row in rows]
    kinds = "\n".join(f"- {k.name}: {k.summary}" for k in KINDS.values())
    sys.stdout.write(f"Model kinds (--model):\n{kinds}\n\nKnown bases (--base-model NAME):\n\n"
                     + "\n".join(lines) + f"\n\n{HOW}\n")
    return 0


def cmd_backtest(args: argparse.Namespace) -> int:
    """Walk forward over the session dates: at each step train on the labelled posts of
    --train-sessions sessions, skip --embargo sessions (plus h-1 for a horizon-h label), and score
    the posts of the next --step-sessions sessions with that model, so no post is scored by a model
    that saw its session. Labels: next_open_close (the tradable return) unless --definition says
    otherwise. Scores go to backtest_scores and backtest_daily, one MLflow run tagged
    backtest=NAME gets out-of-sample accuracy (clustered interval), the IC and its Newey-West t, and a
    long-short (top third minus bottom third of stocks by the index, open to close, before and after
    --cost-bps a side and --sell-tax-bps on sales), with plots. Each step commits on its own: rerun
    the same command to resume; a resumed walk scores every post exactly as one uninterrupted run.
    --source news walks news headlines instead (a story counted once in the index); --source both
    walks each source with its own model and compares them on their common sessions."""
    from finsent.ml.backtest import run_backtest
    from finsent.ml.registry import keep_store_private

    spec = from_values(BacktestSpec, namespace_values(args, BacktestSpec))
    settings = load_settings()
    try:
        run, report = run_backtest(settings, open_engine(), args.name, spec, replace=args.replace,
                                   steps_per_run=args.steps_per_run)
    finally:
        keep_store_private(settings)  # the report's plots and tables, logged by MLflow
    if report is None:
        sys.stdout.write(f"backtest {run.name}: {run.done} of {len(run.steps)} steps done; rerun to go on\n")
        return 0
    sys.stdout.write(report.to_markdown())
    return 0


def register(commands) -> None:
    train = add_command(commands, "train", cmd_train,
                      help="fit, evaluate, log to MLflow, register, apply the champion rule")
    train.add_argument("--dataset", required=True, help="snapshot name (finsent dataset build)")
    add_arguments(train, TrainSpec)

    evaluate = add_command(commands, "evaluate", cmd_evaluate, help="re-evaluate a registered version on a snapshot")
    evaluate.add_argument("--model-version", default="champion", help="version number or alias (default champion)")
    evaluate.add_argument("--dataset", required=True)
    evaluate.add_argument("--source", choices=SOURCES,
                          help="whose version: board (finsent-updown), news (finsent-news-updown) or both "
                               "(finsent-both-updown); default the snapshot's source")
    evaluate.add_argument("--allow-in-sample", action="store_true",
                          help="report on a test part the version saw, with every number marked in-sample")

    score = add_command(commands, "score", cmd_score,
                        help="score new posts and news with their champions; update daily_sentiment")
    add_arguments(score, ScoreSpec)

    backtest = add_command(commands, "backtest", cmd_backtest,
                           help="walk-forward backtest: retrain over time, score only unseen sessions")
    backtest.add_argument("name", help="the backtest's name (resume by running the same command again)")
    add_arguments(backtest, BacktestSpec)
    backtest.add_argument("--steps-per-run", type=positive_int,
                          help="walk at most N steps now; the next run resumes (default: all)")
    backtest.add_argument("--replace", action="store_true", help="start a backtest of this name again")

    study_commands(commands)

    model = commands.add_parser("model", help="model utilities")
    model_commands = model.add_subparsers(dest="model_command", required=True, metavar="ACTION")
    add_command(model_commands, "list", cmd_model_list,
                help="the model kinds and the known bases: licence, parameters, memory, LoRA targets, batch sizes")
    tiny = add_command(model_commands, "make-tiny", cmd_model_make_tiny,
                      help="a tiny random checkpoint of a real architecture for offline tests and demos")
    tiny.add_argument("directory", type=Path)
    tiny.add_argument("--family", choices=TINY_FAMILIES, default="gpt_neox",
                      help="the architecture and its tokenizer (default gpt_neox, polyglot-ko's)")
    tiny.add_argument("--from-posts", action="store_true", help="also train the tokenizer on stored titles")
    tiny.add_argument("--hidden", type=positive_int, default=64)
    tiny.add_argument("--layers", type=positive_int, default=2)
