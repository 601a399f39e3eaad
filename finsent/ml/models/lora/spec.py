"""What a LoRA model is: its spec (base, prompt, adapter and training settings) and where it runs."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from finsent.errors import ConfigError
from finsent.specs import check_fields, from_values, option

DEFAULT_BASE_MODEL = "EleutherAI/polyglot-ko-1.3b"


DTYPES = ("auto", "bfloat16", "float16", "float32")


@dataclass(frozen=True)
class LoraSpec:
    """A LoRA model and how it trains; the options (``finsent.specs``) are what `finsent train`,
    `finsent backtest` and the train and backtest DAGs offer."""

    base_model: str = option(DEFAULT_BASE_MODEL, "hub id or local directory of a GPT-NeoX/Llama-style causal LM (lora)")
    prompt: str = option("study-2shot", "the prompt the titles are put in", choices=("study-2shot", "zero-shot"))
    lora_r: int = option(8, "LoRA rank", minimum=1)
    lora_alpha: int = 16
    lora_dropout: float = 0.05
    target_modules: list[str] = field(default_factory=lambda: ["query_key_value"])  # or ["all-linear"]
    all_linear: bool = option(False, "LoRA on all linear layers, not only query_key_value")
    epochs: int = option(1, "passes over the train part", minimum=1)
    batch_size: int = option(16, "titles per optimizer step", minimum=1)
    lr: float = option(2e-4, "learning rate", minimum=0, maximum=1, exclusive_minimum=True)
    max_steps: int | None = option(None, "stop after N optimizer steps", minimum=1)
    warmup_steps: int = 20
    max_title_tokens: int = 96
    quantize: str | None = option(None, "QLoRA (bitsandbytes 4-bit; CUDA only)", choices=("4bit",))
    device: str = option("auto", "where to train: auto = cuda when visible", choices=("auto", "cpu", "cuda"))
    dtype: str = option("auto", "compute dtype: auto = bfloat16 on GPUs that have it, float16 (with loss scaling) "
                        "on older GPUs, float32 on CPUs; LoRA weights stay float32", choices=DTYPES)
    gradient_checkpointing: bool = option(False, "recompute activations in the backward pass (less GPU memory)")
    checkpoint_dir: str | None = option(None, "save resumable checkpoints here and resume from them (a checkpoint "
                                        "of another spec or snapshot is refused; removed when training ends)")
    save_every: int = option(200, "checkpoint every N optimizer steps", minimum=1)
    seed: int = option(0, "random seed (a backtest step trains with seed + step)")

    def __post_init__(self) -> None:
        if self.all_linear and self.target_modules != ["all-linear"]:
            object.__setattr__(self, "target_modules", ["all-linear"])

    def validate(self) -> None:
        check_fields(self)

    @classmethod
    def from_options(cls, **options: Any) -> "LoraSpec":
        """A spec from option values (``finsent.specs.from_values``): unset (None) options keep
        their defaults."""
        spec: LoraSpec = from_values(cls, {k: v for k, v in options.items() if v is not None})
        return spec


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
