"""The LoRA training loop (nanoGPT style: one loop, short enough to read in one sitting).

Length-grouped batches with dynamic padding, an explicit compute dtype (``spec.resolve_dtype``:
bf16 autocast, or fp16 autocast with a GradScaler, or fp32; the LoRA weights stay fp32), optional
gradient checkpointing, exactly resumable checkpoints (``checkpoint``), QLoRA via bitsandbytes on
CUDA, and DDP under ``accelerate launch`` / torchrun. The loss is the cross-entropy of the two-way
verbalizer choice.
"""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from finsent.errors import ConfigError, FinsentError
from finsent.ml.models.lora.checkpoint import Checkpoints, Position, job_identity
from finsent.ml.models.lora.spec import distributed_world_size

if TYPE_CHECKING:
    from finsent.ml.models.lora.classifier import LoraClassifier

log = logging.getLogger(__name__)


def _shard(batches: list[list[int]], world: int, rank: int) -> list[list[int]]:
    """An equal share per rank, so every rank steps (and all-reduces) together."""
    return batches[: len(batches) // world * world][rank::world]


def fit_lora(clf: LoraClassifier, texts: Sequence[str], labels: np.ndarray,
             valid: tuple[Sequence[str], np.ndarray] | None = None) -> None:
    """Train ``clf``'s adapter on ``texts``: the loop of the module docstring. With ``valid``, the
    adapter of the epoch with the lowest valid log-loss is kept (early stopping on valid, never test).

    In a multi-process job a rank that fails logs why and ends its process at once (no interpreter
    teardown, which can block in a collective library); the launcher (torchrun's agent, also under
    ``accelerate launch``) then stops the other ranks instead of leaving them in an all-reduce
    until the collective timeout."""
    if distributed_world_size() == 1:
        _fit(clf, texts, labels, valid)
        return
    try:
        _fit(clf, texts, labels, valid)
    except BaseException as exc:
        log.error("training rank %s failed, ending the job: %s", os.environ.get("RANK", "?"), exc,
                  exc_info=not isinstance(exc, FinsentError))
        logging.shutdown()
        os._exit(getattr(exc, "exit_code", 1))


def _fit(clf: LoraClassifier, texts: Sequence[str], labels: np.ndarray,
         valid: tuple[Sequence[str], np.ndarray] | None) -> None:
    import torch
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

    from finsent.ml.models.lora.classifier import TRAIN_OOM

    spec = clf.spec
    if len(texts) != len(labels):
        raise FinsentError(f"{len(texts)} titles but {len(labels)} labels")
    rng = random.Random(spec.seed)  # the same on every rank: ranks agree on the batch order
    torch.manual_seed(spec.seed)
    world, rank = distributed_world_size(), 0
    # Under `accelerate launch` / torchrun (WORLD_SIZE > 1) every rank trains on its share of the
    # batches and DDP averages the gradients; one process is the plain loop below. A rank that
    # fails exits non-zero and the launcher (torchrun's agent) stops the others at once.
    accelerator = None
    if world > 1:
        from accelerate import Accelerator

        accelerator = Accelerator(cpu=clf.device == "cpu")
        clf.device, rank = str(accelerator.device), accelerator.process_index
        log.info("distributed training: rank %d of %d on %s", rank, world, clf.device)
    clf.tokenizer, base = clf._load_base()
    prefix_ids, rows = clf.encoder.split(clf._encode(texts))
    lengths = [len(r) for r in rows]
    per_epoch = len(_shard(clf._batches(lengths, spec.batch_size, False, random.Random(0)), world, rank))
    if per_epoch == 0:  # every rank computes the same count, so every rank refuses: nobody waits
        raise ConfigError(f"{len(rows)} training posts make fewer batches of {spec.batch_size} than the "
                          f"{world} training processes: lower --batch-size or start fewer processes")
    if spec.quantize == "4bit":
        base = prepare_model_for_kbit_training(base, use_gradient_checkpointing=spec.gradient_checkpointing)
    elif spec.gradient_checkpointing:
        base.gradient_checkpointing_enable()
        base.enable_input_require_grads()
    targets = "all-linear" if spec.target_modules == ["all-linear"] else spec.target_modules
    clf.model = get_peft_model(base, LoraConfig(r=spec.lora_r, lora_alpha=spec.lora_alpha,
                                                 lora_dropout=spec.lora_dropout, target_modules=targets,
                                                 task_type="CAUSAL_LM"))
    up_id, down_id = clf.encoder.up_id, clf.encoder.down_id
    classes = torch.tensor([up_id, down_id], device=clf.device)
    targets_t = torch.tensor([0 if y == 1 else 1 for y in labels], device=clf.device)  # index into classes
    # An epoch is this rank's share of the batches: each optimizer step sees world x batch rows.
    total = spec.max_steps or spec.epochs * per_epoch
    params = [p for p in clf.model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=spec.lr, weight_decay=0.0)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / max(1, spec.warmup_steps)) * max(0.0, 1 - s / max(1, total)))
    # fp16 gradients underflow without loss scaling; bf16 and fp32 need none (the scaler is then a no-op).
    scaler = torch.amp.GradScaler("cuda", enabled=clf.dtype == "float16" and clf.device.startswith("cuda"))
    checkpoints = (Checkpoints(spec.checkpoint_dir, job_identity(spec, texts, labels, world, valid))
                   if spec.checkpoint_dir else None)
    position = (checkpoints.resume(clf.model, optimizer, schedule, scaler, clf.device) if checkpoints else None) \
        or Position()
    if position.epoch_rng is not None:
        rng.setstate(position.epoch_rng)  # rebuild the interrupted epoch's batch order
    if accelerator is not None:
        clf.model, optimizer = accelerator.prepare(clf.model, optimizer)
    clf.model.train()
    step, started, tokens, best = position.step, time.monotonic(), 0, position.best
    try:
        while step < total:
            epoch_rng = rng.getstate()
            batches = _shard(clf._batches(lengths, spec.batch_size, True, rng), world, rank)
            for index in range(position.batch, len(batches)):
                if step >= total:
                    break
                batch = batches[index]
                with clf._autocast():
                    logits = clf._forward_last(prefix_ids, [rows[i] for i in batch])
                    loss = torch.nn.functional.cross_entropy(logits[:, classes].float(), targets_t[batch])
                scaled = scaler.scale(loss)
                if accelerator is not None:
                    accelerator.backward(scaled)
                else:
                    scaled.backward()
                scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                scaler.step(optimizer)
                scaler.update()
                schedule.step()
                optimizer.zero_grad(set_to_none=True)
                step += 1
                tokens += sum(len(prefix_ids) + len(rows[i]) for i in batch)
                if step % 20 == 0 or step == total:
                    rate = tokens / max(1e-9, time.monotonic() - started)
                    log.info("step %d/%d loss %.4f (%.0f tokens/s)", step, total, loss.item(), rate)
                if checkpoints and step % spec.save_every == 0 and step < total and rank == 0:
                    checkpoints.save(clf.model, optimizer, schedule, scaler,
                                     Position(step, position.epoch, index + 1, epoch_rng, best))
            if valid is not None and accelerator is None:
                best = _keep_if_best(clf, valid, step, best)
            position = Position(step, position.epoch + 1, 0, None)
    except torch.cuda.OutOfMemoryError:
        raise FinsentError(TRAIN_OOM) from None
    if accelerator is not None:
        accelerator.wait_for_everyone()
        clf.model = accelerator.unwrap_model(clf.model)
    if best is not None:
        from peft import set_peft_model_state_dict

        set_peft_model_state_dict(clf.model, best[2])
        clf.best_step = best[1]
        log.info("kept the adapter of step %d (valid log-loss %.4f)", best[1], best[0])
    if checkpoints and rank == 0:
        checkpoints.remove()
    if best is not None:
        from peft import set_peft_model_state_dict

        set_peft_model_state_dict(clf.model, best[2])
        clf.best_step = best[1]
        log.info("kept the adapter of step %d (valid log-loss %.4f)", best[1], best[0])
    clf.model.eval()
    log.info("trained %d steps (%.1f epochs of %d batches)", step, step / per_epoch, per_epoch)


def _keep_if_best(clf: LoraClassifier, valid: tuple[Sequence[str], np.ndarray], step: int, best):
    """(valid log-loss, step, adapter weights) of the best epoch so far."""
    from peft import get_peft_model_state_dict

    texts, y = valid
    clf.model.eval()
    p = np.clip(clf.predict_proba(texts), 1e-7, 1 - 1e-7)
    clf.model.train()
    loss = float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))
    log.info("step %d: valid log-loss %.4f", step, loss)
    if best is not None and loss >= best[0]:
        return best
    return loss, step, {k: v.detach().clone() for k, v in get_peft_model_state_dict(clf.model).items()}
