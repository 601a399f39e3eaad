"""``finsent train``, ``finsent evaluate``, ``finsent score``, ``finsent model``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from finsent.cli_args import add_command, bps, open_engine, positive_int, rate
from finsent.config import load_settings
from finsent.data.embargo import EMBARGO_HELP


def cmd_train(args: argparse.Namespace) -> int:
    """Fit a model on a frozen snapshot's train part (its hash checked), make every choice on valid
    (regularisation or early stopping, the calibration of P(up)), score the test part once and evaluate
    it against the majority, previous_session and TF-IDF baselines with statistics clustered by
    session date, log one MLflow run, register a new finsent-updown version as 'challenger', and move
    'champion' only if it wins fairly: only a tradable label (next_open_close) and a time split are
    eligible; every attempt is counted in MLflow and tests at alpha_k = 0.04 * 6 / (pi^2 k^2) for the
    k-th attempt since the last champion; a first champion needs balanced accuracy above 0.5 (clustered
    p < alpha_k); a challenger needs the same label definition, a test part after every session either
    model's labels reached, skill of its own at p < alpha_k and a paired clustered test at p < alpha_k."""
    from finsent.ml.models.lora import LoraSpec
    from finsent.ml.train import train_model

    spec = None
    if args.model == "lora":
        spec = LoraSpec.from_options(**_lora_options(args))
    outcome = train_model(load_settings(), open_engine(), args.dataset, args.model, lora=spec)
    if outcome is None:  # a non-zero rank of `accelerate launch`: rank 0 reports
        return 0
    sys.stdout.write(outcome.report.to_markdown())
    sys.stdout.write(f"\nMLflow run {outcome.run_id}: registered finsent-updown v{outcome.version} "
                     f"({'champion' if outcome.decision.promoted else 'challenger'}: {outcome.decision.reason})\n")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    """Evaluate any finsent-updown version (number or alias) on a snapshot's test part that it never saw;
    logs an MLflow run and prints the report. A test part holding sessions the version's training
    labels reached is refused (exit 2, naming them), or with --allow-in-sample reported with every
    number marked in-sample."""
    from finsent.ml.train import evaluate_version

    report = evaluate_version(load_settings(), open_engine(), args.model_version, args.dataset,
                              allow_in_sample=args.allow_in_sample)
    sys.stdout.write(report.to_markdown())
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    """Load models:/finsent-updown@champion, write P(up) for every post without a score from that
    version into post_scores, and rebuild daily_sentiment. Idempotent; an interrupted run resumes."""
    from finsent.ml.score import score_posts

    report = score_posts(load_settings(), open_engine(), alias=args.alias, batch_size=args.batch_size)
    sys.stdout.write(f"finsent-updown v{report.model_version}: {report.scored} posts scored, "
                     f"{report.index_rows} daily_sentiment rows\n")
    return 0


def cmd_model_make_tiny(args: argparse.Namespace) -> int:
    """Train a byte-level BPE tokenizer on local text and save a tiny random GPT-NeoX with save_pretrained:
    the LoRA path runs on a CPU."""
    from finsent.ml.models.tiny import make_tiny_model

    corpus: list[str] = []
    if args.from_posts:
        import sqlalchemy as sa

        with open_engine().connect() as conn:
            corpus = [r[0] for r in conn.execute(sa.text("SELECT title FROM posts LIMIT 50000"))]
    make_tiny_model(args.directory, corpus, hidden=args.hidden, layers=args.layers)
    sys.stdout.write(f"tiny GPT-NeoX written to {args.directory}\n")
    return 0


def _add_model_options(parser) -> None:
    """The model and its training options, shared by `finsent train` and `finsent backtest`."""
    parser.add_argument("--model", choices=("baseline", "lora"), default="baseline")
    parser.add_argument("--base-model", default="EleutherAI/polyglot-ko-1.3b",
                        help="hub id or local directory of a GPT-NeoX/Llama-style causal LM (lora)")
    parser.add_argument("--prompt", choices=("study-2shot", "zero-shot"), default="study-2shot")
    parser.add_argument("--epochs", type=positive_int, default=1)
    parser.add_argument("--batch-size", type=positive_int, default=16)
    parser.add_argument("--lr", type=rate, default=2e-4)
    parser.add_argument("--max-steps", type=positive_int, help="stop after N optimizer steps")
    parser.add_argument("--lora-r", type=positive_int, default=8)
    parser.add_argument("--all-linear", action="store_true", help="LoRA on all linear layers, not only query_key_value")
    parser.add_argument("--quantize", choices=("4bit",), help="QLoRA (bitsandbytes 4-bit; CUDA only)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--gradient-checkpointing", action="store_true")
    parser.add_argument("--dtype", choices=("auto", "bfloat16", "float16", "float32"), default="auto",
                        help="compute dtype: auto = bfloat16 on GPUs that have it, float16 (with loss scaling) on "
                             "older GPUs, float32 on CPUs; LoRA weights stay float32")
    parser.add_argument("--checkpoint-dir", help="save resumable checkpoints here and resume from them (a checkpoint "
                                                 "of another spec or snapshot is refused; removed when training ends)")
    parser.add_argument("--save-every", type=positive_int, default=200, help="checkpoint every N optimizer steps")
    parser.add_argument("--seed", type=int, default=0)


