"""A LoRA training job for the DDP tests, launched with torchrun (two CPU processes, gloo):

    torchrun --nproc_per_node 2 -m tests.ml.ddp_job BASE_DIR {fail-rank-1 EMPTY_DIR|few-batches}

fail-rank-1: rank 1 finds no model in its base directory (a model volume it cannot read) and
raises after the process group is up, while rank 0 loads the model and waits for it in DDP's first
broadcast. few-batches: 3 posts, batch size 4: one batch for two processes."""

from __future__ import annotations

import logging
import os
import sys

import numpy as np

from finsent.errors import FinsentError
from finsent.ml.models.hf.spec import TransformerSpec
from finsent.ml.models.lora import LoraClassifier
from tests.ml.board import BEAR, BULL


def main() -> int:
    base, mode = sys.argv[1], sys.argv[2]
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    rank = int(os.environ["RANK"])
    n = 3 if mode == "few-batches" else 64
    titles = [f"{BULL[i % len(BULL)]} {BEAR[i % len(BEAR)]} {i}" for i in range(n)]
    labels = np.arange(n) % 2
    if mode == "fail-rank-1" and rank == 1:
        base = sys.argv[3]  # a directory without a model: this rank raises, rank 0 is left waiting
    spec = TransformerSpec(base_model=base, prompt="zero-shot", batch_size=4, epochs=50, lr=1e-3, lora_r=4,
                    device="cpu")
    try:
        LoraClassifier(spec).fit(titles, labels)
    except FinsentError as exc:
        logging.error("rank %d: %s", rank, exc)
        return exc.exit_code
    logging.info("rank %d finished", rank)
    return 0


if __name__ == "__main__":
    sys.exit(main())
