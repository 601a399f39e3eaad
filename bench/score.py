"""Inference benchmark, per family: posts/s and peak memory of each architecture's classifier, the
causal LMs with and without the cached prompt prefix; and the TF-IDF baseline.

- naive (causal LMs): every post runs the whole prompt (the fixed instruction and examples, then its title);
- finsent (causal LMs): the ids all posts share with the prefix run once; each batch reuses their
  key/value cache and runs only the rest (the same probabilities: checked here), with a random LoRA
  adapter on the architecture's attention;
- finsent (encoders): each title on its own, a random LoRA adapter and a two-way head;
- baseline: TF-IDF + logistic regression, fitted on synthetic titles, scoring ``--baseline-posts``.

Each family scores with a tiny random checkpoint of it (``--hidden``, ``--layers``) or the real base
``--base`` (meant for a GPU), in a fresh process of its own (peak memory: GPU allocation on CUDA,
else the process's peak RSS).

    python bench/score.py [--family all|gpt_neox|llama|qwen3|bert|electra|deberta-v2|modernbert]
                          [--base NAME_OR_DIR] [--arch tiny|polyglot-ko-1.3b] [--hidden 64] [--layers 2]
                          [--posts 2000] [--batch-size 256] [--dtype auto] [--baseline-posts 200000] [--tiny]
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import Result, in_fresh_process, peak_memory_mib, print_table
from bench.train import polyglot_architecture, synthetic_titles
from finsent.ml.models import new_classifier
from finsent.ml.models.baseline import BaselineClassifier
from finsent.ml.models.encoder.network import EncoderNetwork
from finsent.ml.models.hf.adapters import add_lora
from finsent.ml.models.hf.base_model import load_base, load_sequence_classifier
from finsent.ml.models.hf.spec import TransformerSpec
from finsent.ml.models.lora.network import PromptNetwork
from finsent.ml.models.tiny import CAUSAL_FAMILIES, TINY_FAMILIES, make_tiny_model


def _base(family: str, args: argparse.Namespace, titles: list[str], scratch: Path) -> str:
    if args.base:
        return args.base
    if args.arch != "tiny":
        return str(polyglot_architecture(scratch / "arch"))
    return str(make_tiny_model(scratch / family, titles, family=family, hidden=args.hidden, layers=args.layers))


def _causal(model, spec: TransformerSpec) -> dict[str, tuple[np.ndarray, float]]:
    """Scoring with a random adapter, without and with the cached prefix: (P(up), seconds) each."""
    import torch

    tokenizer, base = load_base(model.base_path, device=model.device, dtype=model.dtype, quantize=spec.quantize)
    adapted, _ = add_lora(base, model.spec, task="CAUSAL_LM", base=model.base_path)
    model.network = PromptNetwork.build(tokenizer, adapted.eval(), model.spec, model.device, model.dtype)
    sync = torch.cuda.synchronize if model.device == "cuda" else (lambda: None)
    timings = {}
    for cached in (False, True):
        model.predict_proba(_TITLES[0][:spec.batch_size], spec.batch_size, cached)  # warm-up
        sync()
        started = time.perf_counter()
        timings[str(cached)] = (model.predict_proba(_TITLES[0], spec.batch_size, cached), time.perf_counter() - started)
    tolerance = 1e-5 if model.dtype == "float32" else 2e-2  # bf16 rounds differently in two shapes
    assert np.allclose(timings["False"][0], timings["True"][0], atol=tolerance), "cached and full scoring disagree"
    return timings


def _encoder(model, spec: TransformerSpec) -> dict[str, tuple[np.ndarray, float]]:
    import torch

    tokenizer, base, new = load_sequence_classifier(model.base_path, device=model.device, dtype=model.dtype)
    adapted, _ = add_lora(base, model.spec, task="SEQ_CLS", base=model.base_path, new_modules=new)
    network = EncoderNetwork(tokenizer, adapted.eval(), model.device, model.dtype, spec.max_title_tokens)
    network.predict_proba(_TITLES[0][:spec.batch_size], spec.batch_size)  # warm-up
    sync = torch.cuda.synchronize if model.device == "cuda" else (lambda: None)
    sync()
    started = time.perf_counter()
    p_up = network.predict_proba(_TITLES[0], spec.batch_size)
    sync()
    return {"True": (p_up, time.perf_counter() - started)}


_TITLES: list[list[str]] = []


def measure_family(family: str, args: argparse.Namespace) -> dict:
    logging.basicConfig(level=logging.WARNING)
    titles, _ = synthetic_titles(args.posts, seed=3)
    _TITLES[:] = [titles]
    causal = family in CAUSAL_FAMILIES
    with tempfile.TemporaryDirectory() as scratch:
        spec = TransformerSpec(base_model=_base(family, args, titles, Path(scratch)), prompt="study-2shot",
                               batch_size=args.batch_size, dtype=args.dtype)
        model = new_classifier("lora" if causal else "encoder", spec)
        timings = (_causal if causal else _encoder)(model, model.spec)
    return {"family": family, "kind": model.kind, "device": model.device, "dtype": model.dtype, "posts": args.posts,
            "seconds": {k: v[1] for k, v in timings.items()}, "peak_mib": peak_memory_mib(model.device)}


def family_results(figures: dict) -> list[Result]:
    what = f"{figures['family']} ({figures['kind']}, {figures['dtype']})"
    seconds, peak = figures["seconds"], f"peak {figures['peak_mib']:,.0f} MiB"
    results = [Result(f"finsent: {what}" + (", cached prefix" if "False" in seconds else ""), figures["posts"],
                      seconds["True"], "p/s", peak)]
    if "False" in seconds:
        results.insert(0, Result(f"naive: {figures['family']}, whole prompt per post", figures["posts"],
                                 seconds["False"], "p/s"))
    return results


def families(args: argparse.Namespace) -> tuple[str, ...]:
    """The families measured: --family, or all (--tiny: one causal LM and one encoder)."""
    if args.family != "all":
        return (args.family,)
    return ("qwen3", "bert") if args.tiny else TINY_FAMILIES


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--family", choices=("all", *TINY_FAMILIES), default="all")
    parser.add_argument("--base", help="a real base (catalogue name, hub id or directory) instead of a tiny one")
    parser.add_argument("--arch", choices=("tiny", "polyglot-ko-1.3b"), default="tiny")
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--posts", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--dtype", default="auto", choices=("auto", "bfloat16", "float16", "float32"))
    parser.add_argument("--baseline-posts", type=int, default=200_000)
    parser.add_argument("--tiny", action="store_true",
                        help="qwen3 and bert (unless --family), 32 posts, 2,000 baseline posts, in this process: "
                             "checks it runs")
    args = parser.parse_args()
    if args.tiny:  # whatever --arch says: the suite never builds the 1.3b architecture
        args.arch, args.base, args.posts, args.batch_size, args.baseline_posts = "tiny", None, 32, 16, 2_000
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
    print_table(f"scoring, {size} on {device} (posts/s, batch {args.batch_size}; goal on an H100: >= 10,000)",
                results, reference=results[0].name)

    titles, labels = synthetic_titles(args.baseline_posts, seed=4)
    baseline = BaselineClassifier()
    baseline.fit(titles[:20_000], labels[:20_000])
    started = time.perf_counter()
    baseline.predict_proba(titles)
    print_table("baseline (TF-IDF char 1-3 grams + logistic regression), CPU",
                [Result("score", args.baseline_posts, time.perf_counter() - started, "p/s")])


if __name__ == "__main__":
    main()
