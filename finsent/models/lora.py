"""A causal LM with a LoRA adapter, read as a classifier through two verbalizers.

The prompt (``study-2shot`` or ``zero-shot``) ends in "[정답]:"; the answer is " [상승]" or
" [하락]". Both share their first token(s); the model's logits for the first token where they
differ, after the shared part, give P(up) in one forward pass (no ``generate``). Training
minimises the cross-entropy of that two-way choice; the fixed prompt prefix is computed once at
inference and only the title and answer tokens run per post.

Short on purpose (nanoGPT style): one loop, length-grouped batches with dynamic padding, bf16
autocast on GPUs that have it, optional gradient checkpointing, resumable checkpoints, QLoRA via
bitsandbytes on CUDA.
"""

from __future__ import annotations

import copy
import logging
import math
import os
import random
import re
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from finsent.errors import ConfigError, FinsentError
from finsent.models.base import read_manifest, write_manifest
from finsent.models.prompts import ANSWERS, prefix, suffix

log = logging.getLogger(__name__)

DEFAULT_BASE_MODEL = "EleutherAI/polyglot-ko-1.3b"


@dataclass
class LoraSpec:
    base_model: str = DEFAULT_BASE_MODEL  # hub id or local directory
    prompt: str = "study-2shot"
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.05
    target_modules: list[str] = field(default_factory=lambda: ["query_key_value"])  # or ["all-linear"]
    epochs: int = 1
    batch_size: int = 16
    lr: float = 2e-4
    max_steps: int | None = None
    warmup_steps: int = 20
    max_title_tokens: int = 96
    quantize: str | None = None  # "4bit"
    device: str = "auto"  # auto | cpu | cuda
    gradient_checkpointing: bool = False
    checkpoint_dir: str | None = None  # resumable: adapter + optimizer every save_every steps
    save_every: int = 200
    seed: int = 0


def resolve_device(requested: str, quantize: str | None) -> str:
    import torch

    if requested not in ("auto", "cpu", "cuda"):
        raise ConfigError(f"--device must be auto, cpu or cuda, got {requested!r}")
    has_cuda = torch.cuda.is_available()
    if requested == "cuda" and not has_cuda:
        raise ConfigError("--device cuda was asked for but no CUDA device is visible; use --device cpu "
                          "or run on a GPU machine")
    device = "cuda" if requested == "cuda" or (requested == "auto" and has_cuda) else "cpu"
    if quantize not in (None, "4bit"):
        raise ConfigError(f"--quantize must be 4bit, got {quantize!r}")
    if quantize == "4bit" and device != "cuda":
        raise ConfigError("--quantize 4bit needs CUDA (bitsandbytes); drop it to train in full precision on CPU")
    return device


