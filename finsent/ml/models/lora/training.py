"""The LoRA training loop (nanoGPT style: one loop, short enough to read in one sitting).

Length-grouped batches with dynamic padding, bf16 autocast on GPUs that have it, optional
gradient checkpointing, resumable checkpoints, QLoRA via bitsandbytes on CUDA, and DDP under
``accelerate launch`` / torchrun. The loss is the cross-entropy of the two-way verbalizer choice.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from finsent.errors import FinsentError
from finsent.ml.models.lora.spec import distributed_rank, distributed_world_size
from finsent.ml.models.prompts import prefix

if TYPE_CHECKING:
    from finsent.ml.models.lora.classifier import LoraClassifier

log = logging.getLogger(__name__)


def fit_lora(clf: LoraClassifier, texts: Sequence[str], labels: np.ndarray,
             valid: tuple[Sequence[str], np.ndarray] | None = None) -> None:
    """Train ``clf``'s adapter on ``texts``: the loop of the module docstring. With ``valid``, the
    adapter of the epoch with the lowest valid log-loss is kept (early stopping on valid, never test)."""
    import torch
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

    spec = clf.spec
    rng = random.Random(spec.seed)  # the same on every rank: ranks agree on the batch order
    torch.manual_seed(spec.seed)
    # Under `accelerate launch` / torchrun (WORLD_SIZE > 1) every rank trains on its share of the
    # batches and DDP averages the gradients; one process is the plain loop below.
    accelerator = None
    if distributed_world_size() > 1:
        from accelerate import Accelerator

        accelerator = Accelerator(cpu=clf.device == "cpu")
        clf.device = str(accelerator.device)
        log.info("distributed training: rank %d of %d on %s", accelerator.process_index,
                 accelerator.num_processes, clf.device)
    clf.tokenizer, base = clf._load_base()
    if spec.quantize == "4bit":
        base = prepare_model_for_kbit_training(base, use_gradient_checkpointing=spec.gradient_checkpointing)
    elif spec.gradient_checkpointing:
        base.gradient_checkpointing_enable()
        base.enable_input_require_grads()
    targets = "all-linear" if spec.target_modules == ["all-linear"] else spec.target_modules
    clf.model = get_peft_model(base, LoraConfig(r=spec.lora_r, lora_alpha=spec.lora_alpha,
                                                 lora_dropout=spec.lora_dropout, target_modules=targets,
                                                 task_type="CAUSAL_LM"))
    prefix_ids = clf.tokenizer(prefix(spec.prompt), add_special_tokens=False)["input_ids"]
    rows = clf._encode(texts)
    _, up_id, down_id = clf._answer_ids()
    classes = torch.tensor([up_id, down_id], device=clf.device)
    targets_t = torch.tensor([0 if y == 1 else 1 for y in labels], device=clf.device)  # index into classes
    steps_per_epoch = math.ceil(len(rows) / spec.batch_size)
    total = spec.max_steps or spec.epochs * steps_per_epoch
    params = [p for p in clf.model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=spec.lr, weight_decay=0.0)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / max(1, spec.warmup_steps)) * max(0.0, 1 - s / max(1, total)))
    step = _resume(clf, optimizer, schedule)
    if accelerator is not None:
        clf.model, optimizer = accelerator.prepare(clf.model, optimizer)
        if not spec.max_steps:  # an epoch is now shared: each optimizer step sees world x batch rows
            total = max(1, spec.epochs * (steps_per_epoch // accelerator.num_processes))
    clf.model.train()
    started, tokens, best = time.monotonic(), 0, None
    try:
        while step < total:
            batches = clf._batches([len(r) for r in rows], spec.batch_size, True, rng)
            if accelerator is not None:  # an equal share per rank, so every rank steps together
                world, rank = accelerator.num_processes, accelerator.process_index
                batches = batches[: len(batches) // world * world][rank::world]
            for batch in batches:
                if step >= total:
                    break
                with clf._autocast():
                    logits = clf._forward_last(prefix_ids, [rows[i] for i in batch])
                    loss = torch.nn.functional.cross_entropy(logits[:, classes].float(), targets_t[batch])
                if accelerator is not None:
                    accelerator.backward(loss)
                else:
                    loss.backward()
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                optimizer.step()
                schedule.step()
                optimizer.zero_grad(set_to_none=True)
                step += 1
                tokens += sum(len(prefix_ids) + len(rows[i]) for i in batch)
                if step % 20 == 0 or step == total:
                    rate = tokens / max(1e-9, time.monotonic() - started)
                    log.info("step %d/%d loss %.4f (%.0f tokens/s)", step, total, loss.item(), rate)
                if spec.checkpoint_dir and step % spec.save_every == 0 and distributed_rank() == 0:
                    _checkpoint(clf, optimizer, schedule, step)
            if valid is not None and accelerator is None:
                best = _keep_if_best(clf, valid, step, best)
    except torch.cuda.OutOfMemoryError:
        raise FinsentError("out of GPU memory: lower --batch-size, add --gradient-checkpointing, or use "
                           "--quantize 4bit") from None
    if accelerator is not None:
        accelerator.wait_for_everyone()
        clf.model = accelerator.unwrap_model(clf.model)
    if best is not None:
        from peft import set_peft_model_state_dict

        set_peft_model_state_dict(clf.model, best[2])
        clf.best_step = best[1]
        log.info("kept the adapter of step %d (valid log-loss %.4f)", best[1], best[0])
    clf.model.eval()


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


def _checkpoint(clf: LoraClassifier, optimizer, schedule, step: int) -> None:
    import torch

    directory = Path(clf.spec.checkpoint_dir)
    tmp = directory / "last.partial"
    getattr(clf.model, "module", clf.model).save_pretrained(tmp / "adapter")  # DDP wraps it in .module
    torch.save({"optimizer": optimizer.state_dict(), "schedule": schedule.state_dict(), "step": step},
               tmp / "state.pt")
    final = directory / "last"
    if final.exists():
        import shutil

        shutil.rmtree(final)
    tmp.rename(final)  # a checkpoint is either whole or absent
    log.info("checkpoint at step %d saved to %s", step, final)


def _resume(clf: LoraClassifier, optimizer, schedule) -> int:
    import torch
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    if not clf.spec.checkpoint_dir:
        return 0
    last = Path(clf.spec.checkpoint_dir) / "last"
    if not (last / "state.pt").is_file():
        return 0
    set_peft_model_state_dict(clf.model, load_file(str(last / "adapter" / "adapter_model.safetensors")))
    state = torch.load(last / "state.pt", map_location=clf.device, weights_only=False)
    optimizer.load_state_dict(state["optimizer"])
    schedule.load_state_dict(state["schedule"])
    log.info("resumed from %s at step %d", last, state["step"])
    return int(state["step"])
