"""Training benchmark, per family: real tokens/s, samples/s and peak memory of finsent's training loop
on each architecture, the causal LMs also against a naive loop; and the baseline's fit time.

- naive (causal LMs): every sequence padded to 512 tokens, fp32, in input order (an HF-Trainer-style
  default), LoRA on the same targets, the same number of optimizer steps;
- finsent: length-grouped batches with dynamic padding, bf16 autocast where the GPU has it; LoRA on
  the architecture's attention (``lora`` for a causal LM, ``encoder`` with ``--finetune lora|full``).

Each family trains a tiny random checkpoint of it (``--hidden``, ``--layers``), or the real base
``--base`` (a catalogue name, hub id or directory: meant for a GPU), in a fresh process of its own so
that its peak memory is its own (GPU: torch's peak allocation; CPU: the process's peak RSS).

    python bench/train.py [--family all|gpt_neox|llama|qwen3|bert|electra|deberta-v2|modernbert]
                          [--base NAME_OR_DIR] [--arch tiny|polyglot-ko-1.3b] [--hidden 64] [--layers 2]
                          [--prompt study-2shot] [--finetune lora|full] [--steps 30] [--batch-size 16]
                          [--dtype auto] [--quantize 4bit] [--baseline-posts 1000000] [--tiny]

``--arch polyglot-ko-1.3b`` builds that architecture with random weights (hidden 2048, 24 layers,
16 heads, intermediate 8192, vocab 30080, rotary_pct 0.5): meant for a GPU (the device tool).
"""

from __future__ import annotations

import argparse
import logging
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import Result, in_fresh_process, peak_memory_mib, print_table
from finsent.ml.models import new_classifier
from finsent.ml.models.baseline import BaselineClassifier
from finsent.ml.models.hf.spec import TransformerSpec
from finsent.ml.models.lora.network import PromptNetwork
from finsent.ml.models.tiny import CAUSAL_FAMILIES, TINY_FAMILIES, make_tiny_model

BULL = ["가즈아", "떡상", "매수", "반등", "폭등", "상한가", "호재", "실적 좋네요", "외인 매수"]
BEAR = ["손절", "떡락", "매도", "폭락", "하락", "하한가", "악재", "물렸다", "공매도 무섭다"]
NEUTRAL = ["오늘", "삼성", "종목", "점심", "내일", "주식", "사람들", "진짜", "이번", "그냥", "역시", "형님들",
           "다들", "어떻게", "생각하세요", "장마감", "시간외", "뉴스", "보니까", "ㅋㅋ", "ㅠㅠ"]


def synthetic_titles(n: int, seed: int = 0) -> tuple[list[str], np.ndarray]:
    rng = random.Random(seed)
    labels = np.array([rng.randint(0, 1) for _ in range(n)])
    titles = [" ".join([*rng.sample(NEUTRAL, rng.randint(2, 9)), rng.choice(BULL if y else BEAR)]) for y in labels]
    return titles, labels


def polyglot_architecture(directory: Path) -> Path:
    """polyglot-ko-1.3b's architecture with random weights (no hub here), tokenizer from tiny."""
    from transformers import AutoTokenizer, GPTNeoXConfig, GPTNeoXForCausalLM

    make_tiny_model(directory, synthetic_titles(5000)[0])
    tokenizer = AutoTokenizer.from_pretrained(directory)
    config = GPTNeoXConfig(vocab_size=30080, hidden_size=2048, num_hidden_layers=24, num_attention_heads=16,
                           intermediate_size=8192, rotary_pct=0.5, max_position_embeddings=2048,
                           pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id)
    GPTNeoXForCausalLM(config).save_pretrained(directory)
    return directory


def naive_steps(model: PromptNetwork, titles: list[str], labels: np.ndarray, steps: int, batch: int) -> int:
    """fp32, every row padded to 512 tokens, no grouping: the loop people write first."""
    import torch

    prefix_ids, rows = model.encoder.split(model.encoder.encode(titles))
    up, down = model.encoder.up_id, model.encoder.down_id
    params = [p for p in model.model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-4)
    pad_to = 512 - len(prefix_ids)
    real = 0
    for step in range(steps):
        index = list(range(step * batch, (step + 1) * batch))
        padded = [rows[i] + [model.tokenizer.pad_token_id] * (pad_to - len(rows[i])) for i in index]
        logits = model.forward_last(prefix_ids, padded)  # attends to the padding too: wasted work
        target = torch.tensor([0 if labels[i] else 1 for i in index], device=model.device)
        loss = torch.nn.functional.cross_entropy(logits[:, [up, down]].float(), target)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        real += sum(len(prefix_ids) + len(rows[i]) for i in index)
    return real


def base_for(family: str, args: argparse.Namespace, scratch: Path) -> str:
    """The base to train: --base, the polyglot-ko-1.3b architecture, or a tiny checkpoint of ``family``."""
    if args.base:
        return args.base
    if args.arch != "tiny":
        return str(polyglot_architecture(scratch / "arch"))
    return str(make_tiny_model(scratch / family, synthetic_titles(5000)[0], family=family, hidden=args.hidden,
                               layers=args.layers))