def _lora_options(args: argparse.Namespace) -> dict:
    return {"base_model": args.base_model, "prompt": args.prompt, "epochs": args.epochs, "batch_size": args.batch_size,
            "lr": args.lr, "max_steps": args.max_steps, "quantize": args.quantize, "device": args.device,
            "lora_r": args.lora_r, "all_linear": args.all_linear, "gradient_checkpointing": args.gradient_checkpointing,
            "checkpoint_dir": args.checkpoint_dir, "save_every": args.save_every, "dtype": args.dtype,
            "seed": args.seed}


def cmd_backtest(args: argparse.Namespace) -> int:
    """Walk forward over the session dates: at each step train on the labelled posts of
    --train-sessions sessions, skip --embargo sessions (plus h-1 for a horizon-h label), and score
    the posts of the next --step-sessions sessions with that model, so no post is scored by a model
    that saw its session. Labels: next_open_close (the tradable return) unless --definition says
    otherwise. Scores go to backtest_scores and backtest_daily, one MLflow run tagged
    backtest=NAME gets out-of-sample accuracy (clustered interval), the IC and its Newey-West t, and a
    long-short (top third minus bottom third of stocks by the index, open to close, before and after
    --cost-bps a side and --sell-tax-bps on sales), with plots. Each step commits on its own: rerun
    the same command to resume; a resumed walk scores every post exactly as one uninterrupted run."""
    from finsent.data.quality import parse_rules
    from finsent.ml.backtest import run_backtest
    from finsent.ml.backtest.walk import BacktestSpec
    from finsent.ml.registry import keep_store_private

    options = _lora_options(args)
    options.pop("checkpoint_dir")  # one adapter per step: a checkpoint would be the wrong step's
    options.pop("save_every")
    spec = BacktestSpec(model=args.model, definition=args.definition, rules=parse_rules(args.rules),
                        train_sessions=args.train_sessions, step_sessions=args.step_sessions, embargo=args.embargo,
                        cost_bps=args.cost_bps, sell_tax_bps=args.sell_tax_bps,
                        lora=options if args.model == "lora" else {})
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
    _add_model_options(train)

    evaluate = add_command(commands, "evaluate", cmd_evaluate, help="re-evaluate a registered version on a snapshot")
    evaluate.add_argument("--model-version", default="champion", help="version number or alias (default champion)")
    evaluate.add_argument("--dataset", required=True)
    evaluate.add_argument("--allow-in-sample", action="store_true",
                          help="report on a test part the version saw, with every number marked in-sample")

    score = add_command(commands, "score", cmd_score, help="score new posts with the champion; rebuild daily_sentiment")
    score.add_argument("--alias", default="champion")
    score.add_argument("--batch-size", type=positive_int, default=256,
                       help="posts per forward pass of the model (lower it when the GPU runs out of memory)")

    backtest = add_command(commands, "backtest", cmd_backtest,
                           help="walk-forward backtest: retrain over time, score only unseen sessions")
    backtest.add_argument("name", help="the backtest's name (resume by running the same command again)")
    _add_model_options(backtest)
    backtest.add_argument("--definition", default="next_open_close",
                          help="label definition (default next_open_close, the tradable open-to-close return)")
    backtest.add_argument("--rules", default="all", help="quality rules whose flagged posts are left out")
    backtest.add_argument("--train-sessions", type=positive_int, default=120,
                          help="sessions per training window (at least 10; default 120)")
    backtest.add_argument("--step-sessions", type=positive_int, default=5, help="sessions scored per step")
    backtest.add_argument("--embargo", type=positive_int, default=1, help=EMBARGO_HELP)
    backtest.add_argument("--cost-bps", type=bps, default=20.0,
                          help="cost per unit of notional traded, each side, in basis points (default 20)")
    backtest.add_argument("--sell-tax-bps", type=bps, default=20.0,
                          help="transaction tax per unit sold, in basis points (default 20: KOSPI from 2026)")
    backtest.add_argument("--steps-per-run", type=positive_int,
                          help="walk at most N steps now; the next run resumes (default: all)")
    backtest.add_argument("--replace", action="store_true", help="start a backtest of this name again")

    model = commands.add_parser("model", help="model utilities")
    model_commands = model.add_subparsers(dest="model_command", required=True, metavar="ACTION")
    tiny = add_command(model_commands, "make-tiny", cmd_model_make_tiny,
                      help="a tiny random GPT-NeoX for offline tests and demos")
    tiny.add_argument("directory", type=Path)
    tiny.add_argument("--from-posts", action="store_true", help="also train the tokenizer on stored titles")
    tiny.add_argument("--hidden", type=positive_int, default=64)
    tiny.add_argument("--layers", type=positive_int, default=2)
