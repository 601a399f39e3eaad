"""Resumable training checkpoints that know which job wrote them.

A checkpoint (``CHECKPOINT_DIR/last``) holds the trained weights (``trained.safetensors``: the LoRA
adapter and a classifier's head, or every weight of a fully fine-tuned encoder) and ``state.pt``: the job's
identity (the spec's training fields, a hash of the training and valid titles and labels, the
world size), the best epoch so far when stopping early on valid (its loss, step and adapter), the
optimizer step, the epoch and the position in it (batches done), the batch-order RNG's state at
the start of that epoch, the torch RNG states, and the optimizer, schedule and grad-scaler states.
``state.pt`` holds only tensors and plain types and is read with ``torch.load(weights_only=True)``.
A checkpoint written by another job (other spec, other data, other world size) is refused with a
clear message, never silently resumed; a finished run removes its checkpoint.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from finsent.errors import ConfigError
from finsent.ml.models.hf.adapters import load_trainable_state, trainable_state
from finsent.ml.models.hf.spec import TransformerSpec

log = logging.getLogger(__name__)

# Fields that do not change what is trained: where checkpoints go, how often, where it runs.
_NOT_IDENTITY = ("checkpoint_dir", "save_every", "device")


def job_identity(spec: TransformerSpec, texts: Sequence[str], labels: np.ndarray, world_size: int,
                 valid: tuple[Sequence[str], np.ndarray] | None = None) -> dict:
    data = hashlib.sha256()
    for text, label in zip(texts, labels):
        data.update(f"{int(label)}\t{text}\n".encode())
    for text, label in zip(*valid) if valid is not None else ():  # early stopping reads valid too
        data.update(f"valid\t{int(label)}\t{text}\n".encode())
    fields = json.loads(json.dumps({k: v for k, v in asdict(spec).items() if k not in _NOT_IDENTITY}))
    return {"spec": fields, "data_sha256": data.hexdigest(), "rows": len(texts), "world_size": world_size}


@dataclass
class Position:
    step: int = 0  # optimizer steps done
    epoch: int = 0
    batch: int = 0  # batches of this epoch done (this rank's share)
    epoch_rng: tuple | None = None  # the batch-order RNG as the epoch began (to rebuild its order)
    best: tuple | None = None  # early stopping: (valid log-loss, step, adapter weights) of the best epoch


def _differences(saved: dict, current: dict) -> list[str]:
    out = [f"{k}: {saved['spec'].get(k)!r} there, {v!r} now" for k, v in current["spec"].items()
           if saved["spec"].get(k) != v]
    if saved["data_sha256"] != current["data_sha256"]:
        out.append(f"training data: {saved['rows']} rows (sha256 {saved['data_sha256'][:12]}) there, "
                   f"{current['rows']} rows (sha256 {current['data_sha256'][:12]}) now")
    if saved["world_size"] != current["world_size"]:
        out.append(f"processes: {saved['world_size']} there, {current['world_size']} now")
    return out


class Checkpoints:
    def __init__(self, directory: str | Path, identity: dict) -> None:
        self.directory = Path(directory)
        self.identity = identity
        self.last = self.directory / "last"

    def save(self, model: Any, optimizer: Any, schedule: Any, scaler: Any, position: Position) -> None:
        import torch

        tmp = self.directory / "last.partial"
        if tmp.exists():
            shutil.rmtree(tmp)
        from safetensors.torch import save_file

        tmp.mkdir(parents=True)
        save_file(trainable_state(model), str(tmp / "trained.safetensors"))
        state = {"identity": json.dumps(self.identity, sort_keys=True), "step": position.step,
                 "epoch": position.epoch, "batch": position.batch, "epoch_rng": position.epoch_rng,
                 "torch_rng": torch.get_rng_state(),
                 "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
                 "optimizer": optimizer.state_dict(), "schedule": schedule.state_dict(),
                 "scaler": scaler.state_dict(),
                 "best": None if position.best is None else
                 {"loss": position.best[0], "step": position.best[1], "adapter": position.best[2]}}
        torch.save(state, tmp / "state.pt")
        if self.last.exists():
            shutil.rmtree(self.last)
        tmp.rename(self.last)  # a checkpoint is either whole or absent
        log.info("checkpoint at step %d (epoch %d, batch %d) saved to %s", position.step, position.epoch,
                 position.batch, self.last)

    def resume(self, model: Any, optimizer: Any, schedule: Any, scaler: Any, device: str) -> Position | None:
        """Load the last checkpoint into the model and optimizer; None when there is none."""
        import torch
        from safetensors.torch import load_file

        if not (self.last / "state.pt").is_file():
            return None
        state = torch.load(self.last / "state.pt", map_location="cpu", weights_only=True)
        saved = json.loads(state["identity"])
        differences = _differences(saved, self.identity)
        if differences:
            raise ConfigError(f"the checkpoint in {self.last} belongs to another training job ("
                              + "; ".join(differences) + "): delete it or use another --checkpoint-dir")
        load_trainable_state(model, load_file(str(self.last / "trained.safetensors")))
        optimizer.load_state_dict(state["optimizer"])
        schedule.load_state_dict(state["schedule"])
        scaler.load_state_dict(state["scaler"])
        torch.set_rng_state(state["torch_rng"])
        if state["cuda_rng"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda_rng"])
        log.info("resumed from %s at step %d (epoch %d, batch %d)", self.last, state["step"], state["epoch"],
                 state["batch"])
        best = state["best"] and (float(state["best"]["loss"]), int(state["best"]["step"]), state["best"]["adapter"])
        return Position(int(state["step"]), int(state["epoch"]), int(state["batch"]), _as_rng_state(state["epoch_rng"]),
                        best or None)

    def remove(self) -> None:
        for path in (self.last, self.directory / "last.partial"):
            if path.exists():
                shutil.rmtree(path)
        log.info("training finished: checkpoint %s removed", self.last)


def _as_rng_state(value: Sequence) -> tuple:
    """random.setstate wants (version, tuple of ints, gauss) back as tuples."""
    version, internal, gauss = value
    return int(version), tuple(int(x) for x in internal), gauss
