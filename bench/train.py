"""Training benchmark: real tokens/s of the LoRA loop against a naive loop, and the baseline's fit time.

- naive: every sequence padded to 512 tokens, fp32, in input order (an HF-Trainer-style default);
- finsent: length-grouped batches with dynamic padding, bf16 autocast where the GPU has it.
Both run the same model, LoRA r=8 on query_key_value, the same number of optimizer steps.

    python bench/train.py [--arch tiny|polyglot-ko-1.3b] [--prompt study-2shot] [--steps 30]
                          [--batch-size 16] [--baseline-posts 1000000] [--tiny]

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

from bench.common import Result, print_table
from finsent.ml.models.baseline import BaselineClassifier
from finsent.ml.models.lora import LoraClassifier, LoraSpec
from finsent.ml.models.lora.network import PromptNetwork
from finsent.ml.models.tiny import make_tiny_model

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", choices=("tiny", "polyglot-ko-1.3b"), default="tiny")
    parser.add_argument("--prompt", choices=("study-2shot", "zero-shot"), default="study-2shot")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--baseline-posts", type=int, default=1_000_000)
    parser.add_argument("--tiny", action="store_true",
                        help="the tiny local model, 2 steps of 4, 2,000 baseline posts: checks it runs (the suite)")
    args = parser.parse_args()
    if args.tiny:  # whatever --arch says: the suite never builds the 1.3b architecture
        args.arch, args.steps, args.batch_size, args.baseline_posts = "tiny", 2, 4, 2_000
    logging.basicConfig(level=logging.WARNING)
    import torch

    results = []
    with tempfile.TemporaryDirectory() as scratch:
        base = (polyglot_architecture(Path(scratch) / "arch") if args.arch != "tiny"
                else make_tiny_model(Path(scratch) / "tiny", synthetic_titles(5000)[0]))
        titles, labels = synthetic_titles(args.steps * args.batch_size * 2, seed=1)
        spec = LoraSpec(base_model=str(base), prompt=args.prompt, batch_size=args.batch_size,
                        max_steps=args.steps, warmup_steps=1)
        finsent = LoraClassifier(spec)
        sync = torch.cuda.synchronize if finsent.device == "cuda" else (lambda: None)
        started = time.perf_counter()
        finsent.fit(titles, labels)
        sync()
        seconds = time.perf_counter() - started
        real = sum(len(r) for r in finsent.encoder.encode(titles[: args.steps * args.batch_size]))  # whole prompts
        naive = finsent.network  # same weights and adapter
        naive.model.train()
        started = time.perf_counter()
        naive_real = naive_steps(naive, titles, labels, args.steps, args.batch_size)
        sync()
        naive_s = time.perf_counter() - started
        results.append(Result(f"naive: fp32, padded to 512, {args.prompt}", naive_real, naive_s, "t/s",
                              f"{args.steps * args.batch_size / naive_s:,.0f} samples/s"))
        results.append(Result(f"finsent: grouped + dynamic padding{', bf16' if finsent.device == 'cuda' else ''}",
                              real, seconds, "t/s", f"{args.steps * args.batch_size / seconds:,.0f} samples/s"))
    print_table(f"LoRA training, {args.arch} on {finsent.device} (real tokens/s; goal on an H100: >= 75,000)",
                results, reference=results[0].name)

    titles, labels = synthetic_titles(args.baseline_posts, seed=2)
    model = BaselineClassifier()
    started = time.perf_counter()
    model.fit(titles, labels)
    fit_s = time.perf_counter() - started
    print_table("baseline (TF-IDF char 1-3 grams + logistic regression), CPU",
                [Result("fit", args.baseline_posts, fit_s, "p/s", f"{fit_s:.0f} s for {args.baseline_posts:,} posts")])


if __name__ == "__main__":
    main()
