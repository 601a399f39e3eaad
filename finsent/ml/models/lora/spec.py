"""What a LoRA model is: its spec (base, prompt, adapter and training settings) and where it runs."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from finsent.errors import ConfigError

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
    dtype: str = "auto"  # auto | bfloat16 | float16 | float32: the compute dtype (see resolve_dtype)
    gradient_checkpointing: bool = False
    checkpoint_dir: str | None = None  # resumable: adapter, optimizer, RNGs, position every save_every steps
    save_every: int = 200
    seed: int = 0

    @classmethod
    def from_options(cls, *, all_linear: bool = False, **options: Any) -> "LoraSpec":
        """A spec from CLI/DAG options: unset (None) options keep their defaults."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise ConfigError(f"unknown LoRA option(s): {', '.join(unknown)}")
        values = {k: v for k, v in options.items() if v is not None}
        if all_linear:
            values["target_modules"] = ["all-linear"]
        return cls(**values)


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


DTYPES = ("auto", "bfloat16", "float16", "float32")


def resolve_dtype(requested: str, device: str) -> str:
    """The compute dtype. auto: bfloat16 on a GPU that has it, float16 on an older GPU (with a
    GradScaler in training), float32 on a CPU. The frozen base weights are loaded in this dtype;
    the LoRA weights (what the optimizer updates) stay float32 whatever it is."""
    import torch

    if requested not in DTYPES:
        raise ConfigError(f"--dtype must be one of {', '.join(DTYPES)}, got {requested!r}")
    if requested != "auto":
        if requested == "float16" and not device.startswith("cuda"):
            raise ConfigError("--dtype float16 needs CUDA (CPUs compute float16 slowly and inexactly); "
                              "use float32 or bfloat16 on a CPU")
        return requested
    if device.startswith("cuda"):
        return "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
    return "float32"


def distributed_world_size() -> int:
    """Processes in this training job (accelerate launch / torchrun set WORLD_SIZE)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def distributed_rank() -> int:
    return int(os.environ.get("RANK", "0"))


_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")  # fullmatch: "$" passes a newline


def check_base_model(reference: str) -> None:
    """A local directory, or something shaped like a hub id (owner/name); anything else is a typo."""
    if Path(reference).expanduser().is_dir():
        return
    if reference.startswith(("/", ".", "~")) or _HUB_ID.fullmatch(reference) is None:
        raise ConfigError(f"--base-model {reference!r} is neither a local model directory nor a hub id "
                          "(owner/name)")
