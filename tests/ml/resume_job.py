"""A small LoRA training job for the resume test, run as a process that the test can kill:

    python -m tests.ml.resume_job BASE_DIR OUT.safetensors [--checkpoint-dir DIR] [--data-seed N]

Trains the tiny model on a fixed synthetic board (keeping the epoch best on its valid part) and writes
the trained LoRA weights to OUT."""

from __future__ import annotations

import argparse
import logging
import random
import sys
from pathlib import Path

import numpy as np

from finsent.errors import FinsentError
from finsent.ml.models.hf.spec import TransformerSpec
from finsent.ml.models.lora import LoraClassifier
from tests.ml.board import BEAR, BULL, NEUTRAL


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("base")
    parser.add_argument("out", type=Path)
    parser.add_argument("--checkpoint-dir")
    parser.add_argument("--data-seed", type=int, default=0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    import torch
    from peft import get_peft_model_state_dict
    from safetensors.torch import save_file

    torch.set_num_threads(1)  # the same kernels in every run: comparable to 1e-6
    rng = random.Random(args.data_seed)
    labels = np.array([rng.randint(0, 1) for _ in range(270)])
    titles = [" ".join([*rng.sample(NEUTRAL, 3), rng.choice(BULL if y else BEAR)]) for y in labels]
    titles, labels, valid = titles[:240], labels[:240], (titles[240:], labels[240:])  # early stopping on valid
    spec = TransformerSpec(base_model=args.base, prompt="zero-shot", epochs=3, batch_size=8, lr=5e-3, lora_r=4,
                    warmup_steps=5, device="cpu", checkpoint_dir=args.checkpoint_dir, save_every=3)
    model = LoraClassifier(spec)
    try:
        model.fit(titles, labels, valid)
    except FinsentError as exc:
        logging.error("%s", exc)
        return exc.exit_code
    state = {k: v.detach().contiguous() for k, v in get_peft_model_state_dict(model.model).items()}
    save_file(state, str(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
