"""What a transformers model is (``TransformerSpec``: its base, prompt, adapter and training settings)
and where it runs. One spec serves every kind that reads a Hugging Face checkpoint (``lora``,
``encoder``, ``prompt``: ``finsent.ml.models.kinds``); options a kind does not use are ignored by
it. Options left unset (None) take the kind's or the base's default (``resolved``: the catalogue).
Standard library only: the DAG files import it."""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from finsent.errors import ConfigError
from finsent.ml.models.prompts import PROMPT_CHOICES
from finsent.specs import check_fields, from_values, option

DTYPES = ("auto", "bfloat16", "float16", "float32")
FINETUNE = ("lora", "full")
_LAYER_NAME = re.compile(r"[A-Za-z_][\w.]*")


def parse_layer_names(text: str) -> tuple[str, ...]:
    """``--lora-targets q_proj,v_proj``: layer names (module name suffixes) of the base model."""
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    bad = [n for n in names if _LAYER_NAME.fullmatch(n) is None]
    if not names or bad:
        raise ConfigError(f"--lora-targets must be a comma-separated list of layer names (q_proj,v_proj), got {text!r}")
    return names


@dataclass(frozen=True)
class TransformerSpec:
    """A transformers model and how it trains; the options (``finsent.specs``) are what `finsent train`,
    `finsent backtest` and the train and backtest DAGs offer for --model lora, encoder and prompt."""

    base_model: str | None = option(None, "a name from `finsent model list`, a hub id (owner/name) or a local "
                                    "directory; default: the kind's (lora and prompt: kanana-1.5-2.1b, encoder: "
                                    "kf-deberta-base)")
    trust_remote_code: bool = option(False, "let transformers run Python code shipped with the base model (only "
                                     "for architectures transformers does not know; read that code first)")
    prompt: str = option("study-2shot", "lora, prompt: the prompt the titles are put in (k-shot: --shots examples "
                         "drawn from the train part)", choices=PROMPT_CHOICES)
    shots: int = option(4, "examples in a k-shot prompt, half up and half down", minimum=2, maximum=32)
    finetune: str = option("lora", "encoder: a LoRA adapter, or full fine-tuning of every weight", choices=FINETUNE)
    lora_r: int = option(8, "LoRA rank", minimum=1)
    lora_alpha: int = 16
    lora_dropout: float = 0.05
    lora_targets: tuple[str, ...] = option((), "layers to put LoRA on, by name (default: the architecture's "
                                           "attention projections, `finsent model list --targets`)",
                                           text=parse_layer_names)
    all_linear: bool = option(False, "LoRA on the MLP too: every linear layer of the architecture")
    epochs: int = option(1, "passes over the train part", minimum=1)
    batch_size: int | None = option(None, "titles per optimizer step (default: the base's in `finsent model list`, "
                                    "else 16)", minimum=1)
    lr: float | None = option(None, "learning rate (default 2e-4 for LoRA, 3e-5 for full fine-tuning)", minimum=0,
                              maximum=1, exclusive_minimum=True)
    max_steps: int | None = option(None, "stop after N optimizer steps", minimum=1)
    warmup_steps: int = 20
    max_title_tokens: int = 96
    quantize: str | None = option(None, "QLoRA: a 4-bit base (bitsandbytes; CUDA only; causal LMs)",
                                  choices=("4bit",))
    device: str = option("auto", "where to train: auto = cuda when visible", choices=("auto", "cpu", "cuda"))
    dtype: str = option("auto", "compute dtype: auto = bfloat16 on GPUs that have it, float16 (with loss scaling) "
                        "on older GPUs, float32 on CPUs; LoRA weights stay float32", choices=DTYPES)
    gradient_checkpointing: bool = option(False, "recompute activations in the backward pass (less GPU memory)")
    checkpoint_dir: str | None = option(None, "save resumable checkpoints here and resume from them (a checkpoint "
                                        "of another spec or snapshot is refused; removed when training ends)")
    save_every: int = option(200, "checkpoint every N optimizer steps", minimum=1)
    seed: int = option(0, "random seed (a backtest step trains with seed + step)")

    def validate(self) -> None:
        check_fields(self)
        if self.lora_targets and self.all_linear:
            raise ConfigError("--lora-targets and --all-linear both name the layers: give one")

    @classmethod
    def from_options(cls, **options: Any) -> "TransformerSpec":
        """A spec from option values (``finsent.specs.from_values``): unset (None) options keep
        their defaults."""
        spec: TransformerSpec = from_values(cls, {k: v for k, v in options.items() if v is not None})
        return spec

    @classmethod
    def from_saved(cls, saved: dict[str, Any], **overrides: Any) -> "TransformerSpec":
        """The spec a manifest recorded (``dataclasses.asdict``), with ``overrides``. A manifest of
        an older finsent named its LoRA layers ``target_modules`` (["all-linear"] for all)."""
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in saved.items() if k in known}
        old = saved.get("target_modules")
        if old and "lora_targets" not in saved:
            values.update({"all_linear": True} if old == ["all-linear"] else {"lora_targets": tuple(old)})
        values["lora_targets"] = tuple(values.get("lora_targets") or ())
        return cls(**{**values, **overrides})

    def resolved(self, kind: str) -> "TransformerSpec":
        """The spec with every default of ``kind`` and its base filled in (``catalogue.resolve``)."""
        from finsent.ml.models.catalogue import resolve

        resolved: TransformerSpec = resolve(self, kind)
        return resolved


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
    if quantize == "4bit" and importlib.util.find_spec("bitsandbytes") is None:
        raise ConfigError("--quantize 4bit needs bitsandbytes, which is not installed: pip install 'finsent[gpu]'")
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


def autocast(device: str, dtype: str) -> contextlib.AbstractContextManager:
    """Matmuls in the compute dtype (see ``resolve_dtype``); float32 needs no autocast."""
    import torch

    if dtype == "float32":
        return contextlib.nullcontext()
    context: contextlib.AbstractContextManager = torch.autocast("cuda" if device.startswith("cuda") else "cpu",
                                                                dtype=getattr(torch, dtype))
    return context


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