def distributed_world_size() -> int:
    """Processes in this training job (accelerate launch / torchrun set WORLD_SIZE)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def distributed_rank() -> int:
    return int(os.environ.get("RANK", "0"))


_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def check_base_model(reference: str) -> None:
    """A local directory, or something shaped like a hub id (owner/name); anything else is a typo."""
    if Path(reference).expanduser().is_dir():
        return
    if reference.startswith(("/", ".", "~")) or not _HUB_ID.match(reference):
        raise ConfigError(f"--base-model {reference!r} is neither a local model directory nor a hub id "
                          "(owner/name)")


class LoraClassifier:
    kind = "lora"

    def __init__(self, spec: LoraSpec, *, base_path: str | None = None) -> None:
        self.spec = spec
        self.base_path = base_path or spec.base_model
        self.device = resolve_device(spec.device, spec.quantize)
        check_base_model(self.base_path)
        self.model = None
        self.tokenizer = None

    # -- model ------------------------------------------------------------------------------------

    def _load_base(self):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        try:
            tokenizer = AutoTokenizer.from_pretrained(self.base_path)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"--base-model {self.base_path!r} is not a loadable model: {exc}") from None
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        kwargs: dict = {}
        if self.spec.quantize == "4bit":
            from transformers import BitsAndBytesConfig

            kwargs["quantization_config"] = BitsAndBytesConfig(
                load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                bnb_4bit_compute_dtype=torch.bfloat16)
            kwargs["device_map"] = {"": torch.device(self.device).index or 0}  # this rank's GPU
        try:
            model = AutoModelForCausalLM.from_pretrained(self.base_path, **kwargs)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"--base-model {self.base_path!r} is not a loadable causal LM: {exc}") from None
        if self.spec.quantize != "4bit":
            model.to(self.device)
        return tokenizer, model

    def _answer_ids(self) -> tuple[list[int], int, int]:
        """(shared answer prefix ids, first differing id of up, of down)."""
        up, down = (self.tokenizer(a, add_special_tokens=False)["input_ids"] for a in ANSWERS)
        shared = 0
        while shared < min(len(up), len(down)) and up[shared] == down[shared]:
            shared += 1
        if shared >= min(len(up), len(down)):
            raise FinsentError("the tokenizer cannot tell the verbalizers apart")
        return up[:shared], up[shared], down[shared]

    def _encode(self, titles: Sequence[str]) -> list[list[int]]:
        """Per post: title + answer cue + shared answer tokens (the prefix is added separately)."""
        shared, _, _ = self._answer_ids()
        encoded = self.tokenizer([suffix(t) for t in titles], add_special_tokens=False)["input_ids"]
        limit = self.spec.max_title_tokens
        return [ids[-limit:] + shared for ids in encoded]

    def _batches(self, lengths: list[int], batch_size: int, shuffle: bool, rng: random.Random) -> list[list[int]]:
        """Length-grouped batches: sort within chunks of 50 batches, so padding stays small."""
        order = list(range(len(lengths)))
        if shuffle:
            rng.shuffle(order)
        chunk = batch_size * 50
        batches = []
        for start in range(0, len(order), chunk):
            part = sorted(order[start:start + chunk], key=lambda i: lengths[i])
            batches += [part[i:i + batch_size] for i in range(0, len(part), batch_size)]
        if shuffle:
            rng.shuffle(batches)
        return batches

    def _forward_last(self, prefix_ids: list[int], rows: list[list[int]], prefix_cache=None):
        """Logits at each row's last token, for prompt prefix + row; right padding."""
        import torch

        pad = self.tokenizer.pad_token_id
        width = max(len(r) for r in rows)
        ids = torch.full((len(rows), width), pad, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, row in enumerate(rows):
            ids[i, :len(row)] = torch.tensor(row)
            mask[i, :len(row)] = 1
        last = torch.tensor([len(r) - 1 for r in rows], device=self.device)
        ids, mask = ids.to(self.device), mask.to(self.device)
        n_prefix = len(prefix_ids)
        if prefix_cache is not None:
            cache = copy.deepcopy(prefix_cache)
            cache.batch_repeat_interleave(len(rows))
            full_mask = torch.cat([torch.ones((len(rows), n_prefix), dtype=torch.long, device=self.device), mask], 1)
            out = self.model(input_ids=ids, attention_mask=full_mask, cache=cache, use_cache=True)
            logits = out.logits
        else:
            prefix_t = torch.tensor(prefix_ids, device=self.device).expand(len(rows), -1)
            full_ids = torch.cat([prefix_t, ids], 1)
            full_mask = torch.cat([torch.ones_like(prefix_t), mask], 1)
            logits = self.model(input_ids=full_ids, attention_mask=full_mask).logits[:, n_prefix:]
        return logits[torch.arange(len(rows), device=self.device), last]

    def _autocast(self):
        import contextlib

        import torch

        if self.device.startswith("cuda") and torch.cuda.is_bf16_supported():
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    # -- training -----------------------------------------------------------------------------------

    def fit(self, texts: Sequence[str], labels: np.ndarray) -> None:
        import torch
        from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

        spec = self.spec
        rng = random.Random(spec.seed)  # the same on every rank: ranks agree on the batch order
        torch.manual_seed(spec.seed)
        # Under `accelerate launch` / torchrun (WORLD_SIZE > 1) every rank trains on its share of the
        # batches and DDP averages the gradients; one process is the plain loop below.
        accelerator = None
        if distributed_world_size() > 1:
            from accelerate import Accelerator

            accelerator = Accelerator(cpu=self.device == "cpu")
            self.device = str(accelerator.device)
            log.info("distributed training: rank %d of %d on %s", accelerator.process_index,
                     accelerator.num_processes, self.device)
        self.tokenizer, base = self._load_base()
        if spec.quantize == "4bit":
            base = prepare_model_for_kbit_training(base, use_gradient_checkpointing=spec.gradient_checkpointing)
        elif spec.gradient_checkpointing:
            base.gradient_checkpointing_enable()
            base.enable_input_require_grads()
        targets = "all-linear" if spec.target_modules == ["all-linear"] else spec.target_modules
        self.model = get_peft_model(base, LoraConfig(r=spec.lora_r, lora_alpha=spec.lora_alpha,
                                                     lora_dropout=spec.lora_dropout, target_modules=targets,
                                                     task_type="CAUSAL_LM"))
        prefix_ids = self.tokenizer(prefix(spec.prompt), add_special_tokens=False)["input_ids"]
        rows = self._encode(texts)
        _, up_id, down_id = self._answer_ids()
        classes = torch.tensor([up_id, down_id], device=self.device)
        targets_t = torch.tensor([0 if y == 1 else 1 for y in labels], device=self.device)  # index into classes
        steps_per_epoch = math.ceil(len(rows) / spec.batch_size)
        total = spec.max_steps or spec.epochs * steps_per_epoch
        params = [p for p in self.model.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(params, lr=spec.lr, weight_decay=0.0)
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda s: min(1.0, (s + 1) / max(1, spec.warmup_steps)) * max(0.0, 1 - s / max(1, total)))
        step = self._resume(optimizer, schedule)
        if accelerator is not None:
            self.model, optimizer = accelerator.prepare(self.model, optimizer)
            if not spec.max_steps:  # an epoch is now shared: each optimizer step sees world x batch rows
                total = max(1, spec.epochs * (steps_per_epoch // accelerator.num_processes))
        self.model.train()
        started, tokens = time.monotonic(), 0
        try:
            while step < total:
                batches = self._batches([len(r) for r in rows], spec.batch_size, True, rng)
                if accelerator is not None:  # an equal share per rank, so every rank steps together
                    world, rank = accelerator.num_processes, accelerator.process_index
                    batches = batches[: len(batches) // world * world][rank::world]
                for batch in batches:
                    if step >= total:
                        break
                    with self._autocast():
                        logits = self._forward_last(prefix_ids, [rows[i] for i in batch])
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
                        self._checkpoint(optimizer, schedule, step)
        except torch.cuda.OutOfMemoryError:
            raise FinsentError("out of GPU memory: lower --batch-size, add --gradient-checkpointing, or use "
                               "--quantize 4bit") from None
        if accelerator is not None:
            accelerator.wait_for_everyone()
            self.model = accelerator.unwrap_model(self.model)
        self.model.eval()

    def _checkpoint(self, optimizer, schedule, step: int) -> None:
        import torch

        directory = Path(self.spec.checkpoint_dir)
        tmp = directory / "last.partial"
        getattr(self.model, "module", self.model).save_pretrained(tmp / "adapter")  # DDP wraps it in .module
        torch.save({"optimizer": optimizer.state_dict(), "schedule": schedule.state_dict(), "step": step},
                   tmp / "state.pt")
        final = directory / "last"
        if final.exists():
            import shutil

            shutil.rmtree(final)
        tmp.rename(final)  # a checkpoint is either whole or absent
        log.info("checkpoint at step %d saved to %s", step, final)

    def _resume(self, optimizer, schedule) -> int:
        import torch
        from peft import set_peft_model_state_dict
        from safetensors.torch import load_file

        if not self.spec.checkpoint_dir:
            return 0
        last = Path(self.spec.checkpoint_dir) / "last"
        if not (last / "state.pt").is_file():
            return 0
        set_peft_model_state_dict(self.model, load_file(str(last / "adapter" / "adapter_model.safetensors")))
        state = torch.load(last / "state.pt", map_location=self.device, weights_only=False)
        optimizer.load_state_dict(state["optimizer"])
        schedule.load_state_dict(state["schedule"])
        log.info("resumed from %s at step %d", last, state["step"])
        return int(state["step"])

    # -- inference ----------------------------------------------------------------------------------

    def predict_proba(self, texts: Sequence[str], batch_size: int = 64, use_prefix_cache: bool = True) -> np.ndarray:
        import torch

        if self.model is None:
            raise FinsentError("the model is not trained or loaded")
        prefix_ids = self.tokenizer(prefix(self.spec.prompt), add_special_tokens=False)["input_ids"]
        rows = self._encode(texts)
        _, up_id, down_id = self._answer_ids()
        out = np.zeros(len(rows), dtype=np.float64)
        with torch.inference_mode(), self._autocast():
            cache = None
            if use_prefix_cache:
                cache = self.model(input_ids=torch.tensor([prefix_ids], device=self.device),
                                   use_cache=True).cache
            for batch in self._batches([len(r) for r in rows], batch_size, False, random.Random(0)):
                logits = self._forward_last(prefix_ids, [rows[i] for i in batch], cache).float()
                pair = torch.log_softmax(logits[:, [up_id, down_id]], dim=-1)
                out[batch] = pair[:, 0].exp().cpu().numpy()
        return out

    # -- persistence --------------------------------------------------------------------------------

    def save(self, directory: Path, *, bundle_base: bool | None = None) -> None:
        """Adapter, tokenizer and a manifest. The base model is copied in when it is a small local
        directory (or ``bundle_base``), else referenced by its local path, so loading needs no hub."""
        import shutil

        directory.mkdir(parents=True, exist_ok=True)
        self.model.save_pretrained(directory / "adapter")
        self.tokenizer.save_pretrained(directory / "tokenizer")
        base = Path(self.base_path)
        if bundle_base is None:
            bundle_base = base.is_dir() and sum(f.stat().st_size for f in base.rglob("*") if f.is_file()) < 500e6
        if bundle_base:
            if not base.is_dir():
                raise FinsentError(f"cannot bundle base model {self.base_path!r}: not a local directory")
            shutil.copytree(base, directory / "base", dirs_exist_ok=True)
            base_ref = "base"
        else:
            base_ref = str(self._local_base_path())
        spec = asdict(self.spec)
        write_manifest(directory, self.kind, spec=spec, base=base_ref, bundled=bool(bundle_base))

    def _local_base_path(self) -> Path:
        if Path(self.base_path).is_dir():
            return Path(self.base_path).resolve()
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(self.base_path, local_files_only=True))

    @classmethod
    def load(cls, directory: Path, device: str = "auto") -> "LoraClassifier":
        from peft import PeftModel
        from transformers import AutoModelForCausalLM, AutoTokenizer

        manifest = read_manifest(directory)
        spec = LoraSpec(**{**manifest["spec"], "device": device, "quantize": None, "checkpoint_dir": None})
        base = directory / manifest["base"] if manifest["bundled"] else Path(manifest["base"])
        if not base.is_dir():
            raise FinsentError(f"{directory}: its base model {base} is not on this machine")
        model = cls(spec, base_path=str(base))
        model.tokenizer = AutoTokenizer.from_pretrained(directory / "tokenizer")
        base_model = AutoModelForCausalLM.from_pretrained(base).to(model.device)
        model.model = PeftModel.from_pretrained(base_model, directory / "adapter").to(model.device)
        model.model.eval()
        return model
