"""``finsent train``, ``finsent evaluate``, ``finsent score``, ``finsent model``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from finsent.cli_args import add_command, fraction, open_engine, positive_int
from finsent.config import load_settings


def cmd_train(args: argparse.Namespace) -> int:
    """Fit a model on a dataset snapshot's train part, evaluate it on the test part against the majority,
    previous_session and TF-IDF baselines, log one MLflow run, register a new finsent-updown version
    as 'challenger', and move 'champion' only if it wins fairly (McNemar p < 0.05 on the same test
    part) or there is none."""
    from finsent.ml.models.lora import LoraSpec
    from finsent.ml.train import train_model

    spec = None
    if args.model == "lora":
        spec = LoraSpec.from_options(
            base_model=args.base_model, prompt=args.prompt, epochs=args.epochs, batch_size=args.batch_size,
            lr=args.lr, max_steps=args.max_steps, quantize=args.quantize, device=args.device, lora_r=args.lora_r,
            all_linear=args.all_linear, gradient_checkpointing=args.gradient_checkpointing,
            checkpoint_dir=args.checkpoint_dir, save_every=args.save_every, dtype=args.dtype, seed=args.seed)
    outcome = train_model(load_settings(), open_engine(), args.dataset, args.model, lora=spec)
    if outcome is None:  # a non-zero rank of `accelerate launch`: rank 0 reports
        return 0
    sys.stdout.write(outcome.report.to_markdown())
    sys.stdout.write(f"\nMLflow run {outcome.run_id}: registered finsent-updown v{outcome.version} "
                     f"({'champion' if outcome.decision.promoted else 'challenger'}: {outcome.decision.reason})\n")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    """Evaluate any finsent-updown version (number or alias) on any snapshot's test part; logs an MLflow
    run and prints the report."""
    from finsent.ml.train import evaluate_version

    report = evaluate_version(load_settings(), open_engine(), args.model_version, args.dataset)
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


def register(commands) -> None:
    train = add_command(commands, "train", cmd_train,
                      help="fit, evaluate, log to MLflow, register, apply the champion rule")
    train.add_argument("--dataset", required=True, help="snapshot name (finsent dataset build)")
    train.add_argument("--model", choices=("baseline", "lora"), default="baseline")
    train.add_argument("--base-model", default="EleutherAI/polyglot-ko-1.3b",
                       help="hub id or local directory of a GPT-NeoX/Llama-style causal LM (lora)")
    train.add_argument("--prompt", choices=("study-2shot", "zero-shot"), default="study-2shot")
    train.add_argument("--epochs", type=positive_int, default=1)
    train.add_argument("--batch-size", type=positive_int, default=16)
    train.add_argument("--lr", type=fraction, default=2e-4)
    train.add_argument("--max-steps", type=positive_int, help="stop after N optimizer steps")
    train.add_argument("--lora-r", type=positive_int, default=8)
    train.add_argument("--all-linear", action="store_true", help="LoRA on all linear layers, not only query_key_value")
    train.add_argument("--quantize", choices=("4bit",), help="QLoRA (bitsandbytes 4-bit; CUDA only)")
    train.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    train.add_argument("--gradient-checkpointing", action="store_true")
    train.add_argument("--dtype", choices=("auto", "bfloat16", "float16", "float32"), default="auto",
                       help="compute dtype: auto = bfloat16 on GPUs that have it, float16 (with loss scaling) on "
                            "older GPUs, float32 on CPUs; LoRA weights stay float32")
    train.add_argument("--checkpoint-dir", help="save resumable checkpoints here and resume from them (a checkpoint "
                                                "of another spec or snapshot is refused; removed when training ends)")
    train.add_argument("--save-every", type=positive_int, default=200, help="checkpoint every N optimizer steps")
    train.add_argument("--seed", type=int, default=0)

    evaluate = add_command(commands, "evaluate", cmd_evaluate, help="re-evaluate a registered version on a snapshot")
    evaluate.add_argument("--model-version", default="champion", help="version number or alias (default champion)")
    evaluate.add_argument("--dataset", required=True)

    score = add_command(commands, "score", cmd_score, help="score new posts with the champion; rebuild daily_sentiment")
    score.add_argument("--alias", default="champion")
    score.add_argument("--batch-size", type=positive_int, default=256,
                       help="posts per forward pass of the model (lower it when the GPU runs out of memory)")

    model = commands.add_parser("model", help="model utilities")
    model_commands = model.add_subparsers(dest="model_command", required=True, metavar="ACTION")
    tiny = add_command(model_commands, "make-tiny", cmd_model_make_tiny,
                      help="a tiny random GPT-NeoX for offline tests and demos")
    tiny.add_argument("directory", type=Path)
    tiny.add_argument("--from-posts", action="store_true", help="also train the tokenizer on stored titles")
    tiny.add_argument("--hidden", type=positive_int, default=64)
    tiny.add_argument("--layers", type=positive_int, default=2)
