"""The training loop of every transformers kind, nanoGPT style: set up, loop, tear down, each short
enough to read at once.

Length-grouped batches with dynamic padding, an explicit compute dtype (``spec.resolve_dtype``:
bf16 autocast, or fp16 autocast with a GradScaler, or fp32; the trained weights stay fp32), optional
gradient checkpointing, exactly resumable checkpoints (``checkpoint``), QLoRA via bitsandbytes on
CUDA, and DDP under ``accelerate launch`` / torchrun. The loop knows nothing of the network's
shape: a network (``TrainableNetwork``: the causal LM read through the verbalizers, or an encoder's
classification head) tokenises the titles into rows and gives the two logits (up, down) of a batch
of rows; the loss is their cross-entropy.
"""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from finsent.errors import ConfigError, FinsentError
from finsent.ml.models.hf.adapters import load_trainable_state, trainable_state
from finsent.ml.models.hf.batches import length_grouped_batches
from finsent.ml.models.hf.checkpoint import Checkpoints, Position, job_identity
from finsent.ml.models.hf.spec import TransformerSpec, distributed_world_size

log = logging.getLogger(__name__)

TRAIN_OOM = "out of GPU memory: lower --batch-size, add --gradient-checkpointing, or use --quantize 4bit"

Valid = tuple[Sequence[str], np.ndarray]
Best = tuple[float, int, dict]  # (valid log-loss, step, trained weights) of the best epoch so far


class Rows(Protocol):
    """A network's tokenised titles: one row of ids per title (``lengths``), after ``shared`` ids
    every row has in common (a prompt's cached prefix; 0 for an encoder)."""

    @property
    def lengths(self) -> list[int]: ...

    @property
    def shared(self) -> int: ...