def measure_family(family: str, args: argparse.Namespace) -> dict:
    """One family's training run (in a process of its own unless --tiny): its figures as a dict."""
    import torch

    logging.basicConfig(level=logging.WARNING)
    causal = family in CAUSAL_FAMILIES
    titles, labels = synthetic_titles(args.steps * args.batch_size * 2, seed=1)
    with tempfile.TemporaryDirectory() as scratch:
        spec = TransformerSpec(base_model=base_for(family, args, Path(scratch)), prompt=args.prompt,
                               batch_size=args.batch_size, max_steps=args.steps, warmup_steps=1, dtype=args.dtype,
                               quantize=args.quantize, finetune=args.finetune)
        model = new_classifier("lora" if causal else "encoder", spec)
        sync = torch.cuda.synchronize if model.device == "cuda" else (lambda: None)
        started = time.perf_counter()
        model.fit(titles, labels)
        sync()
        seconds, peak = time.perf_counter() - started, peak_memory_mib(model.device)
        rows = model.network.training_rows(titles)
        per_title = rows.shared + sum(rows.lengths) / len(rows.lengths)  # real (unpadded) tokens a title
        figures = {"family": family, "kind": model.kind, "device": model.device, "dtype": model.dtype,
                   "tokens": int(per_title * args.steps * args.batch_size), "seconds": seconds, "peak_mib": peak,
                   "samples": args.steps * args.batch_size}
        if causal and not args.base:
            model.network.model.train()
            started = time.perf_counter()
            figures["naive_tokens"] = naive_steps(model.network, titles, labels, args.steps, args.batch_size)
            sync()
            figures["naive_seconds"] = time.perf_counter() - started
    return figures


def family_results(figures: dict) -> list[Result]:
    what = f"{figures['family']} ({figures['kind']}, {figures['dtype']})"
    note = f"{figures['samples'] / figures['seconds']:,.0f} samples/s, peak {figures['peak_mib']:,.0f} MiB"
    results = [Result(f"finsent: {what}", figures["tokens"], figures["seconds"], "t/s", note)]
    if "naive_tokens" in figures:
        results.insert(0, Result(f"naive: {figures['family']}, fp32, padded to 512", figures["naive_tokens"],
                                 figures["naive_seconds"], "t/s",
                                 f"{figures['samples'] / figures['naive_seconds']:,.0f} samples/s"))
    return results


def families(args: argparse.Namespace) -> tuple[str, ...]:
    """The families measured: --family, or all (--tiny: one causal LM and one encoder)."""
    if args.family != "all":
        return (args.family,)
    return ("qwen3", "bert") if args.tiny else TINY_FAMILIES


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--family", choices=("all", *TINY_FAMILIES), default="all")
    parser.add_argument("--base", help="a real base (catalogue name, hub id or directory) instead of a tiny one; "
                                       "--family then names its architecture")
    parser.add_argument("--arch", choices=("tiny", "polyglot-ko-1.3b"), default="tiny")
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--prompt", choices=("study-2shot", "zero-shot"), default="study-2shot")
    parser.add_argument("--finetune", choices=("lora", "full"), default="lora")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--dtype", default="auto", choices=("auto", "bfloat16", "float16", "float32"))
    parser.add_argument("--quantize", choices=("4bit",))
    parser.add_argument("--baseline-posts", type=int, default=1_000_000)
    parser.add_argument("--tiny", action="store_true",
                        help="qwen3 and bert (unless --family), 2 steps of 4, 2,000 baseline posts, in this process: "
                             "checks it runs")
    args = parser.parse_args()
    if args.tiny:  # whatever --arch says: the suite never builds the 1.3b architecture
        args.arch, args.base, args.steps, args.batch_size, args.baseline_posts = "tiny", None, 2, 4, 2_000
    if args.arch != "tiny" and args.family == "all":
        args.family = "gpt_neox"
    return args


def main() -> None:
    args = parse_arguments()
    logging.basicConfig(level=logging.WARNING)
    results, device = [], "cpu"
    for family in families(args):
        figures = measure_family(family, args) if args.tiny else in_fresh_process(measure_family, family, args)
        results += family_results(figures)
        device = figures["device"]
    size = args.base or (args.arch if args.arch != "tiny" else f"tiny (hidden {args.hidden}, {args.layers} layers)")
    print_table(f"training, {size} on {device} (real tokens/s; {args.steps} steps of {args.batch_size}; "
                "peak memory: GPU allocation, or the process's RSS on a CPU)", results, reference=results[0].name)

    titles, labels = synthetic_titles(args.baseline_posts, seed=2)
    model = BaselineClassifier()
    started = time.perf_counter()
    model.fit(titles, labels)
    fit_s = time.perf_counter() - started
    print_table("baseline (TF-IDF char 1-3 grams + logistic regression), CPU",
                [Result("fit", args.baseline_posts, fit_s, "p/s", f"{fit_s:.0f} s for {args.baseline_posts:,} posts")])


if __name__ == "__main__":
    main()