class TrainableNetwork(Protocol):
    @property
    def model(self) -> Any: ...

    @property
    def device(self) -> str: ...

    @property
    def dtype(self) -> str: ...

    def with_model(self, model: Any) -> Any: ...

    def autocast(self) -> Any: ...

    def training_rows(self, texts: Sequence[str]) -> Rows: ...

    def pair_logits(self, rows: Any, batch: list[int]) -> Any:
        """The logits of up and down (columns 0, 1) for the rows ``batch`` of ``rows`` (training_rows')."""

    def predict_proba(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray: ...


# (device, dtype) -> the network on that device, its model ready to train (an adapter, or every weight)
Build = Callable[[str, str], TrainableNetwork]


@dataclass(frozen=True)
class Trained:
    network: Any  # the trained network, its model unwrapped, in eval mode
    best_step: int | None  # the step early stopping on valid kept (None: the last step)


def train_network(spec: TransformerSpec, build: Build, device: str, dtype: str, texts: Sequence[str],
                  labels: np.ndarray, valid: Valid | None = None) -> Trained:
    """Train the network ``build`` makes on ``texts``: the loop of the module docstring. With
    ``valid``, the weights of the epoch with the lowest valid log-loss are kept (early stopping on
    valid, never test).

    In a multi-process job a rank that fails logs why and ends its process at once (no interpreter
    teardown, which can block in a collective library); the launcher (torchrun's agent, also under
    ``accelerate launch``) then stops the other ranks instead of leaving them in an all-reduce
    until the collective timeout."""
    if distributed_world_size() == 1:
        return _train(spec, build, device, dtype, texts, labels, valid)
    try:
        return _train(spec, build, device, dtype, texts, labels, valid)
    except BaseException as exc:
        log.error("training rank %s failed, ending the job: %s", os.environ.get("RANK", "?"), exc,
                  exc_info=not isinstance(exc, FinsentError))
        logging.shutdown()
        os._exit(getattr(exc, "exit_code", 1))


def _train(spec: TransformerSpec, build: Build, device: str, dtype: str, texts: Sequence[str], labels: np.ndarray,
           valid: Valid | None) -> Trained:
    import torch

    run = _set_up(spec, build, device, dtype, texts, labels, valid)
    try:
        step, best = _loop(run, valid)
    except torch.cuda.OutOfMemoryError:
        raise FinsentError(TRAIN_OOM) from None
    return _tear_down(run, step, best)


@dataclass
class _TrainingSet:
    rows: Rows
    targets: Any  # tensor: per post, 0 for up and 1 for down (the columns of pair_logits)


@dataclass
class _Run:
    """Everything the loop reads and advances."""

    spec: TransformerSpec
    network: TrainableNetwork  # its model is the one being trained (DDP-wrapped when distributed)
    data: _TrainingSet
    params: list
    optimizer: Any
    schedule: Any
    scaler: Any
    checkpoints: Checkpoints | None
    position: Position
    rng: random.Random  # the batch order; the same on every rank: ranks agree on it
    total: int  # optimizer steps to take
    per_epoch: int  # batches per epoch of this rank
    world: int
    rank: int
    accelerator: Any


def _batch_size(spec: TransformerSpec) -> int:
    return spec.batch_size or 16  # a resolved spec has its base's (catalogue.resolve)


def _shard(batches: list[list[int]], world: int, rank: int) -> list[list[int]]:
    """An equal share per rank, so every rank steps (and all-reduces) together."""
    return batches[: len(batches) // world * world][rank::world]


def _set_up(spec: TransformerSpec, build: Build, device: str, dtype: str, texts: Sequence[str],
            labels: np.ndarray, valid: Valid | None) -> _Run:
    import torch

    if len(texts) != len(labels):
        raise FinsentError(f"{len(texts)} titles but {len(labels)} labels")
    rng = random.Random(spec.seed)
    torch.manual_seed(spec.seed)  # before the build: a classifier head starts the same every run
    world = distributed_world_size()
    accelerator, device, rank = _join_process_group(world, device)
    network = build(device, dtype)
    data = _TrainingSet(network.training_rows(texts),
                        torch.tensor([0 if y == 1 else 1 for y in labels], device=network.device))
    batch_size = _batch_size(spec)
    per_epoch = len(_shard(length_grouped_batches(data.rows.lengths, batch_size, False, random.Random(0)),
                           world, rank))
    if per_epoch == 0:  # every rank computes the same count, so every rank refuses: nobody waits
        raise ConfigError(f"{len(data.rows.lengths)} training posts make fewer batches of {batch_size} than the "
                          f"{world} training processes: lower --batch-size or start fewer processes")
    model = network.model
    # An epoch is this rank's share of the batches: each optimizer step sees world x batch rows.
    total = spec.max_steps or spec.epochs * per_epoch
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=spec.lr, weight_decay=0.0)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / max(1, spec.warmup_steps)) * max(0.0, 1 - s / max(1, total)))
    # fp16 gradients underflow without loss scaling; bf16 and fp32 need none (the scaler is then a no-op).
    scaler = torch.amp.GradScaler("cuda", enabled=dtype == "float16" and device.startswith("cuda"))
    checkpoints = (Checkpoints(spec.checkpoint_dir, job_identity(spec, texts, labels, world, valid))
                   if spec.checkpoint_dir else None)
    position = (checkpoints.resume(model, optimizer, schedule, scaler, device) if checkpoints else None) \
        or Position()
    if position.epoch_rng is not None:
        rng.setstate(position.epoch_rng)  # rebuild the interrupted epoch's batch order
    if accelerator is not None:
        model, optimizer = accelerator.prepare(model, optimizer)
    return _Run(spec, network.with_model(model), data, params, optimizer, schedule, scaler, checkpoints, position,
                rng, total, per_epoch, world, rank, accelerator)


def _join_process_group(world: int, device: str) -> tuple[Any, str, int]:
    """(accelerator or None, this rank's device, rank). Under `accelerate launch` / torchrun
    (WORLD_SIZE > 1) every rank trains on its share of the batches and DDP averages the gradients;
    one process is the plain loop."""
    if world == 1:
        return None, device, 0
    from accelerate import Accelerator

    accelerator = Accelerator(cpu=device == "cpu")
    device, rank = str(accelerator.device), accelerator.process_index
    log.info("distributed training: rank %d of %d on %s", rank, world, device)
    return accelerator, device, rank


def _loop(run: _Run, valid: Valid | None) -> tuple[int, Best | None]:
    """Optimizer steps from the run's position to its total; (steps done, best epoch on valid)."""
    position, best = run.position, run.position.best
    step, started, tokens = position.step, time.monotonic(), 0
    run.network.model.train()
    while step < run.total:
        epoch_rng = run.rng.getstate()
        batches = _shard(length_grouped_batches(run.data.rows.lengths, _batch_size(run.spec), True, run.rng),
                         run.world, run.rank)
        for index in range(position.batch, len(batches)):
            if step >= run.total:
                break
            loss = _step(run, batches[index])
            step += 1
            tokens += sum(run.data.rows.shared + run.data.rows.lengths[i] for i in batches[index])
            if step % 20 == 0 or step == run.total:
                rate = tokens / max(1e-9, time.monotonic() - started)
                log.info("step %d/%d loss %.4f (%.0f tokens/s)", step, run.total, loss.item(), rate)
            if run.checkpoints and step % run.spec.save_every == 0 and step < run.total and run.rank == 0:
                run.checkpoints.save(run.network.model, run.optimizer, run.schedule, run.scaler,
                                     Position(step, position.epoch, index + 1, epoch_rng, best))
        if valid is not None and run.accelerator is None:
            best = _keep_if_best(run.network, valid, step, best)
        position = Position(step, position.epoch + 1, 0, None)
    return step, best


def _step(run: _Run, batch: list[int]) -> Any:
    """One optimizer step on ``batch``; its loss (a tensor: read only when logged, a GPU sync)."""
    import torch

    with run.network.autocast():
        logits = run.network.pair_logits(run.data.rows, batch)
        loss = torch.nn.functional.cross_entropy(logits.float(), run.data.targets[batch])
    scaled = run.scaler.scale(loss)
    if run.accelerator is not None:
        run.accelerator.backward(scaled)
    else:
        scaled.backward()
    run.scaler.unscale_(run.optimizer)
    torch.nn.utils.clip_grad_norm_(run.params, 1.0)
    run.scaler.step(run.optimizer)
    run.scaler.update()
    run.schedule.step()
    run.optimizer.zero_grad(set_to_none=True)
    return loss


def _keep_if_best(network: TrainableNetwork, valid: Valid, step: int, best: Best | None) -> Best:
    """(valid log-loss, step, trained weights) of the best epoch so far."""
    texts, y = valid
    network.model.eval()
    p = np.clip(network.predict_proba(texts), 1e-7, 1 - 1e-7)
    network.model.train()
    loss = float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))
    log.info("step %d: valid log-loss %.4f", step, loss)
    if best is not None and loss >= best[0]:
        return best
    return loss, step, trainable_state(network.model)


def _tear_down(run: _Run, step: int, best: Best | None) -> Trained:
    """The trained model unwrapped, the best epoch's weights restored, the checkpoint removed."""
    model = run.network.model
    if run.accelerator is not None:
        run.accelerator.wait_for_everyone()
        model = run.accelerator.unwrap_model(model)
    if best is not None:
        load_trainable_state(model, best[2])
        log.info("kept the weights of step %d (valid log-loss %.4f)", best[1], best[0])
    if run.checkpoints and run.rank == 0:
        run.checkpoints.remove()
    model.eval()
    log.info("trained %d steps (%.1f epochs of %d batches)", step, step / run.per_epoch, run.per_epoch)
    return Trained(run.network.with_model(model), best[1] if best is not None else None)
